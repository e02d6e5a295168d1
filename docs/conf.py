"""Sphinx configuration of the sklearn_ddpm_gmm documentation.

Build from the repository root (see the README):

    pip install -e ".[docs]"
    python -m sphinx -W --keep-going -b html docs docs/_build/html

sphinx-gallery runs every ``examples/plot_*.py`` during the build.
"""

import os
import sys
import warnings

import sklearn_ddpm_gmm

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "sphinxext"))

project = "sklearn_ddpm_gmm"
author = "sklearn_ddpm_gmm developers"
copyright = "sklearn_ddpm_gmm developers"
version = release = sklearn_ddpm_gmm.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
default_role = "literal"

# ----------------------------------------------------------- API reference
autosummary_generate = True
# Only what the package defines: the methods inherited from scikit-learn's
# BaseEstimator (get_params, set_params, ...) are documented by scikit-learn.
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = True
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
# Every documented function, class and method must have an Examples section
# (EX01; pytest runs them as doctests). The module pages only introduce them.
numpydoc_validation_checks = {"EX01"}
# scikit-learn generates set_*_request for metadata routing (sample_weight);
# its docstrings point at scikit-learn's own glossary.
numpydoc_validation_exclude = {r"^sklearn_ddpm_gmm\.(datasets|metrics)$", r"\.set_\w+_request$"}

# ----------------------------------------------------------------- gallery
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Execute every plot_*.py (the default pattern matches the same files; it
    # is spelled out so that no example is skipped silently).
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "gallery_order.ExampleOrder",
    "doc_module": ("sklearn_ddpm_gmm",),
    "backreferences_dir": os.path.join("gen_modules", "backreferences"),
    "reference_url": {"sklearn_ddpm_gmm": None},
    "min_reported_time": 0,
    "show_memory": False,
    "remove_config_comments": True,
}

# Matplotlib must not try to open windows while the examples run.
os.environ.setdefault("MPLBACKEND", "agg")
warnings.filterwarnings(
    "ignore", category=UserWarning,
    message="Matplotlib is currently using agg, which is a non-GUI backend",
)

# -------------------------------------------------------------------- HTML
html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
html_title = f"sklearn_ddpm_gmm {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_sidebars = {"index": []}
