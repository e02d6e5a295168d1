"""Counts that say how the package is laid out (the redesign issue's measures).

    python benchmarks/architecture_counts.py [PACKAGE_DIR]

- functions below the estimators that take a raw ``covariance_type`` parameter
  (the public ``objective`` module and the estimator classes excluded);
- private functions (in a module or subpackage whose name starts with ``_``)
  with more than four positional parameters (``self``/``cls`` not counted);
- classes that hold a mixture's parameters (a ``weights`` and a ``means``
  field or method);
- package lines, modules and subpackages.
"""

import ast
import sys
from pathlib import Path

ESTIMATOR_CLASSES = {"DDPMGaussianMixture", "DDPMGaussianMixtureIC", "DiffusionMixtureSampler"}


def _functions(tree):
    """(qualified name, node, enclosing class) for every function."""
    out = []

    def visit(node, owner):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, child.name)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.append((f"{owner + '.' if owner else ''}{child.name}", child, owner))
                visit(child, owner)
    visit(tree, None)
    return out


def _positional(node, owner):
    args = node.args.posonlyargs + node.args.args
    if owner and args and args[0].arg in ("self", "cls"):
        args = args[1:]
    return [a.arg for a in args]


def main(package):
    package = Path(package)
    raw_type, long_lists, containers = [], [], []
    lines = modules = 0
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        text = path.read_text()
        lines += len(text.splitlines())
        modules += 1
        private = any(part.startswith("_") and part != "__init__.py" for part in rel.parts)
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                fields = {t.target.id for t in node.body if isinstance(t, ast.AnnAssign)
                          and isinstance(t.target, ast.Name)}
                fields |= {t.name for t in node.body if isinstance(t, ast.FunctionDef)}
                if {"weights", "means"} <= fields or {"weights", "means"} <= {
                        f.removesuffix("_") for f in fields}:
                    containers.append(f"{rel}:{node.name}")
        for name, node, owner in _functions(tree):
            params = _positional(node, owner) + [a.arg for a in node.args.kwonlyargs]
            if ("covariance_type" in params and private and owner not in ESTIMATOR_CLASSES):
                raw_type.append(f"{rel}:{name}")
            if private and len(_positional(node, owner)) > 4:
                long_lists.append(f"{rel}:{name} ({len(_positional(node, owner))})")
    subpackages = sum(1 for p in package.rglob("__init__.py")) - 1
    print(f"package lines: {lines} in {modules} modules, {subpackages} subpackages")
    print(f"mixture parameter containers: {len(containers)}")
    for item in containers:
        print(f"    {item}")
    print(f"private functions taking a raw covariance_type: {len(raw_type)}")
    for item in raw_type:
        print(f"    {item}")
    print(f"private functions with more than four positional parameters: {len(long_lists)}")
    for item in long_lists:
        print(f"    {item}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[1] / "sklearn_ddpm_gmm")
