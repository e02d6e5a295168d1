"""Helpers shared by the benchmark scripts (run them from the repository root)."""

import time
import warnings

from sklearn.exceptions import ConvergenceWarning


def timed_fit(model, X):
    """Fit ``model`` on X, silencing ConvergenceWarning; return it and the seconds taken."""
    tic = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)
    return model, time.perf_counter() - tic
