"""Preconditioned gradient descent on the DDPM objective, one noise level at a time."""

import time
from enum import Enum
from typing import NamedTuple

import numpy as np

from ._coordinates import (
    capped,
    covariance_step,
    log_covariance_change,
    noised_norms,
    noised_square_times,
)
from .._numerics._fastops import TINY
from ._forward import noise_coefficients
from ._history import PhaseKind
from ._loss import (
    NoiseCache,
    draw_seeds,
    row_sq_norms,
    stein_objective,
)
from ._score_model import MixtureParams
from ._span_noise import SpanNoisePool, span_basis, uses_span_noise

# Trust region of one step: a logit moves by at most this (covariances: _covariance).
_MAX_LOGIT_STEP = 0.5
# Trust region of one step: a mean moves by at most this many noised standard deviations.
_MAX_MEAN_STEP = 3.0
# Floor of a component's responsibility mass, which its EM-matched step divides by.
_MIN_MEAN_RESP = 1e-3
# Block shares of the rate; tuned on d = 50 two-component data (docs/design.rst).
_LR_SCALE = {"covariance": 0.5, "weight_logits": 0.5}
# Relative loss rise that rejects a step: between MC rounding and overshoots (docs/design.rst).
_LOSS_RISE_TOL = 1e-7
# Smallest rate any halving of the rate reaches, as a share of the phase's rate.
_MIN_LEARNING_RATE = 1.0 / 64
# Cosine below which a step reverses the previous one; set on d = 10, K = 4 (docs/design.rst).
_REVERSAL_COSINE = -0.5
# Power phase settles below this share of its peak change; set on d = 50 (docs/design.rst).
_POWER_SETTLED = 0.1


class StopRule(str, Enum):
    """When a phase has converged."""

    SPAN = "span"  # the power phase: the means' span has settled
    PARAMS = "params"  # every parameter moves by less than the phase's tol


class Phase(NamedTuple):
    """One phase of the schedule: gradient descent at a fixed noise level."""

    kind: PhaseKind
    t: float
    max_steps: int
    learning_rate: float
    learn: tuple  # which of "means", "covariance", "weight_logits" move
    stop: StopRule
    tol: float
    centred: bool = False  # keep the means' average at the data's mean (zero)
    # Weights by their fixed-point equation pi_j = E[w_j(x_t)] instead of a
    # gradient step (see _preconditioned_step).
    closed_form_weights: bool = True
    bounds: object = None  # DataBounds of the data, or None
    covariance_rate: float = _LR_SCALE["covariance"]  # the covariances' share of the rate
    # The smallest move the phase's rows can tell (in _param_change's units):
    # a step that raises the loss and moves less ends the phase instead of
    # being retried at half the rate (see run_fixed_noise); 0: never.
    resolution: float = 0.0


class PhaseResult(NamedTuple):
    params: MixtureParams
    losses: list
    n_steps: int
    converged: bool
    learning_rate: float  # after any halving (see run_fixed_noise)


def _preconditioned_step(params, grad, curvature, *, phase, model):
    """One gradient step scaled by the Gauss-Newton curvature.

    With this scaling a unit learning rate at small noise moves each mean like
    one EM step (Shah, Chen & Klivans, 2023): the curvature of the loss in
    ``mu_j`` is ``2 a^2 E[w_j] T_j^{-2}``, so the step is
    ``T_j^2 grad / (2 a^2 E[w_j])``.
    """
    a, _ = noise_coefficients(phase.t)
    lr = phase.learning_rate
    means, cov, logits = params
    T = curvature.noised_covariances
    mass = np.maximum(curvature.mean_resp, _MIN_MEAN_RESP)
    if "means" in phase.learn:
        step = lr * noised_square_times(T, grad.means, model)
        step /= (2.0 * a * a * mass)[:, np.newaxis]
        # Trust region: no mean moves by more than a few noised standard deviations.
        means = means - _trust_region(step, noised_norms(T, step, model),
                                      _MAX_MEAN_STEP)
        if phase.centred:
            means = means - means.mean(axis=0)
    if "covariance" in phase.learn:
        cov = covariance_step(
            cov, curvature.noised_gradient, T, mean_resp=mass, a=a,
            scale=phase.covariance_rate * lr, model=model, n_features=means.shape[1],
        )
    means, cov = _within_bounds(means, cov, phase.bounds, model)
    if "weight_logits" in phase.learn and phase.closed_form_weights:
        # At small noise the score of well-separated components hardly depends
        # on the weights, so the loss is nearly flat in the logits and gradient
        # steps let them drift (errors of 0.5 seen at separation 8). The
        # population DDPM loss is stationary in the logits where the weights
        # equal the noised posteriors' mean, which is what this sets them to:
        # the same fixed point, well conditioned (tests/test_optim.py).
        logits = np.log(np.maximum(curvature.mean_resp, TINY))
    elif "weight_logits" in phase.learn:
        step = (_LR_SCALE["weight_logits"] * lr * grad.weight_logits
                / np.maximum(curvature.weight_logits, 1e-12))
        logits = logits - _trust_region(step, np.abs(step), _MAX_LOGIT_STEP)
    return MixtureParams(means, cov, logits)


