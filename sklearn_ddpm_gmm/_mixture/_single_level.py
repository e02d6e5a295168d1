"""The paper's single-level estimator (``noise_level="auto"`` or a float).

The cold start (:func:`._cold_start.cold_start`) on a subsample, then the
cold-final phase there at the EM level (:func:`settle`), then the final stage
on all rows: Monte Carlo gradient steps on the DDPM objective at one small
noise level with fresh noise each step, and averaged iterates
(:func:`final_stage`). Each function maps (rows, parameters, spec) to
(parameters, :class:`._history.History`); :func:`fit_single_level` is the
pipeline the estimator calls.
"""

from typing import NamedTuple

import numpy as np
from joblib import Parallel, delayed

from .._ddpm._history import History, PhaseKind, phase_history
from .._ddpm._cold_start import cold_start, initial_params, noised_rows, run_ddpm_phase
from .._ddpm._loss import draw_seeds, stein_objective
from .._ddpm._optim import blend, run_fresh_noise
from .._ddpm._schedule import (
    cold_final_phase,
    cold_start_rows,
    em_level,
    single_level_final_phase,
)
from .._core._mixture import (
    attributes_from_coordinates,
    in_type,
    standardised_initial,
    to_coordinates,
)
from .._core._standardise import data_bounds, standardise, standardised
from .._numerics._threads import one_blas_thread

# Strides of the systematic subsamples the final stage first takes one step
# on each (see _ladder).
_LADDER_STRIDES = (64, 8)
# Most runs of the cold-final phase, each at the level the last one's
# estimate calls for (see settle).
_MAX_SETTLE_PHASES = 3


class SingleLevelResult(NamedTuple):
    """Outcome of :func:`fit_single_level` and :func:`partial_fit_single_level`."""

    attributes: dict  # the fitted attributes, in the data's units
    history: History
    converged: bool
    n_iter: int
    phase_reg: float  # regularisation of the phases, standardised units
    centre: np.ndarray  # (n_features,) the standardisation
    scale: float


def phase_reg(spec, scale, dtype):
    """Regularisation of the phases in standardised units: reg_covar, and at
    least the passes' resolution, below which a component collapsing further
    (reg_covar 1e-46 of the variance at spreads of 1e20) overflows them (the
    identity model's phases use none)."""
    resolution = np.finfo(spec.model.pass_dtype(dtype)).eps
    return max(spec.model.standardised_reg(scale), resolution)


def fit_single_level(X, spec, random_state, *, given, warm=None):
    """The single-level fit of X in the data's units.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    spec : FitSpec
    random_state : RandomState
    given : tuple of (weights, means, covariances)
        The user's starting values in the data's units, None where not given.
    warm : tuple of (weights, means, covariances), default=None
        The previous fit's attributes, to start from instead (warm_start).

    Returns
    -------
    SingleLevelResult
    """
    model = spec.model
    pass_dtype = model.pass_dtype(X.dtype)
    Z, centre, scale, bounds = standardise(X, pass_dtype, min_variance=model.min_variance)
    resolution = np.finfo(pass_dtype).eps
    if model.is_fixed and 1.0 / scale < resolution:
        # The phases noise standardised data at the unit variances' level: a
        # noise below the passes' rounding of the data is no noise.
        raise ValueError(
            f"The spread of X ({scale:.3g}) is too large for the single-level "
            f"estimator of covariance_type='identity': its unit standard "
            f"deviations are {1.0 / scale:.3g} of the data's, below the "
            f"{np.dtype(pass_dtype).name} passes' resolution. Use "
            "noise_level='integrated' (the default) or rescale X."
        )
    stored_reg = phase_reg(spec, scale, X.dtype)
    reg = 0.0 if model.is_fixed else stored_reg
    with one_blas_thread():
        if warm is not None:
            params = to_coordinates(*warm, model.with_reg(reg), centre=centre, scale=scale)
            history = History()
        else:
            given = standardised_initial(given, centre=centre, scale=scale)
            params, history = _best_cold_start(Z, spec, random_state, scale=scale,
                                               reg=reg, given=given)
        params, final, converged, n_iter = final_stage(Z, params, spec,
                                                       random_state=random_state, reg=reg,
                                                       bounds=bounds, ladder=True)
    attributes = attributes_from_coordinates(params, model.with_reg(reg), centre=centre,
                                             scale=scale, dtype=X.dtype)
    return SingleLevelResult(attributes, history.then(final), converged, n_iter,
                             stored_reg, centre, scale)


