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