def _trust_region(step, sizes, bound):
    """``step`` shrunk so that no size exceeds ``bound``: each entry of
    ``sizes`` (shape ``step.shape[:sizes.ndim]``, e.g. one norm per row of the
    means' step, or ``abs(step)`` for a step clipped entry by entry) scales
    its part of the step by ``min(1, bound / size)``."""
    scale = np.minimum(1.0, bound / np.maximum(sizes, TINY))
    return step * scale.reshape(scale.shape + (1,) * (step.ndim - scale.ndim))


def _within_bounds(means, cov, bounds, model):
    """Means and covariance coordinates of type ``model`` projected into
    DataBounds (or as they are when there are none)."""
    if bounds is None:
        return means, cov
    return (np.clip(means, bounds.low, bounds.high),
            capped(cov, model, bounds.max_variance))


def _param_change(old, new, model, t=0.0):
    """Largest movement of any parameter, in units of its component's scale
    at noise level t: means in noised standard deviations, noised
    covariances and weights in log terms.

    A phase at level t sees a covariance only through ``a^2 Sigma + s^2 I``:
    a component whose own variance shrinks far below ``s^2`` (one sitting on
    few rows) leaves its objective flat, and in clean units its log-variance
    fell by the whole trust region a step, its mean moved by tens of its own
    standard deviations, and the phase ran its budget (docs/design.rst)."""
    a, s2 = noise_coefficients(t)
    old_cov = model.noised(model.from_coordinates(old.covariance), a, s2)
    new_cov = model.noised(model.from_coordinates(new.covariance), a, s2)
    mean_move = noised_norms(new_cov, new.means - old.means, model)
    cov_move = log_covariance_change(old_cov, new_cov, model)
    logit_move = np.abs(
        (new.weight_logits - new.weight_logits.mean())
        - (old.weight_logits - old.weight_logits.mean())
    )
    return float(max(mean_move.max(), cov_move, logit_move.max()))


def _step_vector(old, new):
    """The step from old to new in the means and covariance coordinates, flat."""
    return np.concatenate([np.ravel(new.means - old.means),
                           np.ravel(new.covariance - old.covariance)])


def _reverses(step, previous):
    """Whether ``step`` goes back along ``previous`` (an oscillation)."""
    if previous is None:
        return False
    norms = np.linalg.norm(step) * np.linalg.norm(previous)
    return bool(norms > 0 and step @ previous < _REVERSAL_COSINE * norms)


def _span_change(old, new):
    """How far the power iteration still moves: the squared relative change
    of the means' second-moment matrix ``M = sum_k mu_k mu_k^T``. The means
    may turn within their span (the objective at large noise hardly depends
    on how), so ``M``, which is blind to that, is what settles; it also
    settles where the span is degenerate (means nearly collinear), where the
    principal angles of a basis of the span jump from step to step, and it
    carries the means' overall norm."""
    old_moment, new_moment = old.means.T @ old.means, new.means.T @ new.means
    scale = max(float(np.linalg.norm(new_moment)), TINY)
    # Capped: the means grow by many orders from a small start.
    relative = min(float(np.linalg.norm(new_moment - old_moment)) / scale, 1e100)
    return relative * relative