def partial_fit_single_level(X, current, spec, *, random_state, centre, scale, reg,
                             n_samples_seen):
    """One chunk's update: the chunk's own optimum from the current estimate
    (:func:`settle`, then the averaged fresh-noise steps), and a step towards
    it by the chunk's share of all rows seen. A running average of chunk
    optima reaches the accuracy of a fit on all rows; an average of points
    short of them does not (a burn-in that stops at the chunk's standard
    error left 1.09x the error of fit on spherical data, 1.6x on full
    covariances).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The chunk, in the data's units.
    current : tuple of (weights, means, covariances)
        The fitted attributes.
    spec : FitSpec
    random_state : RandomState
        The fit's stream, continued.
    centre, scale : the first fit's standardisation
    reg : float
        The first fit's phase regularisation.
    n_samples_seen : int

    Returns
    -------
    SingleLevelResult
    """
    model = spec.model
    reg = 0.0 if model.is_fixed else reg
    Z = standardised(X, centre, scale, model.pass_dtype(X.dtype))
    params = to_coordinates(*current, model.with_reg(reg), centre=centre, scale=scale)
    share = len(Z) / (n_samples_seen + len(Z))
    with one_blas_thread():
        settled, history = settle(Z, params, spec, random_state=random_state, reg=reg,
                                  kind=PhaseKind.PARTIAL_FIT_SETTLE)
        chunk_params, final, converged, n_iter = final_stage(
            Z, settled, spec, random_state=random_state, reg=reg, bounds=data_bounds(Z),
            kind=PhaseKind.PARTIAL_FIT,
        )
    history = history.then(final)
    attributes = attributes_from_coordinates(blend(params, chunk_params, share),
                                             model.with_reg(reg), centre=centre, scale=scale)
    return SingleLevelResult(attributes, history, converged, len(history.losses), reg,
                             centre, scale)


def _noise_level(params, spec, reg):
    """The single-level fit's noise level ``spec.noise_level``: the EM level
    of the current estimate (:func:`._schedule.em_level`) for "auto", or the
    level given."""
    if spec.noise_level == "auto":
        return em_level(params, spec.model.with_reg(reg))
    return float(spec.noise_level)


def _best_cold_start(Z, spec, random_state, *, scale, reg, given):
    """``n_init`` cold starts on a subsample; the lowest-loss one is kept.

    Returns
    -------
    params : MixtureParams
    history : History
    """
    n_samples = Z.shape[0]
    n_rows = cold_start_rows(n_samples, spec.n_components)
    rows = np.sort(random_state.choice(n_samples, n_rows, replace=False))
    Z_cold = Z[rows]
    if given[1] is not None:
        # A given start skips the power and intermediate phases, like
        # GaussianMixture's means_init skips k-means; the EM level is still
        # reached on the subsample first, where a step that overshoots is
        # caught by the line search at little cost.
        params = initial_params(Z_cold, spec, random_state, scale=scale,
                                model=spec.model.with_reg(reg), given=given)
        return settle(Z_cold, params, spec, random_state=random_state, reg=reg)
    # Common noise to compare the starts on one version of the objective.
    compare_seeds = draw_seeds(random_state, n_rows)
    # A seed per start: the same starts whatever n_jobs.
    start_seeds = random_state.randint(np.iinfo(np.int32).max, size=spec.n_init)
    options = dict(scale=scale, reg=reg, given=given)
    if spec.n_init == 1:
        return _one_cold_start(Z_cold, spec, start_seeds[0], init=0, **options)
    starts = Parallel(n_jobs=spec.n_jobs)(
        delayed(_one_cold_start)(Z_cold, spec, seed, init=init, **options)
        for init, seed in enumerate(start_seeds)
    )
    # Compare at the smallest level any start called for, with common noise.
    level = min(_noise_level(params, spec, reg) for params, _ in starts)
    cold_losses = [
        stein_objective(Z_cold, params, level, seeds=compare_seeds,
                        model=spec.model.with_reg(reg))[0]
        for params, _ in starts
    ]
    if spec.verbose:
        print("Cold start losses: " + ", ".join(f"{v:.5f}" for v in cold_losses))
    return starts[int(np.argmin(cold_losses))]


def _one_cold_start(Z_cold, spec, seed, *, init, scale, reg, given):
    """One cold start on the subsample: power and intermediate phases, then
    the cold-final phase in the requested type."""
    if spec.verbose:
        print(f"Initialization {init}")
    cold_model = spec.model.cold_type(single_level=True).with_reg(reg)
    with one_blas_thread():  # also in joblib's workers
        params, history, random_state = cold_start(
            Z_cold, spec, seed, scale=scale, model=cold_model, given=given)
        params = in_type(params, cold_model, spec.model.with_reg(reg))
        params, settled = settle(Z_cold, params, spec, random_state=random_state, reg=reg)
    return params, history.then(settled)


