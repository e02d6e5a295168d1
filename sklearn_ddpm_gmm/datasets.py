"""Synthetic mixtures with known parameters, for tests, examples and benchmarks."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import check_random_state


def make_symmetric_mixture(
    n_samples: int, n_features: int, mean_norm: float = 1.0,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def make_separated_mixture(
    n_samples: int, n_features: int, n_components: int,
    separation: float | None = None, random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw from an equal-weight mixture of unit-variance spherical Gaussians.

    Means are Gaussian draws rescaled so that the smallest pairwise distance is
    ``separation`` (default ``3 sqrt(log K)``, the paper's warm-start regime).

    Parameters
    ----------
    n_samples, n_features, n_components : int
    separation : float, default=None
        Smallest distance between two means; ``3 sqrt(log K)`` if None.
    random_state : int, RandomState instance or None

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


def min_pairwise_distance(points: ArrayLike) -> float:
    """Smallest distance between two distinct rows of points.

    Parameters
    ----------
    points : array-like of shape (n_points, n_features)
        At least two rows.

    Returns
    -------
    distance : float

    Examples
    --------
    >>> from sklearn_ddpm_gmm.datasets import min_pairwise_distance
    >>> min_pairwise_distance([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])
    1.0
    """
    from scipy.spatial.distance import pdist

    return float(pdist(points).min())


def make_covariance_mixture(
    n_samples: int, n_features: int, n_components: int,
    covariance_type: str = "full", separation: float | None = None,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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


# ----------------------------------------------------------- blurred manifolds
# Data a Gaussian mixture describes badly: curves and segments blurred by a
# little Gaussian noise (the continuous mixtures of Gatmiry, Kelner & Lee).


def make_blurred_ring(
    n_samples: int, radius: float = 1.0, noise: float = 0.05,
    random_state: int | np.random.RandomState | None = None,
) -> np.ndarray:
    """Points uniform on a circle of ``radius`` in 2-D, plus ``N(0, noise^2 I)``.

    Parameters
    ----------
    n_samples : int
    radius : float, default=1.0
    noise : float, default=0.05
        Standard deviation of the blur.
    random_state : int, RandomState instance or None

    Returns
    -------
    X : ndarray of shape (n_samples, 2)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ddpm_gmm.datasets import make_blurred_ring
    >>> X = make_blurred_ring(1000, random_state=0)
    >>> X.shape, bool(abs(np.linalg.norm(X, axis=1).mean() - 1) < 0.01)
    ((1000, 2), True)
    """
    rng = check_random_state(random_state)
    angle = rng.uniform(0.0, 2.0 * np.pi, n_samples)
    X = radius * np.c_[np.cos(angle), np.sin(angle)]
    return X + noise * rng.standard_normal((n_samples, 2))


def make_blurred_moons(
    n_samples: int, noise: float = 0.05,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (scikit-learn's two moons), blurred by ``noise``.

    The geometry of ``sklearn.datasets.make_moons``, but each point's moon and
    angle are drawn independently (make_moons spaces the angles evenly, so two
    of its draws are not independent samples of one law, and a held-out set
    would share the training set's angles).

    Parameters
    ----------
    n_samples : int
    noise : float, default=0.05
        Standard deviation of the Gaussian blur.
    random_state : int, RandomState instance or None

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
    y : ndarray of shape (n_samples,)
        Moon of each point.

    Examples
    --------
    >>> from sklearn_ddpm_gmm.datasets import make_blurred_moons
    >>> X, y = make_blurred_moons(100, random_state=0)
    >>> X.shape, sorted(set(y.tolist()))
    ((100, 2), [0, 1])
    """
    rng = check_random_state(random_state)
    y = rng.randint(0, 2, n_samples)
    angle = rng.uniform(0.0, np.pi, n_samples)
    outer = np.c_[np.cos(angle), np.sin(angle)]
    inner = np.c_[1.0 - np.cos(angle), 0.5 - np.sin(angle)]
    X = np.where(y[:, np.newaxis] == 0, outer, inner)
    return X + noise * rng.standard_normal((n_samples, 2)), y


def make_segments(
    n_features: int = 5, n_segments: int = 3, length: float = 3.0,
    spread: float = 1.0, random_state: int | np.random.RandomState | None = None,
) -> np.ndarray:
    """Random segments: midpoints ``N(0, spread^2 I)``, uniform random directions.

    Parameters
    ----------
    n_features : int, default=5
    n_segments : int, default=3
    length : float, default=3.0
    spread : float, default=1.0
        Standard deviation of the midpoints; at the defaults the segments pass
        within about one unit of each other, so a few Gaussians cannot fit them
        one by one.
    random_state : int, RandomState instance or None

    Returns
    -------
    segments : ndarray of shape (n_segments, 2, n_features)
        End points of each segment.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ddpm_gmm.datasets import make_segments
    >>> ends = make_segments(random_state=0)
    >>> ends.shape, np.round(np.linalg.norm(ends[:, 1] - ends[:, 0], axis=1), 6)
    ((3, 2, 5), array([3., 3., 3.]))
    """
    rng = check_random_state(random_state)
    mid = spread * rng.standard_normal((n_segments, n_features))
    direction = rng.standard_normal((n_segments, n_features))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    half = 0.5 * length * direction
    return np.stack([mid - half, mid + half], axis=1)


def make_blurred_segments(
    n_samples: int, segments: ArrayLike, noise: float = 0.05,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform on the given segments (equal weights), plus ``N(0, noise^2 I)``.

    Parameters
    ----------
    n_samples : int
    segments : array-like of shape (n_segments, 2, n_features)
        End points, e.g. from :func:`make_segments` (draw them once and reuse
        them for training, held-out and fresh data).
    noise : float, default=0.05
    random_state : int, RandomState instance or None

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Segment of each point.

    Examples
    --------
    >>> from sklearn_ddpm_gmm.datasets import make_blurred_segments, make_segments
    >>> X, y = make_blurred_segments(100, make_segments(random_state=0), random_state=1)
    >>> X.shape, y.shape
    ((100, 5), (100,))
    """
    rng = check_random_state(random_state)
    segments = np.asarray(segments, dtype=float)
    y = rng.randint(0, len(segments), n_samples)
    position = rng.uniform(0.0, 1.0, n_samples)[:, np.newaxis]
    X = (1.0 - position) * segments[y, 0] + position * segments[y, 1]
    return X + noise * rng.standard_normal(X.shape), y