def _objective_and_step(X, phase, seeds, *, model, fixed=False, dealt=None,
                        sq_norms=None):
    """The phase's objective under the noise draw that ``seeds`` give, and
    its step (run_fixed_noise holds the draw fixed, ``fixed=True``, and keeps
    the draws between evaluations; run_fresh_noise draws anew, or deals its
    span noise from a pool, ``dealt``); ``sq_norms`` are X's
    :func:`._loss.row_sq_norms`, if known.

    Returns
    -------
    evaluate : callable
        ``evaluate(params) -> (loss, state)``, a deterministic function.
    take_step : callable
        ``take_step(params, state, learning_rate) -> params``.
    """
    noise_cache = NoiseCache() if fixed else None

    def evaluate(params):
        loss, grad, curvature = stein_objective(X, params, phase.t, seeds=seeds, model=model,
                                                noise_cache=noise_cache, dealt=dealt,
                                                sq_norms=sq_norms)
        return loss, (grad, curvature)

    def take_step(params, state, learning_rate):
        return _preconditioned_step(params, *state,
                                    phase=phase._replace(learning_rate=learning_rate),
                                    model=model)
    return evaluate, take_step


def run_fixed_noise(X, params, phase, *, seeds, model, verbose=0, verbose_interval=10):
    """Gradient descent on the DDPM objective at one noise level, under one
    noise draw held fixed (contrast :func:`run_fresh_noise`).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Standardised training data.
    params : MixtureParams
        Starting point.
    phase : Phase
    seeds : ndarray
        Seeds of the noise (:func:`._loss.draw_seeds`), held fixed during
        the phase so that it minimises one deterministic Monte Carlo version of
        the objective (and ``tol`` can be met); each draw is used with its
        antithetic partner.
    model : CovarianceType
        The covariance type, with its ``reg_covar`` (standardised units).
    verbose, verbose_interval : int
        Progress output as in GaussianMixture.

    Returns
    -------
    PhaseResult
    """
    losses = []
    converged = False
    tic = time.time()
    n_step = 0
    learning_rate = phase.learning_rate
    previous_step = None
    peak_change = 0.0
    # float32 passes round the loss at ~1e-7 relative: rises below 100 of
    # their rounding units are not evidence of an overshoot.
    rise_tol = max(_LOSS_RISE_TOL, 100 * np.finfo(X.dtype).eps)
    evaluate, take_step = _objective_and_step(X, phase, seeds, model=model, fixed=True,
                                              sq_norms=_span_sq_norms(X, params, model))
    loss, state = evaluate(params)
    for n_step in range(1, phase.max_steps + 1):
        losses.append(loss)
        new = take_step(params, state, learning_rate)
        new_loss, new_state = evaluate(new)
        # The noise is fixed, so the loss is a deterministic function: a step
        # that raises it overshot (overlapping components, where the
        # EM-matched curvature misses the posteriors' movement), and is
        # retried at half the rate. The power phase is exempt: it grows the
        # means from a small start, like a power iteration.
        overshot = new_loss > loss + rise_tol * abs(loss)
        if overshot and _param_change(params, new, model, phase.t) < phase.resolution:
            # The step map has reached the draw's optimum to within what the
            # rows can tell: there the rise shrinks in proportion to the rate
            # (the step no longer descends the draw's objective), and halving
            # spent up to six more passes moving a 64th of a step.
            converged = True
            break
        can_halve = learning_rate > _MIN_LEARNING_RATE * phase.learning_rate
        if phase.stop != StopRule.SPAN and overshot and can_halve:
            learning_rate *= 0.5
            change = np.inf
        else:
            if phase.stop == StopRule.SPAN:
                change = _span_change(params, new)
                peak_change = max(peak_change, change)
            else:
                change = _param_change(params, new, model, phase.t)
            # A reversal halves the rate in the power phase too: at twice
            # the EM-matched rate its means can swing about the span's
            # fixed point instead of settling (docs/design.rst).
            step = _step_vector(params, new)
            if change >= phase.tol and can_halve and _reverses(step, previous_step):
                learning_rate *= 0.5
            previous_step = step
            params, loss, state = new, new_loss, new_state
        if verbose > 1 and n_step % verbose_interval == 0:
            toc = time.time()
            print(
                f"    Iteration {n_step}\t time lapse {toc - tic:.5f}s\t "
                f"loss {loss:.5f}\t change {change:.2e}"
            )
            tic = toc
        elif verbose == 1 and n_step % verbose_interval == 0:
            print(f"    Iteration {n_step}")
        # The power iteration first crawls (a small start moves little), then
        # turns and grows, then settles: it has settled once its moves are
        # small and well below the largest it made.
        settled = phase.stop != StopRule.SPAN or change < _POWER_SETTLED * peak_change
        if change < phase.tol and settled:
            converged = True
            break
    return PhaseResult(params, losses, n_step, converged, learning_rate)


