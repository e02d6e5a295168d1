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


def make_covariance_mixture(n_samples, n_features, n_components, covariance_type="full",
                            separation=None, random_state=None):
    """Draw from a mixture with unequal weights and non-unit covariances.

    Weights are proportional to ``linspace(0.1, 0.5, K)``; the components'
    overall variances are spread over a factor 10 (log-spaced from 0.3 to 3);
    within a component, diagonal variances (diag) or eigenvalues (full, tied)
    are log-spaced over a factor 10 (condition number 10) in random directions.
    Means are Gaussian draws rescaled so that the smallest pairwise distance is
    ``separation`` times the largest component standard deviation (default
    ``3 sqrt(log K)``).

    Parameters
    ----------
    n_samples, n_features, n_components : int
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
    separation : float, default=None
    random_state : int, RandomState instance or None

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    weights : ndarray of shape (n_components,)
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray
        In GaussianMixture's shape for ``covariance_type``.

    Examples
    --------
    >>> from sklearn_ddpm_gmm.datasets import make_covariance_mixture
    >>> X, y, w, means, cov = make_covariance_mixture(100, 3, 2, "diag", random_state=0)
    >>> X.shape, cov.shape
    ((100, 3), (2, 3))
    """
    rng = check_random_state(random_state)
    K, d = n_components, n_features
    weights = np.linspace(0.1, 0.5, K) if K > 1 else np.ones(1)
    weights = weights / weights.sum()
    scales = np.geomspace(0.3, 3.0, K) if K > 1 else np.ones(1)
    spread = np.geomspace(1.0, 10.0, d) if d > 1 else np.ones(1)
    spread /= np.exp(np.mean(np.log(spread)))  # geometric mean one

    def rotated(scale):
        Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        return scale * (Q * spread) @ Q.T

    if covariance_type == "spherical":
        cov = scales.copy()
        full = cov[:, None, None] * np.eye(d)
    elif covariance_type == "diag":
        cov = np.array([s * rng.permutation(spread) for s in scales])
        full = np.array([np.diag(c) for c in cov])
    elif covariance_type == "full":
        cov = np.array([rotated(s) for s in scales])
        full = cov
    else:  # tied
        cov = rotated(1.0)
        full = np.broadcast_to(cov, (K, d, d))
    if separation is None:
        separation = 3.0 * np.sqrt(np.log(max(K, 2)))
    largest_sd = np.sqrt(max(np.linalg.eigvalsh(c).max() for c in full))
    means = rng.standard_normal((K, d))
    if K > 1:
        means *= separation * largest_sd / min_pairwise_distance(means)
    y = rng.choice(K, size=n_samples, p=weights)
    factors = np.linalg.cholesky(full)
    X = means[y] + np.einsum("nij,nj->ni", factors[y], rng.standard_normal((n_samples, d)))
    return X, y, weights, means, cov
