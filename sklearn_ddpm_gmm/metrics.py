"""Parameter errors after matching estimated components to true ones."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist


def match_components(estimated_means: np.ndarray, true_means: np.ndarray) -> np.ndarray:
    """Hungarian matching of estimated to true means by squared distance.

    Parameters
    ----------
    estimated_means : ndarray of shape (n_components, n_features)
    true_means : ndarray of shape (n_components, n_features)

    Returns
    -------
    order : ndarray of shape (n_components,)
        ``estimated_means[order[i]]`` is matched to ``true_means[i]``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ddpm_gmm.metrics import match_components
    >>> match_components(np.array([[5.0], [0.0]]), np.array([[0.0], [5.0]]))
    array([1, 0])
    """
    cost = cdist(true_means, estimated_means, "sqeuclidean")
    rows, cols = linear_sum_assignment(cost)
    return cols[np.argsort(rows)]


def matched_mean_errors(estimated_means: np.ndarray, true_means: np.ndarray) -> np.ndarray:
    """Distance of each true mean to its matched estimate.

    Parameters
    ----------
    estimated_means : ndarray of shape (n_components, n_features)
    true_means : ndarray of shape (n_components, n_features)

    Returns
    -------
    errors : ndarray of shape (n_components,)
        ``|mu_hat - mu*|`` for each true mean, in the order of ``true_means``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ddpm_gmm.metrics import matched_mean_errors
    >>> matched_mean_errors(np.array([[5.0], [0.5]]), np.array([[0.0], [5.0]]))
    array([0.5, 0. ])
    """
    order = match_components(estimated_means, true_means)
    return np.linalg.norm(estimated_means[order] - true_means, axis=1)


def matched_mean_error(estimated_means: np.ndarray, true_means: np.ndarray) -> float:
    """Frobenius norm of the matched mean errors ``|mu_hat - mu*|``.

    Parameters
    ----------
    estimated_means : ndarray of shape (n_components, n_features)
    true_means : ndarray of shape (n_components, n_features)

    Returns
    -------
    error : float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ddpm_gmm.metrics import matched_mean_error
    >>> float(matched_mean_error(np.array([[3.0, 4.0]]), np.array([[0.0, 0.0]])))
    5.0
    """
    return float(np.linalg.norm(matched_mean_errors(estimated_means, true_means)))


def matched_parameter_errors(
    weights: np.ndarray, means: np.ndarray, covariances: ArrayLike,
    true_weights: np.ndarray, true_means: np.ndarray, true_covariances: np.ndarray,
    covariance_type: str = "full",
) -> dict[str, float]:
    """Errors of each parameter block after Hungarian matching of the means.

    Covariances have GaussianMixture's shape for ``covariance_type`` (both the
    same); their error is the Frobenius norm of the difference over all
    components.

    Parameters
    ----------
    weights, means, covariances : ndarray
        Estimated parameters, shapes as in GaussianMixture.
    true_weights, true_means, true_covariances : ndarray
        True parameters, same shapes.
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"

    Returns
    -------
    errors : dict
        ``"weights"`` (Euclidean norm), ``"means"`` and ``"covariances"``
        (Frobenius norms) of estimated minus true.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ddpm_gmm.metrics import matched_parameter_errors
    >>> err = matched_parameter_errors(
    ...     np.array([0.5, 0.5]), np.array([[1.0], [0.0]]), np.array([1.0, 2.0]),
    ...     np.array([0.4, 0.6]), np.array([[0.0], [1.0]]), np.array([2.0, 1.0]),
    ...     covariance_type="spherical")
    >>> {k: round(v, 3) for k, v in err.items()}
    {'weights': 0.141, 'means': 0.0, 'covariances': 0.0}
    """
    order = match_components(means, true_means)
    covariances = np.asarray(covariances)
    matched_cov = covariances if covariance_type == "tied" else covariances[order]
    return {
        "weights": float(np.linalg.norm(weights[order] - true_weights)),
        "means": float(np.linalg.norm(means[order] - true_means)),
        "covariances": float(np.linalg.norm(matched_cov - true_covariances)),
    }


def energy_distance(X: ArrayLike, Y: ArrayLike, *, unbiased: bool = False,
                    chunk_size: int = 2048) -> float:
    """Energy distance between two samples (V-statistic, or U-statistic).

    ``2 mean|x_i - y_j| - mean|x_i - x_k| - mean|y_j - y_l|`` over all pairs.
    By default the within-sample means include the zero diagonal: the
    V-statistic of Szekely & Rizzo, which is >= 0 and, between two samples of
    the same law, of order ``E|x - x'| (1/n + 1/m)`` rather than zero (so report
    the value for two fresh samples beside it as the floor). With
    ``unbiased=True`` the diagonal is left out (means over ``n (n - 1)`` pairs):
    the U-statistic, an unbiased estimate of the population energy distance,
    which can be negative. The population energy distance is the square of a
    metric on distributions (zero iff the laws are equal).

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
    Y : array-like of shape (n_samples_Y, n_features)
    unbiased : bool, default=False
        U-statistic instead of the V-statistic.
    chunk_size : int, default=2048
        Rows of X (or Y) whose distances are held in memory at once.

    Returns
    -------
    distance : float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ddpm_gmm.metrics import energy_distance
    >>> rng = np.random.default_rng(0)
    >>> same = energy_distance(rng.normal(size=(500, 2)), rng.normal(size=(500, 2)))
    >>> shifted = energy_distance(rng.normal(size=(500, 2)), rng.normal(size=(500, 2)) + 1)
    >>> bool(0 <= same < 0.02 < shifted)
    True
    >>> X, Y = rng.normal(size=(400, 2)), rng.normal(size=(400, 2))
    >>> gap = energy_distance(X, Y) - energy_distance(X, Y, unbiased=True)
    >>> bool(0 < gap < 0.01)
    True
    """
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y, dtype=float)

    def mean_distance(A, B, same):
        total = 0.0
        for start in range(0, len(A), chunk_size):
            total += cdist(A[start:start + chunk_size], B).sum()
        pairs = len(A) * (len(B) - 1) if same and unbiased else len(A) * len(B)
        return total / pairs

    return float(2.0 * mean_distance(X, Y, False) - mean_distance(X, X, True)
                 - mean_distance(Y, Y, True))
