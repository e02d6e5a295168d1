"""Data in standardised units: ``Z = (X - centre) / scale``, one scale for all features.

Every fit works on Z: its mean square is one per entry, so the phases'
constants are in the data's units, and the fitted parameters are mapped back
at the end. Nothing here squares a number in the data's units.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import DTypeLike

from .._numerics._fastops import column_min_max, column_sums

# Rows per block when computing the standardisation (the block's offsets
# stay in cache between their uses).
_STANDARDISATION_ROWS = 16384


def standardise(
    X: np.ndarray, dtype: DTypeLike | None = None, min_variance: float = 0.0,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, float, DataBounds]:
    """``Z = (X - centre) / scale`` with one scale for all features, and the
    bounds of Z (:class:`DataBounds`).

    One scale keeps the spherical model spherical; Z has mean square one per
    entry. X is read in blocks of rows, so the only array the size of the
    data is Z, in ``dtype`` (X's own if None): float32 passes cost 0.6-0.7x
    float64 ones, and the offsets are taken in float64 before rounding, so
    data far from the origin keeps its precision.

    Nothing here squares a number in the data's units, so every scale float64
    holds is measured; data whose covariances float64 cannot hold are refused
    (see :func:`check_spread`).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    dtype : numpy dtype, default=None
    min_variance : float, default=0.0
        The smallest variance the model gives a component (``reg_covar``; 1
        for "identity"). The scale is at least ``sqrt(eps * min_variance)``:
        a spread below it changes no covariance (they round to
        ``min_variance``), and the standardised model's variances stay
        below ``1 / eps``.
    sample_weight : ndarray of shape (n_samples,), default=None
        Weights of the rows: the centre is their weighted mean and the scale
        the weighted root mean square of the offsets (an integer weight
        counts a row that many times).

    Returns
    -------
    Z : ndarray of shape (n_samples, n_features)
    centre : ndarray of shape (n_features,)
    scale : float
    bounds : DataBounds
        Z's bounding box and the total of its features' variances.
    """
    n_samples, n_features = X.shape
    blocks = [slice(i, i + _STANDARDISATION_ROWS)
              for i in range(0, n_samples, _STANDARDISATION_ROWS)]
    low, high = column_min_max(X)
    missing = None
    if np.isnan(low).any():  # NaN propagates through the minima
        # The observed entries' statistics (each column's weighted mean over
        # its observed rows, the root mean square of all observed offsets);
        # fmin / fmax skip NaN without nanmin's copy (all-NaN columns are
        # refused earlier). Z keeps the NaN.
        missing = np.isnan(X)
        low, high = np.fmin.reduce(X, axis=0), np.fmax.reduce(X, axis=0)
    check_spread(low, high, X.dtype)
    w = sample_weight
    total = n_samples if w is None else float(np.sum(w))
    if missing is None:
        column_weight, entries = total, n_features * total
    else:
        column_weight = (n_samples - missing.sum(axis=0) if w is None
                         else w @ ~missing).astype(np.float64)
        entries = float(np.sum(column_weight))

    def offsets(block, centre):
        values = X[block] - centre
        if missing is not None:
            np.copyto(values, 0.0, where=missing[block])
        return values

    def mean_offset(middle):
        if w is None:
            return sum(column_sums(offsets(block, middle)) for block in blocks) / column_weight
        return sum(w[block] @ offsets(block, middle) for block in blocks) / column_weight

    def mean_square(centre, unit):
        value = 0.0
        for block in blocks:
            values = offsets(block, centre)
            if unit != 1.0:
                values /= unit
            if w is None:
                value += float(np.einsum("ij,ij->", values, values)) / entries
            else:
                value += float(w[block] @ np.einsum("ij,ij->i", values, values)) / entries
        return value

    centre, scale, spread = centre_and_scale(low, high, mean_offset=mean_offset,
                                             mean_square=mean_square, dtype=X.dtype,
                                             min_variance=min_variance)
    Z = standardised(X, centre, scale, dtype)
    # Z's features' variances total d (spread / scale)^2.
    total_variance = n_features * (spread / scale) ** 2
    bounds = DataBounds((low - centre) / scale, (high - centre) / scale, total_variance)
    return Z, centre, scale, bounds


def centre_and_scale(low: np.ndarray, high: np.ndarray, *,
                     mean_offset: Callable[[np.ndarray], np.ndarray],
                     mean_square: Callable[[np.ndarray, float], float], dtype: DTypeLike,
                     min_variance: float) -> tuple[np.ndarray, float, float]:
    """The standardisation's rule, wherever the rows are (in memory, or in the
    blocks of a Dask array): the caller supplies the two reductions.

    Parameters
    ----------
    low, high : ndarray of shape (n_features,)
        Each column's smallest and largest value.
    mean_offset : callable
        ``mean_offset(middle)``: the (weighted) mean of ``X - middle``, shape
        (n_features,); taken from the mid-range, it cannot overflow.
    mean_square : callable
        ``mean_square(centre, unit)``: the (weighted) mean over rows and
        features of ``((X - centre) / unit)**2``.
    dtype : numpy dtype
        Of the data.
    min_variance : float
        See :func:`standardise`.

    Returns
    -------
    centre : ndarray of shape (n_features,)
    scale : float
    spread : float
        The root mean square of the offsets (the scale before its floor).
    """
    # The centre is kept in [low, high], so that a constant column is centred
    # exactly on its value.
    middle = low / 2 + high / 2
    centre = np.clip(middle + mean_offset(middle), low, high)
    largest = float(max(np.max(high - centre), np.max(centre - low)))
    # Mean square of the offsets per entry, in units of the largest offset
    # when squaring could overflow or underflow (data near 1e150 or 1e-150).
    unit = 1.0 if 1e-100 < largest < 1e100 else largest
    mean_sq = mean_square(centre, unit) if largest > 0.0 else 0.0
    spread = unit * float(np.sqrt(mean_sq))
    if min_variance == 0.0 and 0.0 < spread < np.sqrt(np.finfo(dtype).tiny):
        raise ValueError(
            f"The spread of X ({spread:.3g}) is below what {np.dtype(dtype).name} "
            "covariances can hold without regularisation: its variances underflow. Set "
            "reg_covar > 0 (in the data's units) or rescale X."
        )
    scale = max(spread, float(np.sqrt(np.finfo(float).eps * min_variance)))
    if scale == 0.0:
        scale = 1.0  # constant data, no regularisation: any unit will do
    return centre, scale, spread


def check_spread(low: np.ndarray, high: np.ndarray, dtype: DTypeLike) -> None:
    """Refuse data whose squared distances ``dtype`` cannot hold.

    Every component's variance along a feature is at most a quarter of the
    feature's squared range (Popoviciu), and every squared distance between
    points of the data at most the squared diagonal of their bounding box:
    when that is finite, so are the fitted covariances and the training
    data's log-densities.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        ranges = high - low
        widest = float(np.max(ranges))
        diagonal = (widest * float(np.sqrt(np.sum((ranges / widest) ** 2)))
                    if 0.0 < widest < np.inf else widest)
    limit = float(np.sqrt(np.finfo(dtype).max))
    if not diagonal <= limit:
        raise ValueError(
            f"The spread of X (range {widest:.3g} along a feature, diagonal "
            f"{diagonal:.3g}) exceeds what {np.dtype(dtype).name} covariances can "
            f"hold: squared distances above {limit:.3g}**2 overflow. Rescale X."
        )


