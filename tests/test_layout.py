"""The package's structure: its modules import one another without cycles, and
the estimator reaches the algorithm only through the fitting pipelines."""

import ast
from pathlib import Path

import sklearn_ddpm_gmm

PACKAGE = Path(sklearn_ddpm_gmm.__file__).parent


def _imports():
    """{module: set of package modules it imports}."""
    graph = {}
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        graph[path.stem] = {node.module for node in ast.walk(tree)
                            if isinstance(node, ast.ImportFrom) and node.level == 1
                            and node.module}
    return graph


def test_no_import_cycles():
    graph = _imports()
    done, active = set(), []

    def visit(module):
        assert module not in active, f"import cycle: {' -> '.join(active + [module])}"
        if module in done:
            return
        active.append(module)
        for imported in graph.get(module, ()):
            visit(imported)
        active.pop()
        done.add(module)

    for module in graph:
        visit(module)


def test_the_estimator_calls_the_pipelines_not_the_phases():
    imported = _imports()["_ddpm_gmm"]
    assert {"_fit", "_single_level"} <= imported
    assert not imported & {"_optim", "_schedule", "_objective", "_score_model",
                           "_initialisation"}
