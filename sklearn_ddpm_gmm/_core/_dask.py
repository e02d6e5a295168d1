"""The final phase on a Dask array: each pass maps the blocks to additive sums
and reduces them as a tree, so only the parameters and the sums travel.

A pass of the exact integrated objective (:mod:`._em`) needs, from every row,
its log-density and posteriors under the current model; the EM-matched step
needs only their sufficient statistics (:class:`._covariance.Statistics`).
Each block computes its statistics where it lives (standardising its own
rows), they are merged pairwise (:meth:`._covariance.CovarianceType.merged`),
and the covariance type's M-step takes the total: the same E-step, statistics
and M-step as the in-memory pass. A block with missing entries (NaN) takes
the E-step on its observed coordinates and the expected statistics
(:func:`._missing.observed_statistics`), as rows in memory do.

dask is imported only here, and only when a Dask array is given.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ._covariance import CovarianceType, Statistics
from ._em import InMemoryRows, LikelihoodResult, posteriors, run_statistics_phase
from ._missing import (
    has_nan,
    missing_patterns,
    observed_statistics,
    refuse_unobserved,
    rows_of,
)
from ._mixture import Mixture, make_mixture
from ._prior import CovariancePrior
from ._standardise import centre_and_scale, check_spread

if TYPE_CHECKING:
    import dask.array as da
    from dask.delayed import Delayed


def is_dask_array(X: object) -> bool:
    """Whether X is a dask.array.Array (without importing dask)."""
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "to_delayed")


def block_statistics(block: ArrayLike, params: Mixture, model: CovarianceType, *,
                     centre: np.ndarray, scale: float) -> Statistics:
    """The sufficient statistics of one block of raw rows, shape (n_block, d).

    Runs on a worker: the block is standardised there, in float64.
    """
    Z = (np.asarray(block, dtype=np.float64) - centre) / scale
    if has_nan(Z):
        return observed_statistics(Z, missing_patterns(Z), params, model)
    log_prob, resp = posteriors(Z, params, model)
    return model.statistics(Z, resp, log_prob)


def block_start_statistics(block: ArrayLike, model: CovarianceType, *,
                           centre: np.ndarray, scale: float) -> Statistics:
    """The statistics of one block of raw rows with every row in one
    component and each missing entry at its column's mean (zero once
    standardised): the one-component start's M-step reads their total, as
    :meth:`._em.InMemoryRows.one_component_start` reads the rows in memory."""
    Z = (np.asarray(block, dtype=np.float64) - centre) / scale
    Z = np.where(np.isnan(Z), 0.0, Z)
    return model.statistics(Z, np.ones((len(Z), 1)), None)


def _tree_sum(parts: list[Delayed], model: CovarianceType) -> Delayed:
    """Pairwise merges of delayed Statistics, as a tree of depth log2(len(parts))."""
    from dask import delayed

    while len(parts) > 1:
        parts = [delayed(model.merged)(parts[i], parts[i + 1]) if i + 1 < len(parts)
                 else parts[i]
                 for i in range(0, len(parts), 2)]
    return parts[0]


class DaskRows:
    """Standardised rows of a Dask array chunked by rows: what the fit reads.

    Missing entries (NaN) are handled as :class:`._missing.MissingRows`
    handles them in memory: the passes take the E-step on the observed
    coordinates, the starts read gathered rows.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        The raw rows, one chunk across the features.
    centre : ndarray of shape (n_features,)
    scale : float
        The standardisation (:func:`standardisation`).
    observed_features : float, default=None
        Observed entries per row, on average, if the caller has counted
        them (:func:`standardisation` does); counted by a pass if None.
    """

    def __init__(self, X: da.Array, centre: np.ndarray, scale: float,
                 observed_features: float | None = None) -> None:
        self.X, self.centre, self.scale = X, centre, scale
        self.sample_weight = None  # weighted Dask fits are refused
        self.shape = X.shape
        self.dtype = np.dtype(np.float64)
        if observed_features is not None:
            self.observed_features = observed_features  # fills the cached property

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        """Standardised rows ``rows`` (sorted indices), gathered to the caller."""
        return (np.asarray(self.X[np.sort(rows)].compute(), dtype=np.float64)
                - self.centre) / self.scale

    @cached_property
    def observed_features(self) -> float:
        """Observed entries per row, on average (one pass, then kept)."""
        import dask.array as da

        return _observed_features(self.X, int(da.isnan(self.X).sum().compute()))

    @property
    def has_missing(self) -> bool:
        """Whether an entry is missing (NaN)."""
        return self.observed_features < self.shape[1]

    @cached_property
    def column_variances(self) -> np.ndarray:
        """Each standardised column's variance over its observed entries (one
        pass, then kept): the scatter of :mod:`._prior`'s pseudo-row."""
        import dask.array as da

        standardised = (self.X.astype(np.float64) - self.centre) / self.scale
        return np.asarray(da.nanvar(standardised, axis=0).compute(), dtype=np.float64)

    def subset(self, rows: np.ndarray) -> InMemoryRows:
        """The standardised rows ``rows``, gathered to the caller
        (:class:`._missing.MissingRows` where an entry is missing)."""
        if self.has_missing:
            return rows_of(self[rows], variances=self.column_variances)
        return rows_of(self[rows])

    def cold_start_rows(self, rows: np.ndarray) -> np.ndarray:
        """The rows of the subsample ``rows`` that the cold start reads, by
        :meth:`._missing.MissingRows.cold_start_rows`'s rule where an entry
        is missing."""
        return self.subset(rows).cold_start_rows(np.arange(len(rows)))

    def pass_statistics(self, params: Mixture, model: CovarianceType) -> Statistics:
        """One pass over every block: the total Statistics."""
        from dask import delayed

        return self._total(model, block_statistics, delayed(params, pure=True), model)

    def one_component_start(self, model: CovarianceType,
                            fixed_covariances: np.ndarray | None = None) -> Mixture:
        """Every row in one component: the M-step of one pass over the blocks."""
        stats = self._total(model, block_start_statistics, model)
        return make_mixture(*model.m_step(stats, fixed_covariances), model)

    def _total(self, model: CovarianceType, block_function, *args) -> Statistics:
        """The Statistics of ``block_function(block, *args, centre=, scale=)``
        over every block, merged as a tree by ``model``."""
        import dask
        from dask import delayed

        parts = [delayed(block_function, pure=True)(block, *args, centre=self.centre,
                                                    scale=self.scale)
                 for block in self.X.to_delayed().ravel()]
        return dask.compute(_tree_sum(parts, model))[0]

    def run_phase(self, params: Mixture, model: CovarianceType, *, tol: float,
                  max_iter: int, lower_bound: float = -np.inf,
                  previous_change: float = np.inf,
                  fixed_covariances: np.ndarray | None = None, accelerated: bool = False,
                  settled: float = 0.0, verbose: int = 0,
                  verbose_interval: int = 10) -> LikelihoodResult:
        """:func:`._em.run_likelihood_phase` over the blocks (with
        :mod:`._prior`'s pseudo-row where an entry is missing, as in memory)."""
        prior = (CovariancePrior.of(self.column_variances, len(params.weights))
                 if self.has_missing else None)
        return run_statistics_phase(
            lambda current: self.pass_statistics(current, model), params, model, tol=tol,
            max_iter=max_iter, lower_bound=lower_bound, previous_change=previous_change,
            fixed_covariances=fixed_covariances, accelerated=accelerated, settled=settled,
            verbose=verbose, verbose_interval=verbose_interval, prior=prior)


