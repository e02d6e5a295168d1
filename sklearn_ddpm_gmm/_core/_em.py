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

from collections import deque
from collections.abc import Callable
from time import time
from typing import Any, NamedTuple

import numpy as np
from scipy.special import softmax

from .._numerics._fastops import log_normalise
from ._covariance import CovarianceType, Statistics
from ._mixture import Mixture, make_mixture
from ._prior import CovariancePrior


# The final phase stops once the gain still to come is below this share of
# the means' statistical resolution K d / n: a maximum's means are about
# sqrt(K d / n) from the truth in the Fisher metric, and stopping a gain g
# short of it adds at most 2 n g / (K d) to their squared error's ratio, so
# 0.05 keeps their error within sqrt(1.1) = 1.05x of the maximum's.
_RESOLUTION_SHARE = 0.05
# SQUAREM's bound on the step length grows or shrinks by this factor
# (Varadhan & Roland's R package SQUAREM, ``mstep``).
_STEP_GROWTH = 4.0
# Jumps whose measured rates the stop remembers (see iterate).
_RATE_MEMORY = 3
# Floor of the rate at which an accelerated phase takes its gains to fall
# once a jump was measured: its stop asks a gain below tol / 99 (or
# settled / 99, see settled_gain). Set on one case (the d = 25 pair above);
# fits that converge fast pay a pass or two.
_SLOWEST_RATE = 0.99


def stopping_tol(tol: float, n_components: int, n_samples: int, n_features: int) -> float:
    """The final phase's tolerance on the gain per row: ``tol``, or less on
    data large enough to resolve a smaller gain (see ``_RESOLUTION_SHARE``)."""
    return min(tol, _RESOLUTION_SHARE * n_components * n_features / n_samples)


