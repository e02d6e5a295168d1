"""The final phase: the DDPM objective integrated over all noise levels, evaluated exactly.

A noised Gaussian mixture is again a Gaussian mixture, so the score model of
this package is the exact score of its noised model density. For such a model
the DDPM objective integrated over all noise levels with the likelihood
weighting is the KL divergence of the data from the model up to a constant
(Song, Durkan, Murray & Ermon 2021): its gradient is the gradient of the mean
log-likelihood, in closed form from the posteriors ``r`` (n, K) of the clean
model (``tests/_reference.py``'s ``log_likelihood_gradient``, which
``tests/test_likelihood.py`` checks against finite differences and against the
Monte Carlo estimate of the integrated objective)::

    dL/dmu_k    = 1/n sum_i r_ik Sigma_k^{-1} (x_i - mu_k)
    dL/dSigma_k = 1/(2n) sum_i r_ik (Sigma_k^{-1} e_ik e_ik^T Sigma_k^{-1} - Sigma_k^{-1})
    dL/dbeta_k  = 1/n sum_i r_ik - pi_k                 (pi = softmax(beta))

with ``e_ik = x_i - mu_k``. Preconditioned as Xu & Jordan (1996) show, with
``N_k = sum_i r_ik``, a unit step is EM's update::

    mu_k    + (n / N_k) Sigma_k dL/dmu_k                    = sum_i r_ik x_i / N_k
    Sigma_k + (2 n / N_k) Sigma_k dL/dSigma_k Sigma_k       = sum_i r_ik e_ik e_ik^T / N_k
    pi_k    + dL/dbeta_k                                    = N_k / n

(the covariance around the new mean is this minus the mean's move squared, which
is what EM takes). So each step costs one pass: posteriors, then the weighted
moments (the covariance type's sufficient statistics and M-step, with
GaussianMixture's arithmetic), and it moves means, covariances and weights jointly, which
crosses the mean/covariance ridges that separate per-block steps crawl along.
The phase stops on the objective's gain per row, as GaussianMixture's ``tol``.

Parameters here are in GaussianMixture's form (:class:`._mixture.Mixture`); the
covariance type (:mod:`._covariance`) supplies every per-type computation.
"identity" is the paper's model: fixed covariances, only means and weights move.
"""

from __future__ import annotations

from collections.abc import Callable
from time import time
from typing import Any, NamedTuple

import numpy as np

from .._numerics._fastops import log_normalise
from ._covariance import CovarianceType
from ._mixture import Mixture, make_mixture


# The final phase stops once the gain still to come is below this share of
# the means' statistical resolution K d / n: a maximum's means are about
# sqrt(K d / n) from the truth in the Fisher metric, and stopping a gain g
# short of it adds at most 2 n g / (K d) to their squared error's ratio, so
# 0.05 keeps their error within sqrt(1.1) = 1.05x of the maximum's.
_RESOLUTION_SHARE = 0.05


def stopping_tol(tol: float, n_components: int, n_samples: int, n_features: int) -> float:
    """The final phase's tolerance on the gain per row: ``tol``, or less on
    data large enough to resolve a smaller gain (see ``_RESOLUTION_SHARE``)."""
    return min(tol, _RESOLUTION_SHARE * n_components * n_features / n_samples)


class LikelihoodResult(NamedTuple):
    """Outcome of :func:`run_likelihood_phase`."""

    params: Mixture
    lower_bounds: list  # mean log-likelihood per row before each step
    converged: bool
    last_change: float = np.inf  # the gain of the last step (inf before two passes)

    @property
    def n_iter(self) -> int:
        return len(self.lower_bounds)


def posteriors(X: np.ndarray, params: Mixture,
               model: CovarianceType) -> tuple[np.ndarray, np.ndarray]:
    """Log-density of each row and posteriors (the E-step).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    params : Mixture
    model : CovarianceType

    Returns
    -------
    log_prob : ndarray of shape (n_samples,)
    resp : ndarray of shape (n_samples, n_components)
    """
    # A squared distance beyond float64 (a point 1e154 standard deviations
    # from a collapsed component) is a density of zero: its log is -inf.
    with np.errstate(over="ignore"):
        log_gaussian = model.log_gaussian_prob(X, params.means, params.precisions_cholesky)
    return weighted_posteriors(log_gaussian, params.weights)