def dask_rows(X: da.Array, n_components: int,
              min_variance: float) -> tuple[DaskRows, np.ndarray, float]:
    """The standardised rows of a Dask array X chunked by rows.

    Returns
    -------
    rows : DaskRows
    centre : ndarray of shape (n_features,)
    scale : float
    """
    if X.ndim != 2:
        raise ValueError(f"Expected a 2D Dask array, got {X.ndim} dimensions.")
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float64)
    n_samples = X.shape[0]
    if n_samples < max(2, n_components):
        raise ValueError(
            f"Expected n_samples >= max(2, n_components) but got n_components = "
            f"{n_components}, n_samples = {n_samples}"
        )
    centre, scale, observed = standardisation(X, min_variance)
    return DaskRows(X, centre, scale, observed), centre, scale


class Standardisation(NamedTuple):
    """What :func:`standardisation` measures of a Dask array."""

    centre: np.ndarray  # (n_features,)
    scale: float
    observed_features: float  # observed entries per row, on average


def standardisation(X: da.Array, min_variance: float = 0.0) -> Standardisation:
    """Centre and scale of a Dask array, by the in-memory rule
    (:func:`._standardise.standardise`: :func:`._standardise.centre_and_scale`
    with Dask's reductions, over the observed entries where some are NaN).

    Infinities, columns or rows with no observed entry, and spreads float64
    cannot hold are refused first.
    """
    import dask
    import dask.array as da

    # One pass: the bounds of the observed entries, and the missing ones
    # per row (the complete-data path below is kept where there are none).
    n_features = X.shape[1]
    missing_per_row = da.isnan(X).sum(axis=1)
    low, high, n_missing, n_empty_rows = dask.compute(
        da.nanmin(X, axis=0), da.nanmax(X, axis=0), missing_per_row.sum(),
        (missing_per_row == n_features).sum())
    if np.any(np.isinf(low)) or np.any(np.isinf(high)):
        raise ValueError("Input X contains infinity.")
    if n_missing:
        empty_rows = (da.flatnonzero(missing_per_row == n_features).compute()
                      if n_empty_rows else np.array([], dtype=np.intp))
        refuse_unobserved(np.flatnonzero(np.isnan(low)), empty_rows)
    check_spread(low, high, np.dtype(np.float64))

    # With NaN: each column's mean over its observed rows, the mean square
    # over all observed entries (as standardise weighs them).
    mean = da.nanmean if n_missing else da.mean

    def mean_offset(middle):
        return mean(X - middle, axis=0, dtype=np.float64).compute()

    def mean_square(centre, unit):
        return float(mean(((X - centre) / unit) ** 2, dtype=np.float64).compute())

    centre, scale, _ = centre_and_scale(low, high, mean_offset=mean_offset,
                                        mean_square=mean_square, dtype=np.float64,
                                        min_variance=min_variance)
    return Standardisation(centre, scale, _observed_features(X, n_missing))


def _observed_features(X: da.Array, n_missing: int) -> float:
    """Observed entries per row of X, on average, from its count of NaN (the
    mean of the rows' counts, as :attr:`._missing.MissingRows.observed_features`)."""
    n_samples, n_features = X.shape
    return (n_samples * n_features - n_missing) / n_samples if n_missing else n_features
