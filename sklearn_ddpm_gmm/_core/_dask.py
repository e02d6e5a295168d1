"""The final phase on a Dask array: each pass maps the blocks to additive sums
and reduces them as a tree, so only the parameters and the sums travel.

A pass of the exact integrated objective (:mod:`._likelihood`) needs, from
every row, its log-density and posteriors under the current model; the
EM-matched step needs only their sums (:class:`BlockSums`): the mass of each
component, its first and second moments, and the log-likelihood. Each block
computes its sums where it lives (standardising its own rows), the sums are
added pairwise, and the step is taken from the total (:func:`step_from_sums`),
which is the same update as :func:`._likelihood.em_step` on all rows.

dask is imported only here, and only when a Dask array is given.
"""

from typing import NamedTuple

import numpy as np

from ._em import gaussian_params, iterate, posteriors, sklearn_type
from ._standardise import check_spread

# Added to each component's mass before dividing by it, as scikit-learn's M-step does.
_MASS_FLOOR = 10 * np.finfo(np.float64).eps


def is_dask_array(X):
    """Whether X is a dask.array.Array (without importing dask)."""
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "to_delayed")


class BlockSums(NamedTuple):
    """Additive sums of one pass over some rows (standardised units)."""

    log_likelihood: float  # sum of the rows' log-densities
    mass: np.ndarray  # (K,) sum of the posteriors
    first: np.ndarray  # (K, d) posterior-weighted sums of the rows
    second: np.ndarray  # full (K, d, d), tied (d, d), diag/spherical (K, d)
    n_rows: int


def block_sums(block, centre, scale, params, covariance_type):
    """The sums of one block of raw rows, shape (n_block, d).

    Runs on a worker: the block is standardised there, in float64.
    """
    Z = (np.asarray(block, dtype=np.float64) - centre) / scale
    log_prob, resp = posteriors(Z, params, covariance_type)
    first = resp.T @ Z
    kind = sklearn_type(covariance_type)
    if kind == "full":
        second = np.stack([(Z * resp[:, [k]]).T @ Z for k in range(resp.shape[1])])
    elif kind == "tied":
        second = Z.T @ Z
    else:
        second = resp.T @ (Z * Z)
    return BlockSums(float(log_prob.sum()), resp.sum(axis=0), first, second, len(Z))


def added(a, b):
    """The sums of two sets of rows."""
    return BlockSums(*(x + y for x, y in zip(a, b)))


def step_from_sums(sums, reg_covar, covariance_type, fixed_covariances=None):
    """EM's update from the sums of a pass (as scikit-learn's M-step).

    Returns
    -------
    GaussianParams
    """
    mass = sums.mass + _MASS_FLOOR
    means = sums.first / mass[:, np.newaxis]
    kind = sklearn_type(covariance_type)
    d = means.shape[1]
    if kind == "full":
        cov = sums.second / mass[:, None, None] - np.einsum("ki,kj->kij", means, means)
        cov += reg_covar * np.eye(d)
    elif kind == "tied":
        cov = (sums.second - (mass * means.T) @ means) / mass.sum() + reg_covar * np.eye(d)
    else:
        cov = sums.second / mass[:, np.newaxis] - means**2 + reg_covar
        if kind == "spherical":
            cov = cov.mean(axis=1)
    if covariance_type == "identity":
        cov = fixed_covariances
    return gaussian_params(mass / mass.sum(), means, cov, covariance_type)


def _tree_sum(parts):
    """Pairwise sums of delayed BlockSums, as a tree of depth log2(len(parts))."""
    from dask import delayed

    while len(parts) > 1:
        parts = [delayed(added)(parts[i], parts[i + 1]) if i + 1 < len(parts) else parts[i]
                 for i in range(0, len(parts), 2)]
    return parts[0]


class DaskRows:
    """Standardised rows of a Dask array chunked by rows: what the fit reads."""

    def __init__(self, X, centre, scale):
        self.X, self.centre, self.scale = X, centre, scale
        self.sample_weight = None  # weighted Dask fits are refused
        self.shape = X.shape
        self.dtype = np.dtype(np.float64)

    def __getitem__(self, rows):
        """Standardised rows ``rows`` (sorted indices), gathered to the caller."""
        return (np.asarray(self.X[np.sort(rows)].compute(), dtype=np.float64)
                - self.centre) / self.scale

    def pass_sums(self, params, covariance_type):
        """One pass over every block: the total BlockSums."""
        import dask
        from dask import delayed

        blocks = self.X.to_delayed().ravel()
        params = delayed(params, pure=True)
        parts = [delayed(block_sums, pure=True)(block, self.centre, self.scale, params,
                                                covariance_type)
                 for block in blocks]
        return dask.compute(_tree_sum(parts))[0]

    def run_phase(self, params, *, covariance_type, reg_covar, tol, max_iter,
                  lower_bound=-np.inf, fixed_covariances=None, verbose=0,
                  verbose_interval=10):
        """:func:`._likelihood.run_likelihood_phase` over the blocks."""
        def step(current):
            sums = self.pass_sums(current, covariance_type)
            return (sums.log_likelihood / sums.n_rows,
                    step_from_sums(sums, reg_covar, covariance_type, fixed_covariances))

        return iterate(step, params, tol=tol, max_iter=max_iter, lower_bound=lower_bound,
                       verbose=verbose, verbose_interval=verbose_interval)


def dask_rows(X, n_components, min_variance):
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
    centre, scale, low, high = standardisation(X, min_variance)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise ValueError("Input X contains NaN or infinity.")
    check_spread(low, high, np.dtype(np.float64))
    return DaskRows(X, centre, scale), centre, scale


def standardisation(X, min_variance=0.0):
    """Centre and scale of a Dask array, as the in-memory fit computes them
    (``_standardise.standardise``: the mean, the root mean square of the
    offsets taken in units of the largest offset so that squaring cannot
    overflow, at least ``sqrt(eps * min_variance)``), and the columns'
    smallest and largest values."""
    import dask

    centre, low, high = dask.compute(X.mean(axis=0, dtype=np.float64), X.min(axis=0),
                                     X.max(axis=0))
    centre = np.clip(centre, low, high)
    largest = float(max(np.max(high - centre), np.max(centre - low)))
    spread = 0.0
    if 0.0 < largest < np.inf:
        spread = largest * float(np.sqrt((((X - centre) / largest) ** 2).mean().compute()))
    scale = max(spread, float(np.sqrt(np.finfo(float).eps * min_variance)))
    return centre, (scale if scale > 0.0 else 1.0), low, high