# Averaging stops at this MC / statistical variance ratio; tuned on d = 10, K = 4 (docs/design.rst).
_MC_VARIANCE_FRACTION = 0.08
# Fewest iterates averaged: the spread of fewer says too little about the noise.
_MIN_DRAWS = 3
# Cap on the iterates' lag-one autocorrelation: (1 + r) / (1 - r) is at most 9.
_MAX_AUTOCORRELATION = 0.8
# Burn-in ends below one standard error of movement (movement_in_standard_errors, design.rst).
_BURN_IN_MOVEMENT = 1.0
# A burn-in step moving the means this much more than the one before overshot: rate halved.
_OVERSHOOT_GROWTH = 1.5


def statistical_variance(params, n_samples, model):
    """Sampling variance of the means' estimates, summed over coordinates.

    ``sum_j d v_j / (n pi_j)`` for mean variances v_j (per coordinate) and
    weights pi_j: the squared error maximum likelihood makes on separated
    components, the scale the Monte Carlo noise of the fit is measured against.
    """
    n_components, n_features = params.means.shape
    v = model.mean_variances(model.from_coordinates(params.covariance), n_components)
    return float(np.sum(n_features * v / (n_samples * params.weights())))


def movement_in_standard_errors(old, new, n_samples, model):
    """How far the means moved, relative to their statistical precision.

    The squared movement of mean j in its component's Mahalanobis metric, per
    coordinate, times ``n pi_j`` (so one is a move of one standard error per
    coordinate), averaged over components. Nearly empty components, whose
    means the data hardly determine, count for little.
    """
    n_features = new.means.shape[1]
    cov = model.from_coordinates(new.covariance)
    moves = noised_norms(cov, new.means - old.means, model)
    return float(np.mean(moves**2 * n_samples * new.weights() / n_features))


def _variance_of_average(iterates):
    """Monte Carlo variance of the average of correlated iterates, summed over
    coordinates, for iterates of shape (m, ...).

    Successive iterates share the contraction of the step (an AR(1) process
    with coefficient r): the average's variance is ``var / m`` times
    ``(1 + r) / (1 - r)``. r is the lag-one autocorrelation pooled over all
    coordinates, plus 1 / m, the bias of that estimate for white noise.
    """
    m = len(iterates)
    deviations = iterates - iterates.mean(axis=0)
    total = np.sum(deviations**2)
    if total == 0:
        return 0.0
    lag_one = np.sum(deviations[1:] * deviations[:-1]) / total + 1.0 / m
    r = min(max(lag_one, 0.0), _MAX_AUTOCORRELATION)
    return total / (m - 1) / m * (1.0 + r) / (1.0 - r)


class FreshNoiseResult(NamedTuple):
    params: MixtureParams  # the average of the iterates after the burn-in
    losses: list
    n_burn_in: int  # steps until the movement rule was met
    n_averaged: int  # iterates averaged (the last burn-in iterate included)
    converged: bool  # whether the burn-in met its rule within max_steps
    learning_rate: float


def _span_sq_norms(X, params, model):
    """X's row_sq_norms where the passes draw span noise, else None."""
    if not uses_span_noise(model, *params.means.shape):
        return None
    return row_sq_norms(X)


def _span_pool(X, params, random_state):
    """A SpanNoisePool for the rows of X and the span of the means."""
    n_samples, n_features = X.shape
    rank = span_basis(params.means).shape[1]
    rng = np.random.default_rng(draw_seeds(random_state, n_samples)[0])
    return SpanNoisePool(rng, n_samples, rank, n_features=n_features, dtype=X.dtype)


