"""Synthetic mixtures with known parameters, for tests, examples and benchmarks."""

import numpy as np
from sklearn.utils import check_random_state


def make_symmetric_mixture(n_samples, n_features, mean_norm=1.0, random_state=None):
    """Draw from ``0.5 N(mu, I) + 0.5 N(-mu, I)`` with ``|mu| = mean_norm``.

    The setting of Shah, Chen & Klivans' random-initialisation theorem.

    Parameters
    ----------
    n_samples, n_features : int
    mean_norm : float, default=1.0
    random_state : int, RandomState instance or None

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Component of each sample (0 for +mu, 1 for -mu).
    means : ndarray of shape (2, n_features)
        ``[mu, -mu]``.

    Examples
    --------
    >>> from sklearn_ddpm_gmm.datasets import make_symmetric_mixture
    >>> X, y, means = make_symmetric_mixture(100, 3, random_state=0)
    >>> X.shape, means.shape
    ((100, 3), (2, 3))
    """
    rng = check_random_state(random_state)
    mu = rng.standard_normal(n_features)
    mu *= mean_norm / np.linalg.norm(mu)
    means = np.stack([mu, -mu])
    y = rng.randint(0, 2, n_samples)
    X = means[y] + rng.standard_normal((n_samples, n_features))
    return X, y, means


def make_separated_mixture(n_samples, n_features, n_components, separation=None,
                           random_state=None):
    """Draw from an equal-weight mixture of unit-variance spherical Gaussians.

    Means are Gaussian draws rescaled so that the smallest pairwise distance is
    ``separation`` (default ``3 sqrt(log K)``, the paper's warm-start regime).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    means : ndarray of shape (n_components, n_features)

    Examples
    --------
    >>> from sklearn_ddpm_gmm.datasets import make_separated_mixture
    >>> X, y, means = make_separated_mixture(100, 5, 3, random_state=0)
    >>> X.shape, means.shape
    ((100, 5), (3, 5))
    """
    rng = check_random_state(random_state)
    if separation is None:
        separation = 3.0 * np.sqrt(np.log(max(n_components, 2)))
    means = rng.standard_normal((n_components, n_features))
    if n_components > 1:
        means *= separation / min_pairwise_distance(means)
    y = rng.randint(0, n_components, n_samples)
    X = means[y] + rng.standard_normal((n_samples, n_features))
    return X, y, means


def min_pairwise_distance(points):
    """Smallest distance between two distinct rows of points, shape (m, d)."""
    from scipy.spatial.distance import pdist

    return float(pdist(points).min())
