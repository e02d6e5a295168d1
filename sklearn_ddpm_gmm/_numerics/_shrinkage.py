"""Ledoit-Wolf shrinkage of a covariance estimated from the observed entries of rows with holes."""

from __future__ import annotations

import numpy as np


def observed_ledoit_wolf(X: np.ndarray) -> tuple[float, float]:
    """Ledoit & Wolf's (2004) shrinkage intensity towards ``mu I``, from the
    entries of X that are observed (not NaN).

    Each covariance ``S_jl`` and the variance of its products ``x_j x_l``
    come from the rows where both columns are observed (``n_jl`` of them):
    ``beta^2 = sum_jl var(x_j x_l) / n_jl`` is the variance of S's entries,
    ``delta^2 = ||S - mu I||_F^2`` their spread around the target, and the
    intensity is ``min(1, beta^2 / delta^2)``. With every entry observed this
    is scikit-learn's ``ledoit_wolf_shrinkage``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        NaN where missing; every column observed in some row (a pair of
        columns never observed together counts as uncorrelated).

    Returns
    -------
    shrinkage : float
        In [0, 1].
    mu : float
        The target's variance: the mean of the observed variances.
    """
    observed = ~np.isnan(X)
    centred = np.where(observed, X - np.nanmean(X, axis=0), 0.0)
    counts = np.maximum(observed.T.astype(float) @ observed, 1.0)
    covariance = centred.T @ centred / counts
    squared = centred * centred
    product_variance = squared.T @ squared / counts - covariance * covariance
    mu = float(np.trace(covariance)) / len(covariance)
    spread = float(np.sum((covariance - mu * np.eye(len(covariance))) ** 2))
    if spread == 0.0:  # S is the target already: nothing to shrink
        return 0.0, mu
    return min(1.0, float(np.sum(product_variance / counts)) / spread), mu
