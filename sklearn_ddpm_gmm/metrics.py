"""Parameter errors after matching estimated components to true ones."""

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist


def match_components(estimated_means, true_means):
    """Hungarian matching of estimated to true means by squared distance.

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


def matched_mean_errors(estimated_means, true_means):
    """Distance of each true mean to its matched estimate, shape (n_components,).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ddpm_gmm.metrics import matched_mean_errors
    >>> matched_mean_errors(np.array([[5.0], [0.5]]), np.array([[0.0], [5.0]]))
    array([0.5, 0. ])
    """
    order = match_components(estimated_means, true_means)
    return np.linalg.norm(estimated_means[order] - true_means, axis=1)


def matched_mean_error(estimated_means, true_means):
    """Frobenius norm of the matched mean errors ``|mu_hat - mu*|``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ddpm_gmm.metrics import matched_mean_error
    >>> float(matched_mean_error(np.array([[3.0, 4.0]]), np.array([[0.0, 0.0]])))
    5.0
    """
    return float(np.linalg.norm(matched_mean_errors(estimated_means, true_means)))


def matched_parameter_errors(weights, means, covariances, true_weights, true_means,
                             true_covariances, covariance_type="full"):
    """Errors of each parameter block after Hungarian matching of the means.

    Covariances have GaussianMixture's shape for ``covariance_type`` (both the
    same); their error is the Frobenius norm of the difference over all
    components.

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