def settle(Z_cold, params, spec, *, random_state, reg, kind=PhaseKind.COLD_FINAL):
    """The cold start's last phase: the EM level on the subsample, with one
    fixed noise draw and a line search, so that the full-data stage starts
    close. The level follows the variance estimate; when the converged
    estimate calls for a level below half the one used (a start far from the
    clusters, or components collapsing), the phase runs again there.

    Returns
    -------
    params : MixtureParams
    history : History
    """
    history = History()
    options = dict(model=spec.model.with_reg(reg), verbose=spec.verbose,
                   verbose_interval=spec.verbose_interval)
    for _ in range(_MAX_SETTLE_PHASES):
        level = _noise_level(params, spec, reg)
        phase = cold_final_phase(level, spec.tol, len(Z_cold), params)._replace(kind=kind)
        params, record = run_ddpm_phase(Z_cold, params, phase, random_state=random_state,
                                        **options)
        history = history.then(record)
        if _noise_level(params, spec, reg) >= 0.5 * level:
            break
    return params, history


def final_stage(Z, params, spec, *, random_state, reg, bounds, ladder=False,
                kind=PhaseKind.FINAL):
    """The full-data stage at the EM level (:func:`._optim.run_fresh_noise`):
    steps with fresh noise until the means move by less than their standard
    error, then averaged steps; first, with ``ladder``, one step on each of
    a few systematic subsamples (:func:`_ladder`). ``kind`` labels the
    burn-in in ``schedule_``, ``PhaseKind.AVERAGING`` the rest; ``bounds`` are Z's
    (:class:`._standardise.DataBounds`).

    Returns
    -------
    params : MixtureParams
    history : History
    converged : bool
    n_iter : int
        Steps taken on all rows.
    """
    n_samples = Z.shape[0]
    phase = single_level_final_phase(_noise_level(params, spec, reg), spec.max_iter,
                                     spec.tol)._replace(kind=kind, bounds=bounds)
    history = History()
    if ladder and spec.max_iter > 0:
        params, history = _ladder(Z, params, phase, spec=spec, random_state=random_state,
                                  reg=reg)
    if spec.verbose:
        print(f"  Phase {kind.value} at noise level t = {phase.t:.3g} on {n_samples} rows, "
              "fresh noise each step")
    result = run_fresh_noise(
        noised_rows(Z), params, phase, random_state=random_state,
        model=spec.model.with_reg(reg), max_draws=spec.n_noise_draws, verbose=spec.verbose,
        verbose_interval=spec.verbose_interval, n_samples=n_samples,
    )
    if spec.verbose:
        status = "converged" if result.converged else "did not converge"
        print(f"Final phase {status} after {result.n_burn_in} steps; "
              f"{result.n_averaged} iterates averaged.")
    burn_in = result.losses[:result.n_burn_in]
    record = dict(t=phase.t, learning_rate=result.learning_rate, n_rows=n_samples,
                  converged=result.converged)
    history = history.then(phase_history(kind, n_steps=result.n_burn_in, losses=burn_in,
                                         **record))
    averaging = result.losses[result.n_burn_in:]
    if spec.max_iter > 0 and spec.n_noise_draws > 1:
        history = history.then(phase_history(PhaseKind.AVERAGING, n_steps=len(averaging),
                                             losses=averaging, **record))
    else:
        history = History(history.records, history.losses + tuple(averaging))
    return result.params, history, result.converged, len(result.losses)


def _ladder(Z, params, phase, *, spec, random_state, reg):
    """One fresh-noise step on every ``stride``-th row of Z, for each stride
    of ``_LADDER_STRIDES`` that leaves at least twice the cold start's rows.

    The cold start's estimate is ``sqrt(n / rows)`` standard errors from the
    full data's optimum; a step on a systematic subsample of ``n / 8`` rows
    brings it to about ``sqrt(8)`` for an eighth of a pass, and the burn-in
    on all rows then needs one step fewer (at n = 10^6, d = 10, K = 4: 2
    instead of 3).
    """
    history = History()
    cold_rows = cold_start_rows(Z.shape[0], spec.n_components)
    for stride in _LADDER_STRIDES:
        if Z.shape[0] // stride < 2 * cold_rows:
            continue
        rows = Z[random_state.randint(stride)::stride]
        step = run_fresh_noise(rows, params, phase._replace(max_steps=1),
                               random_state=random_state, model=spec.model.with_reg(reg),
                               max_draws=1)
        params = step.params
        history = history.then(phase_history(
            PhaseKind.FINAL_SUBSAMPLE, t=phase.t, n_steps=1, learning_rate=phase.learning_rate,
            n_rows=rows.shape[0], converged=step.converged, losses=step.losses))
    return params, history
