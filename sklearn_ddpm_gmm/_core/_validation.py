"""Input checks the estimators share, written with scikit-learn's public API."""

from numbers import Number

import numpy as np
from sklearn.utils.validation import check_array, check_non_negative


def checked_sample_weight(sample_weight, n_samples):
    """Sample weights as a float64 array of shape (n_samples,): scikit-learn's
    checks and messages (finite, one dimension, one weight a row,
    non-negative, not all zero). A number weighs every row alike.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,) or float
    n_samples : int

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    if isinstance(sample_weight, Number):
        sample_weight = np.full(n_samples, sample_weight, dtype=np.float64)
    else:
        sample_weight = check_array(sample_weight, ensure_2d=False, dtype=np.float64,
                                    order="C", input_name="sample_weight")
        if sample_weight.ndim != 1:
            raise ValueError(
                f"Sample weights must be 1D array or scalar, got {sample_weight.ndim}D "
                f"array. Expected either a scalar value or a 1D array of length "
                f"{n_samples}.")
        if sample_weight.shape != (n_samples,):
            raise ValueError(
                f"sample_weight.shape == {sample_weight.shape}, expected {(n_samples,)}!")
    if np.all(sample_weight == 0):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    check_non_negative(sample_weight, "`sample_weight`")
    return sample_weight
