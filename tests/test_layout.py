"""The package's structure: its modules import one another without cycles, the
subpackages are layered (numerics < core < DDPM machinery < estimators and
their pipelines < sampler), and the estimator reaches the algorithm only
through the fitting pipelines."""

import ast
from pathlib import Path

import sklearn_ddpm_gmm

PACKAGE = Path(sklearn_ddpm_gmm.__file__).parent

# Each subpackage may import from the ones before it, never after.
LAYERS = ("_numerics", "_core", "_ddpm", "_mixture", "_sampler")


def _module_name(path):
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(module, node):
    """Dotted name (relative to the package) that an ImportFrom node imports."""
    package = module.split(".")[:-1] if module else []
    base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
    return ".".join(base + ([node.module] if node.module else []))


def _imports():
    """{module: set of package modules it imports}, names relative to the package."""
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        module = _module_name(path)
        if path.name == "__init__.py":
            module = module + ".__init__" if module else "__init__"
        tree = ast.parse(path.read_text())
        graph[module] = {_resolve(module, node) for node in ast.walk(tree)
                         if isinstance(node, ast.ImportFrom) and node.level >= 1}
    return graph


def _layer(module):
    top = module.split(".")[0]
    return LAYERS.index(top) if top in LAYERS else len(LAYERS)


def test_every_module_lives_in_a_subpackage_or_is_public():
    flat = {path.stem for path in PACKAGE.glob("*.py")}
    assert flat <= {"__init__", "__main__", "_demo", "objective", "datasets", "metrics"}


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


def test_subpackages_import_only_the_layers_below():
    for module, imported in _imports().items():
        for target in imported:
            if module.split(".")[0] in LAYERS:
                assert _layer(target) <= _layer(module), f"{module} imports {target}"


def test_the_core_imports_nothing_from_the_ddpm_machinery_or_the_sampler():
    for module, imported in _imports().items():
        if module.startswith("_core"):
            assert not {t.split(".")[0] for t in imported} & {"_ddpm", "_sampler",
                                                               "_mixture"}, module


def test_the_estimator_calls_the_pipelines_not_the_phases():
    imported = _imports()["_mixture._estimator"]
    assert {"_mixture._fit", "_mixture._single_level"} <= imported
    assert not {t for t in imported if t.startswith("_ddpm.")} - {"_ddpm._history"}


# scikit-learn's private names the package may import: the parameter
# validation that scikit-learn-compatible estimators and functions use
# (``_parameter_constraints``, ``validate_params``), which has no public home.
_SANCTIONED_PRIVATE = {("sklearn.base", "_fit_context"),
                       ("sklearn.utils._param_validation", "Interval"),
                       ("sklearn.utils._param_validation", "StrOptions"),
                       ("sklearn.utils._param_validation", "validate_params")}


def test_no_private_numpy_scipy_or_scikit_learn_imports():
    """Only public APIs of numpy, scipy and scikit-learn, beside the
    parameter validation above: a private module or name is neither."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                module = node.module or ""
                if module.split(".")[0] not in ("numpy", "scipy", "sklearn"):
                    continue
                for alias in node.names:
                    private = (alias.name.startswith("_")
                               or any(part.startswith("_") for part in module.split(".")))
                    if private and (module, alias.name) not in _SANCTIONED_PRIVATE:
                        found.append(f"{path.name}: from {module} import {alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] in ("numpy", "scipy", "sklearn") and any(
                            part.startswith("_") for part in parts):
                        found.append(f"{path.name}: import {alias.name}")
    assert not found, found