def settled_gain(n_samples: int) -> float:
    """The gain per row still to come that the final phase's stop counts as
    nothing, whatever ``tol``: a gain g short of the maximum is a distance
    sqrt(2 n g) standard errors from it along the slowest direction, so below
    ``_RESOLUTION_SHARE / n`` even that direction's error stays within
    sqrt(1.1) = 1.05x of the maximum's. (A step's own gain still answers to
    ``tol``, as in GaussianMixture.)"""
    return _RESOLUTION_SHARE / n_samples


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
    return log_normalise(weighted, overwrite=True)


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
                         sample_weight: np.ndarray | None = None, accelerated: bool = False,
                         accelerate_below: float = np.inf, beat: float = -np.inf,
                         settled: float = 0.0, verbose: int = 0,
                         verbose_interval: int = 10) -> LikelihoodResult:
    """EM-matched steps on the integrated objective until the gain per row
    still to come is below ``tol``, or below ``settled`` where that is the
    larger (see :func:`remaining_gain`).

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
    accelerated : bool, default=False
        EM's steps accelerated by SQUAREM (:func:`iterate`).
    accelerate_below : float, default=inf
        With ``accelerated``, plain EM steps until one gains less than this
        (:func:`iterate`).
    beat : float, default=-inf
        A rival's mean log-likelihood: the phase ends once it cannot exceed
        it (:func:`iterate`).
    settled : float, default=0.0
        Gains still to come below this count as nothing, even where ``tol``
        is smaller (:func:`settled_gain`).
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
                   previous_change=previous_change,
                   extrapolation=Extrapolation.of(model) if accelerated else None,
                   accelerate_below=accelerate_below, beat=beat, settled=settled,
                   verbose=verbose, verbose_interval=verbose_interval)


def run_statistics_phase(pass_statistics: Callable[[Mixture], Statistics], params: Mixture,
                         model: CovarianceType, *, tol: float, max_iter: int,
                         lower_bound: float = -np.inf, previous_change: float = np.inf,
                         fixed_covariances: np.ndarray | None = None,
                         accelerated: bool = False, accelerate_below: float = np.inf,
                         beat: float = -np.inf, settled: float = 0.0, verbose: int = 0,
                         verbose_interval: int = 10,
                         prior: CovariancePrior | None = None) -> LikelihoodResult:
    """:func:`run_likelihood_phase` where a pass returns the rows' total
    sufficient statistics (``pass_statistics(params)``, with the summed
    log-likelihood and weight): the blocks of a Dask array, rows with
    missing entries. With a ``prior`` the objective is the log-likelihood
    plus the prior's log-density, per row.
    """
    def step(current: Mixture) -> tuple[float, Mixture]:
        stats = pass_statistics(current)
        penalty = (0.0 if prior is None or model.is_fixed else
                   model.prior_log_density(current.precisions_cholesky,
                                           len(current.weights), prior))
        return ((stats.log_likelihood + penalty) / stats.weight,
                make_mixture(*model.m_step(stats, fixed_covariances, prior), model))

    return iterate(step, params, tol=tol, max_iter=max_iter, lower_bound=lower_bound,
                   previous_change=previous_change,
                   extrapolation=Extrapolation.of(model) if accelerated else None,
                   accelerate_below=accelerate_below, beat=beat, settled=settled,
                   verbose=verbose, verbose_interval=verbose_interval)


class _Jump(NamedTuple):
    """A SQUAREM extrapolation (:meth:`Extrapolation.jump`)."""

    params: Mixture
    length: float  # the step length ``a``, within [1, step_max]
    rate: float  # EM's contraction rate measured, ``1 - |v| / |r|``


class Extrapolation:
    """The unconstrained coordinates in which SQUAREM extrapolates a
    Mixture: the weights' logs (the mixture's softmax renormalises them), the
    means, and the covariance type's coordinates (:meth:`CovarianceType.
    to_coordinates`: log-variances or a log-diagonal Cholesky factor of the
    covariance less ``reg_covar``), so every jump is a valid mixture.

    Parameters
    ----------
    model : CovarianceType
        With ``reg_covar`` in the rows' units.
    """

    def __init__(self, model: CovarianceType) -> None:
        self.model = model

    @classmethod
    def of(cls, model: CovarianceType) -> Extrapolation | None:
        """The extrapolation of a type, None where the type defines no
        coordinates (EM then runs unaccelerated)."""
        if type(model).to_coordinates is CovarianceType.to_coordinates:
            return None
        return cls(model)

    def jump(self, start: Mixture, first: Mixture, second: Mixture,
             step_max: float) -> _Jump | None:
        """SQUAREM's S3 jump from two EM steps ``start -> first -> second``;
        None where the coordinates are not finite (a weight of zero) or the
        steps did not move."""
        (x0, shape), (x1, _), (x2, _) = (self._vector(params)
                                         for params in (start, first, second))
        if not (np.all(np.isfinite(x0)) and np.all(np.isfinite(x1))
                and np.all(np.isfinite(x2))):
            return None
        r = x1 - x0
        v = x2 - 2.0 * x1 + x0
        r_norm, v_norm = float(np.linalg.norm(r)), float(np.linalg.norm(v))
        if r_norm == 0.0 or v_norm == 0.0:
            return None
        length = min(max(r_norm / v_norm, 1.0), step_max)
        rate = 1.0 - v_norm / r_norm
        if length == 1.0:
            return _Jump(second, 1.0, rate)
        try:
            params = self._mixture(x0 + 2.0 * length * r + length * length * v, start,
                                   shape)
        except ValueError:  # a covariance that rounds to singular: EM's path
            return _Jump(second, 1.0, rate)
        return _Jump(params, length, rate)

    def _vector(self, params: Mixture) -> tuple[np.ndarray, tuple[int, ...]]:
        """The coordinates, flat, and the covariance coordinates' shape."""
        with np.errstate(divide="ignore"):
            parts = [np.log(params.weights.astype(float)), params.means.ravel()]
        shape: tuple[int, ...] = ()
        if not self.model.is_fixed:
            coordinates = self.model.to_coordinates(params.covariances)
            parts.append(coordinates.ravel())
            shape = coordinates.shape
        return np.concatenate(parts).astype(float), shape

    def _mixture(self, vector: np.ndarray, like: Mixture,
                 shape: tuple[int, ...]) -> Mixture:
        n_components, n_features = like.means.shape
        dtype = like.means.dtype
        logits, vector = vector[:n_components], vector[n_components:]
        means = vector[:n_components * n_features].reshape(n_components, n_features)
        if self.model.is_fixed:
            covariances = like.covariances
        else:
            covariances = self.model.from_coordinates(
                vector[n_components * n_features:].reshape(shape))
        return make_mixture(softmax(logits).astype(dtype), means.astype(dtype),
                            covariances.astype(dtype), self.model)


class _Passes:
    """The passes of one phase: the lower bounds they record, the budget
    ``max_iter``, the stop's test and GaussianMixture's progress lines."""

    def __init__(self, step: Callable[[Mixture], tuple[float, Mixture]], *, tol: float,
                 max_iter: int, lower_bound: float, settled: float, verbose: int,
                 verbose_interval: int) -> None:
        self.step, self.tol, self.max_iter = step, tol, max_iter
        self.remaining_tol = max(tol, settled)
        self.verbose, self.verbose_interval = verbose, verbose_interval
        self.lower_bounds: list = []
        self.last = lower_bound
        self.start = self.previous_time = time()

    @property
    def passes_left(self) -> int:
        return self.max_iter - len(self.lower_bounds)

    def evaluate(self, params: Mixture) -> tuple[float, Mixture]:
        """One pass: the mean log-likelihood of ``params`` and their EM step."""
        value, stepped = self.step(params)
        self.lower_bounds.append(value)
        n_iter, change, self.last = len(self.lower_bounds), value - self.last, value
        if self.verbose and n_iter % self.verbose_interval == 0:
            if self.verbose == 1:
                print(f"  Iteration {n_iter}")
            else:
                now = time()
                print(f"  Iteration {n_iter}\t time lapse {now - self.previous_time:.5f}s\t "
                      f"ll change {change:.5f}")
                self.previous_time = now
        return value, stepped

    def stops(self, change: float, remaining: float) -> bool:
        """The stop: an EM step's gain below tol, and the gains still to come
        below tol or settled."""
        return abs(change) < self.tol and remaining < self.remaining_tol

    def result(self, params: Mixture, *, converged: bool, change: float) -> LikelihoodResult:
        if self.verbose and self.max_iter > 0:
            status = "converged" if converged else "did not converge"
            if self.verbose == 1:
                print(f"Initialization {status}.")
            else:
                print(f"Initialization {status}. time lapse {time() - self.start:.5f}s\t "
                      f"lower bound {self.last:.5f}.")
        return LikelihoodResult(params, self.lower_bounds, converged, change)


def iterate(step: Callable[[Mixture], tuple[float, Mixture]], params: Mixture, *,
            tol: float, max_iter: int, lower_bound: float = -np.inf,
            previous_change: float = np.inf, extrapolation: Extrapolation | None = None,
            accelerate_below: float = np.inf, beat: float = -np.inf, settled: float = 0.0,
            verbose: int = 0, verbose_interval: int = 10) -> LikelihoodResult:
    """GaussianMixture's loop around ``step``, with the stop of
    :func:`run_likelihood_phase`, accelerated by SQUAREM where
    ``extrapolation`` is given.

    SQUAREM (Varadhan & Roland 2008, scheme S3) takes two EM steps
    ``x1 = F(x0)``, ``x2 = F(x1)`` and, with ``r = x1 - x0`` and
    ``v = x2 - 2 x1 + x0`` in the unconstrained coordinates, jumps to
    ``x' = x0 + 2 a r + a^2 v``, ``a = |r| / |v|``: along the direction in
    which EM contracts at the rate ``lam``, ``a = 1 / (1 - lam)`` and the jump
    lands on the fixed point, which EM would reach only geometrically. The
    next pass evaluates ``x'`` and steps from it; the jump is kept only if
    the likelihood at ``x'`` is at least that at ``x1`` (the monotone
    safeguard), else the loop goes on from ``x2`` as EM would. The longest
    jump allowed, ``a <= step_max``, grows fourfold after a kept jump at the
    bound (R's SQUAREM rule) and falls to a quarter of the rejected jump's
    length after a rejection (the same jump, rejected cycle after cycle,
    cost a third of the passes on a curved ridge).

    Every pass over the rows records one value in ``lower_bounds``: the
    mean log-likelihood of the parameters it evaluated. A rejected jump's
    value is below the one before it; no phase ends on one (a jump is not
    tried with fewer than two passes left).

    The stop is tested after each pass whose parameters are an EM step
    from the previous evaluated ones: the gain ``change`` of that step below
    ``tol``, and the gains still to come at EM's rate below ``tol`` or
    ``settled`` (:func:`remaining_gain`). Without extrapolation that rate is
    the ratio of two successive gains, as before. With it, SQUAREM also
    measures the rate in the parameters themselves (``lam = 1 - |v| / |r|``,
    the gains falling at ``lam^2``), and the stop takes the slowest of the rates of the last
    ``_RATE_MEMORY`` jumps and ``_SLOWEST_RATE``: right after a jump the fast
    directions dominate the next two steps, whose gains then fall quickly
    while a slow direction that the jump only partly crossed is left (two
    weakly separated components in 25 dimensions stopped 2.7e-4 per row
    below their maximum, at a measured rate of 0.97 where the slow one was
    0.995). A jump that gained as much (``tol`` or ``settled``) also
    forbids the stop. The first EM step from a kept jump has no ratio of
    gains, but its gain times ``rate / (1 - rate)`` still bounds the gains
    after it at any rate up to ``rate``: the stop takes that bound there (one
    pass fewer than waiting for a second step, in most accelerated fits).

    Parameters
    ----------
    step : callable
        ``step(params) -> (mean log-likelihood of params, stepped params)``:
        one pass, wherever the rows are (in memory, or in the blocks of a
        Dask array, :mod:`._dask`).
    params : Mixture
    tol, max_iter, lower_bound, previous_change, settled, verbose, verbose_interval
        As in :func:`run_likelihood_phase`.
    extrapolation : Extrapolation, default=None
        The coordinates SQUAREM extrapolates in; None for plain EM steps.
    accelerate_below : float, default=inf
        The jumps start once an EM step gains less than this per row; until
        then the loop takes plain EM steps. GaussianMixture's ``tol`` makes
        the path GaussianMixture's own up to where it stops, so that a start
        of GaussianMixture's ends at or above its fit (a jump from the start
        can carry it into another basin, a lower maximum); inf: jumps from
        the first steps.
    beat : float, default=-inf
        A mean log-likelihood to exceed (a rival start's): the phase ends,
        not converged, once its value plus the most its gains still to come
        can add stays below it: their tail at the slowest rate the stop
        assumes, ``_SLOWEST_RATE`` or slower (gains that grow never end it).

    Returns
    -------
    LikelihoodResult
    """
    loop = _Passes(step, tol=tol, max_iter=max_iter, lower_bound=lower_bound,
                   settled=settled, verbose=verbose, verbose_interval=verbose_interval)
    # ``parent``: the log-likelihood of the parameters whose EM step ``params``
    # is, and that step's predecessor's gain (a warm start continues both).
    parent, parent_change = lower_bound, previous_change
    step_max, jump_gain = 1.0, 0.0
    rates: deque[float] = deque(maxlen=_RATE_MEMORY)  # measured by the last jumps
    jumping = accelerate_below == np.inf  # else once an EM step gains less

    def remaining(change, previous_change, value):
        # The slowest of the rates known: from the two gains, or from the
        # parameters' steps (gains fall as the squared distance to the
        # maximum, at lam^2).
        if not rates:
            return remaining_gain(change, previous_change, value)
        bound = _tail(change, max(max(rates), _SLOWEST_RATE), value)
        if not np.isfinite(previous_change):
            # The first EM step from a jump: no ratio of gains (the jump is
            # not EM's step), but an EM step's gain bounds the gains after
            # it at any rate, so the rates' bound holds; not after a jump
            # that gained tol (or settled) or more (see below).
            return bound if jump_gain < loop.remaining_tol else np.inf
        return max(remaining_gain(change, previous_change, value), bound)

    def cannot_beat(change, previous_change, value):
        if beat == -np.inf:
            return False
        ratio = (change / previous_change if np.isfinite(previous_change)
                 and previous_change > 0.0 else np.inf)
        rate = max(ratio, _SLOWEST_RATE, *rates)
        return value + _tail(change, rate, value) < beat

    while loop.passes_left > 0:
        value, stepped = loop.evaluate(params)
        change = value - parent
        if loop.stops(change, remaining(change, parent_change, value)):
            return loop.result(stepped, converged=True, change=change)
        if cannot_beat(change, parent_change, value):
            return loop.result(stepped, converged=False, change=change)
        jumping = jumping or abs(change) < accelerate_below
        if extrapolation is None or not jumping or loop.passes_left < 3:
            params, parent, parent_change = stepped, value, change
            continue
        # Two EM steps x0 -> x1 -> x2, then the jump.
        start, first = params, stepped
        first_value, second = loop.evaluate(first)
        first_change = first_value - value
        jump = extrapolation.jump(start, first, second, step_max)
        if jump is not None:
            rates.append(min(jump.rate ** 2, 1.0) if jump.rate > 0 else 0.0)
        # A jump that gained tol (or settled) or more shows gains to come along a
        # direction where EM is slow, which its own last gains may not show.
        if (loop.stops(first_change, remaining(first_change, change, first_value))
                and jump_gain < loop.remaining_tol):
            return loop.result(second, converged=True, change=first_change)
        if cannot_beat(first_change, change, first_value):
            return loop.result(second, converged=False, change=first_change)
        if jump is None or jump.length == 1.0:  # x' = x2: nothing to test
            if jump is not None and step_max == 1.0:
                step_max = _STEP_GROWTH
            params, parent, parent_change = second, first_value, first_change
            continue
        jump_value, from_jump = loop.evaluate(jump.params)
        jump_gain = jump_value - first_value
        if jump_gain >= 0.0:
            if jump.length == step_max:
                step_max *= _STEP_GROWTH
            params, parent, parent_change = from_jump, jump_value, np.inf
        else:  # the safeguard: back on EM's path, with shorter jumps
            step_max = max(1.0, min(step_max, jump.length) / _STEP_GROWTH)
            params, parent, parent_change = second, first_value, first_change
    return loop.result(params, converged=False, change=parent_change)


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
    if not np.isfinite(previous_change):
        rate = np.inf
    elif previous_change <= 0.0:  # the step before lost only by rounding
        rate = 0.5
    else:
        rate = change / previous_change
    return _tail(change, rate, lower_bound)


def _tail(change: float, rate: float, lower_bound: float) -> float:
    """Sum of the gains after one of ``change`` that fall at ``rate``
    (:func:`remaining_gain`)."""
    if change <= 64 * np.finfo(float).eps * max(1.0, abs(lower_bound)):
        return 0.0
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

    def one_component_start(self, model: CovarianceType,
                            fixed_covariances: np.ndarray | None = None) -> Mixture:
        """Every row in one component: its M-step (missing entries, if any,
        at their columns' means, :attr:`imputed`)."""
        resp = np.ones((self.shape[0], 1), dtype=self.dtype)
        return em_step(self.imputed, resp, model, fixed_covariances=fixed_covariances,
                       sample_weight=self.sample_weight)

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