def standardised(X: np.ndarray, centre: np.ndarray, scale: float,
                 dtype: DTypeLike | None = None) -> np.ndarray:
    """``(X - centre) / scale`` in ``dtype`` (X's if None), one copy of X."""
    Z = np.empty(X.shape, dtype=X.dtype if dtype is None else dtype)
    for start in range(0, X.shape[0], _STANDARDISATION_ROWS):
        block = slice(start, start + _STANDARDISATION_ROWS)
        np.multiply(X[block] - centre, 1.0 / scale, out=Z[block], casting="same_kind")
    return Z


class DataBounds(NamedTuple):
    """Where maximum likelihood keeps a mixture: means inside the data's
    bounding box, no variance above the data's total variance. Steps are
    projected back into it (see _preconditioned_step)."""

    low: np.ndarray  # (d,)
    high: np.ndarray  # (d,)
    max_variance: float


def data_bounds(X: np.ndarray) -> DataBounds:
    """DataBounds of X, shape (n_samples, n_features): O(n d) work and no
    temporary the size of X (``X.var`` would make one; partial_fit's memory is
    counted in chunks)."""
    n_samples = X.shape[0]
    mean = X.mean(axis=0)
    variances = np.einsum("ij,ij->j", X, X) / n_samples - mean**2
    return DataBounds(X.min(axis=0), X.max(axis=0),
                      float(np.maximum(variances, 0.0).sum()))