def run_fresh_noise(X, params, phase, *, random_state, model, max_draws, verbose=0,
                    verbose_interval=10, n_samples=None):
    """The full-data stage: preconditioned steps, each with a fresh noise draw.

    Each step is one pass over X with new noise, so no pass is spent
    converging to one Monte Carlo version of the objective (span noise, for
    spherical models, is dealt anew each step from one
    :class:`._span_noise.SpanNoisePool` drawn for the stage). The burn-in runs
    until a step moves the means by less than their statistical precision
    (:func:`movement_in_standard_errors` at most ``_BURN_IN_MOVEMENT``), or every
    parameter by less than ``phase.tol``, for at most ``phase.max_steps``
    steps; near the optimum each preconditioned step contracts like an EM
    step, so iterates that use independent draws carry nearly independent
    noise. The iterates from the last burn-in step on are then averaged,
    at least ``_MIN_DRAWS`` and at most ``max_draws`` of them, until the
    Monte Carlo variance of their average (the spread of the iterates,
    divided by their number and corrected for their autocorrelation) is
    below ``_MC_VARIANCE_FRACTION`` of the means' statistical variance
    (:func:`statistical_variance`).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Standardised data.
    params : MixtureParams
        Start (the subsample's optimum, or the current estimate).
    phase : Phase
        Level, rate, most burn-in steps, tolerance and bounds.
    random_state : RandomState
        Source of the draws' seeds.
    model : CovarianceType
        The covariance type, with its ``reg_covar`` (standardised units).
    max_draws : int
        Most iterates averaged; 0 or 1 keeps the last burn-in iterate.
    verbose, verbose_interval : int
    n_samples : int, default=None
        Rows of data behind X (X may repeat them, for several draws a point),
        which sets the statistical precision; X.shape[0] if None.

    Returns
    -------
    FreshNoiseResult
    """
    n_samples = X.shape[0] if n_samples is None else n_samples
    min_draws = min(_MIN_DRAWS, max_draws)
    losses = []
    learning_rate = phase.learning_rate
    previous_movement = np.inf
    converged = False
    n_burn_in = 0
    tic = time.time()

    pool = None
    if (uses_span_noise(model, *params.means.shape)
            and phase.max_steps > 0 and max(phase.max_steps, max_draws) > 1):
        pool = _span_pool(X, params, random_state)
    sq_norms = _span_sq_norms(X, params, model) if phase.max_steps > 0 else None

    def step(params, rate):
        seeds = draw_seeds(random_state, X.shape[0])
        dealt = None if pool is None else pool.deal(np.random.default_rng(seeds[0]))
        evaluate, take_step = _objective_and_step(
            X, phase, seeds, model=model, dealt=dealt, sq_norms=sq_norms,
        )
        loss, state = evaluate(params)
        losses.append(loss)
        return take_step(params, state, rate)

    for n_burn_in in range(1, phase.max_steps + 1):
        new = step(params, learning_rate)
        movement = movement_in_standard_errors(params, new, n_samples, model)
        change = _param_change(params, new, model)
        params = new
        if verbose > 1 and n_burn_in % verbose_interval == 0:
            toc = time.time()
            print(f"    Iteration {n_burn_in}\t time lapse {toc - tic:.5f}s\t "
                  f"loss {losses[-1]:.5f}\t movement {movement:.2e} standard errors")
            tic = toc
        elif verbose == 1 and n_burn_in % verbose_interval == 0:
            print(f"    Iteration {n_burn_in}")
        if movement <= _BURN_IN_MOVEMENT or change < phase.tol:
            converged = True
            break
        if (movement > _OVERSHOOT_GROWTH * previous_movement
                and learning_rate > _MIN_LEARNING_RATE * phase.learning_rate):
            learning_rate *= 0.5
        previous_movement = movement
    if phase.max_steps == 0 or max_draws <= 1:
        return FreshNoiseResult(params, losses, n_burn_in, 1, converged, learning_rate)

    total = [block.copy() for block in params]
    means = [params.means]
    while len(means) < max_draws:
        params = step(params, learning_rate)
        for acc, block in zip(total, params):
            acc += block
        means.append(params.means)
        if len(means) >= min_draws:
            limit = statistical_variance(params, n_samples, model)
            if _variance_of_average(np.asarray(means)) <= _MC_VARIANCE_FRACTION * limit:
                break
    average = MixtureParams(*[acc / len(means) for acc in total])
    return FreshNoiseResult(average, losses, n_burn_in, len(means), converged,
                            learning_rate)


def blend(params, target, share):
    """``share`` of the way from params to target (a running average).

    Means and covariance coordinates mix linearly, the weights as
    probabilities. With ``share = rows of a chunk / rows seen`` and target the
    chunk's optimum this averages the per-chunk estimates over a stream.
    """
    weights = (1.0 - share) * params.weights() + share * target.weights()
    return MixtureParams(
        (1.0 - share) * params.means + share * target.means,
        (1.0 - share) * params.covariance + share * target.covariance,
        np.log(np.maximum(weights, TINY)),
    )