def weighted_posteriors(log_gaussian: np.ndarray,
                        weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-density of each row and posteriors from the components'
    log-densities ``log N(x_i; mu_k, Sigma_k)``, shape (n_samples, n_components),
    and the weights (the E-step's last part, shared with the observed-data
    E-step of :mod:`._missing`)."""
    with np.errstate(divide="ignore"):  # a weight of zero is allowed
        log_weights = np.log(weights)
    with np.errstate(over="ignore"):
        weighted = log_gaussian + log_weights
    # The project's log-sum-exp: scipy's took a third of a fit's time.
    return log_normalise(weighted)


def em_step(X: np.ndarray, resp: np.ndarray, model: CovarianceType, *,
            fixed_covariances: np.ndarray | None = None,
            sample_weight: np.ndarray | None = None) -> Mixture:
    """The preconditioned gradient step of unit length: EM's update, the
    M-step from the rows' sufficient statistics.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    resp : ndarray of shape (n_samples, n_components)
        Posteriors under the current model.
    model : CovarianceType
        With ``reg_covar`` in X's units.
    fixed_covariances : ndarray of shape (n_components,), default=None
        The covariances of the "identity" model, which do not move.
    sample_weight : ndarray of shape (n_samples,), default=None
        Weights of the rows (an integer weight counts a row that many times).

    Returns
    -------
    Mixture
    """
    stats = model.statistics(X, resp, None, sample_weight)
    return make_mixture(*model.m_step(stats, fixed_covariances), model)


def run_likelihood_phase(X: np.ndarray, params: Mixture, model: CovarianceType, *,
                         tol: float, max_iter: int, lower_bound: float = -np.inf,
                         previous_change: float = np.inf,
                         fixed_covariances: np.ndarray | None = None,
                         sample_weight: np.ndarray | None = None, verbose: int = 0,
                         verbose_interval: int = 10) -> LikelihoodResult:
    """EM-matched steps on the integrated objective until the gain per row
    still to come is below ``tol`` (see :func:`remaining_gain`).

    The loop is GaussianMixture's (posteriors, step, ``lower_bound`` of the
    parameters the step started from); its stop also asks that the gains
    still to come, extrapolated from the last two, stay below ``tol``: on a
    flat ridge of the likelihood (weakly separated components) EM gains a
    little at every step for many steps, and a stop on one step's gain ends
    far from the maximum.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    params : Mixture
        The start.
    model : CovarianceType
        With ``reg_covar`` in X's units.
    tol : float
        Stop when a step, and the steps still to come together, change the
        mean log-likelihood by less than this.
    max_iter : int
        Most steps.
    lower_bound : float, default=-inf
        Mean log-likelihood of the start, if known (a warm start).
    previous_change : float, default=inf
        The gain of the step that led to the start, if known (a warm start
        continues the stop's extrapolation of the gains still to come).
    fixed_covariances : ndarray of shape (n_components,), default=None
        See :func:`em_step`.
    sample_weight : ndarray of shape (n_samples,), default=None
        Weights of the rows: the lower bound is their weighted mean.
    verbose, verbose_interval : int
        Progress lines in GaussianMixture's format.

    Returns
    -------
    LikelihoodResult
    """
    def step(current: Mixture) -> tuple[float, Mixture]:
        log_prob, resp = posteriors(X, current, model)
        stepped = em_step(X, resp, model, fixed_covariances=fixed_covariances,
                          sample_weight=sample_weight)
        return _mean(log_prob, sample_weight), stepped

    return iterate(step, params, tol=tol, max_iter=max_iter, lower_bound=lower_bound,
                   previous_change=previous_change, verbose=verbose,
                   verbose_interval=verbose_interval)


def iterate(step: Callable[[Mixture], tuple[float, Mixture]], params: Mixture, *,
            tol: float, max_iter: int, lower_bound: float = -np.inf,
            previous_change: float = np.inf, verbose: int = 0,
            verbose_interval: int = 10) -> LikelihoodResult:
    """GaussianMixture's loop around ``step``, with the stop of
    :func:`run_likelihood_phase`.

    Parameters
    ----------
    step : callable
        ``step(params) -> (mean log-likelihood of params, stepped params)``:
        one pass, wherever the rows are (in memory, or in the blocks of a
        Dask array, :mod:`._dask`).
    params : Mixture
    tol, max_iter, lower_bound, previous_change, verbose, verbose_interval
        As in :func:`run_likelihood_phase`.

    Returns
    -------
    LikelihoodResult
    """
    lower_bounds = []
    converged = False
    change = previous_change
    start = previous_time = time()
    for n_iter in range(1, max_iter + 1):
        previous, previous_change = lower_bound, change
        lower_bound, params = step(params)
        lower_bounds.append(lower_bound)
        change = lower_bound - previous
        if verbose and n_iter % verbose_interval == 0:
            if verbose == 1:
                print(f"  Iteration {n_iter}")
            else:
                now = time()
                print(f"  Iteration {n_iter}\t time lapse {now - previous_time:.5f}s\t "
                      f"ll change {change:.5f}")
                previous_time = now
        if abs(change) < tol and remaining_gain(change, previous_change, lower_bound) < tol:
            converged = True
            break
    if verbose and max_iter > 0:
        status = "converged" if converged else "did not converge"
        if verbose == 1:
            print(f"Initialization {status}.")
        else:
            print(f"Initialization {status}. time lapse {time() - start:.5f}s\t lower bound"
                  f" {lower_bound:.5f}.")
    return LikelihoodResult(params, lower_bounds, converged, change)


def _mean(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """``np.average(values, weights=weights)``, also where the sum overflows:
    the identity model's log-densities at spreads near 1e153 are -1e306 each."""
    with np.errstate(over="ignore"):
        mean = float(np.average(values, weights=weights))
    if np.isinf(mean) and np.all(np.isfinite(values)):
        shares = (np.full(len(values), 1.0 / len(values)) if weights is None
                  else weights / np.sum(weights))
        mean = float(np.sum(values * shares))
    return mean


def remaining_gain(change: float, previous_change: float, lower_bound: float) -> float:
    """Gain still to come after a step that gained ``change``, the one before
    having gained ``previous_change``, at mean log-likelihood ``lower_bound``.

    EM converges linearly, so the gains fall geometrically at the rate
    ``rho = change / previous_change`` and their tail sums to
    ``change * rho / (1 - rho)``. Without a rate (the first two steps) the
    tail is unknown and taken as infinite; a gain at the rounding level of
    ``lower_bound`` leaves nothing to come.
    """
    if change <= 64 * np.finfo(float).eps * max(1.0, abs(lower_bound)):
        return 0.0
    if not np.isfinite(previous_change):
        return np.inf
    if previous_change <= 0.0:  # the step before lost only by rounding
        return change
    rate = change / previous_change
    return np.inf if rate >= 1.0 else change * rate / (1.0 - rate)


class InMemoryRows:
    """Rows held in memory, shape (n_samples, n_features): what the fit reads
    (:class:`._dask.DaskRows` is the same for the blocks of a Dask array)."""

    def __init__(self, array: np.ndarray, sample_weight: np.ndarray | None = None) -> None:
        self.array, self.sample_weight = array, sample_weight
        self.shape, self.dtype = array.shape, array.dtype

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        return self.array[rows]

    @property
    def imputed(self) -> np.ndarray:
        """The rows the starts read (no entry is missing here)."""
        return self.array

    @property
    def observed_features(self) -> float:
        """Observed entries per row (all of them here)."""
        return self.shape[1]

    def subset(self, rows: np.ndarray) -> InMemoryRows:
        """The rows ``rows`` (indices) with their weights."""
        return InMemoryRows(self.array[rows],
                            None if self.sample_weight is None else self.sample_weight[rows])

    def cold_start_rows(self, rows: np.ndarray) -> np.ndarray:
        """The rows of the subsample ``rows`` that the cold start reads."""
        return self.array[rows]

    def posteriors(self, params: Mixture,
                   model: CovarianceType) -> tuple[np.ndarray, np.ndarray]:
        """:func:`posteriors` of the rows."""
        return posteriors(self.array, params, model)

    def run_phase(self, params: Mixture, model: CovarianceType,
                  **kwargs: Any) -> LikelihoodResult:
        """:func:`run_likelihood_phase` on the rows (with their weights)."""
        return run_likelihood_phase(self.array, params, model,
                                    sample_weight=self.sample_weight, **kwargs)


def far_posteriors(X: np.ndarray, params: Mixture, model: CovarianceType) -> np.ndarray:
    """Posteriors of rows so far from the means that their squared distances
    overflow (the E-step's log-densities are then all -inf, its posteriors NaN).

    With each row written ``x = r v`` (``r`` its largest entry's size), the
    weighted log-density of component k is, up to a term common to the row,
    ``r^2 e_k`` with::

        e_k = -v^T (P_k - P_1) v / 2 + v^T P_k mu_k / r + c_k / r^2

    where ``c_k`` gathers the weight, the determinant and ``mu_k^T P_k mu_k``.
    Nothing in ``e_k`` overflows, the quadratic term vanishes exactly between
    components of equal precision (where the means' linear term decides),
    and ``exp(r (r (e_k - max e)))`` is the posteriors' limit when ``r^2``
    itself overflows.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    params : Mixture
    model : CovarianceType

    Returns
    -------
    resp : ndarray of shape (n_samples, n_components)
    """
    means, chol = params.means, params.precisions_cholesky
    n_components, n_features = means.shape
    precisions = model.precision_matrices(chol, n_components, n_features)
    with np.errstate(divide="ignore"):  # a weight of zero is allowed
        constant = (np.log(params.weights)
                    + model.log_det_cholesky(chol, n_features)
                    - 0.5 * np.einsum("ki,kij,kj->k", means, precisions, means))
    size = np.max(np.abs(X), axis=1, keepdims=True)
    size[size == 0.0] = 1.0
    V = X / size
    # Divided twice: size**2 may overflow (the constant then drops out, and a
    # weight of zero keeps its -inf).
    e = (-0.5 * np.einsum("ni,kij,nj->nk", V, precisions - precisions[0], V)
         + np.einsum("ni,kij,kj->nk", V, precisions, means) / size
         + constant / size / size)
    e -= e.max(axis=1, keepdims=True)
    with np.errstate(over="ignore", under="ignore"):
        resp = np.exp(size * (size * e))
    return resp / resp.sum(axis=1, keepdims=True)
