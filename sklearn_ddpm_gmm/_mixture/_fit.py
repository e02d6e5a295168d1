"""The default fit: a start, then the exact integrated objective (maximum likelihood).

:func:`fit_likelihood` is the pipeline the estimator calls, on standardised
rows held in memory (:class:`.._core._em.InMemoryRows`) or in the blocks of a
Dask array (:class:`.._core._dask.DaskRows`):

1. a start per initialisation (:func:`_start`): the user's values, GaussianMixture's
   initial posteriors, or for ``init_params="power"`` the paper's cold start on
   a subsample and GaussianMixture's k-means start, each converged (on every
   row up to 10 000 of them, else on the subsample), the one of higher
   likelihood kept (:func:`_power_start`);
2. the final phase on all rows (:func:`_final_phase`); on up to 10 000 rows,
   the kept start's own run;
3. of ``n_init`` such runs, the one with the highest ``lower_bound_``.

Each step maps (rows, parameters, spec) to (parameters, History).
"""

import copy
import hashlib
from typing import NamedTuple

import numpy as np
from joblib import Parallel, delayed
from sklearn.metrics import pairwise_distances_argmin

from .._core._dask import DaskRows
from .._ddpm._history import History, PhaseKind, phase_history
from .._ddpm._cold_start import cold_start, initial_posteriors, one_hot
from .._core._em import (
    LikelihoodResult,
    em_step,
    settled_gain,
    stopping_tol,
)
from .._core._missing import rows_of
from .._core._prior import PSEUDO_ROWS
from .._core._mixture import (
    attributes,
    from_coordinates,
    has_singular_component,
    make_mixture,
    standardised,
    standardised_initial,
)
from .._ddpm._schedule import cold_start_rows
from .._core._standardise import standardised as standardised_rows
from .._numerics._threads import one_blas_thread

# Regularisation of the cold start's phases, relative to the data's variance
# (reg_covar's default in standardised units): they only have to find the
# components, and must not collapse one onto a point whatever reg_covar the
# final phase uses.
_COLD_REG_COVAR = 1e-6
# Most steps that converge the kept start on the subsample (GaussianMixture's
# default max_iter).
_START_MAX_ITER = 100
# Most rows on which the candidate starts are converged on every row, not on
# the cold start's subsample (the k-means candidate is then GaussianMixture's
# start and path, and the kept candidate's run the final phase): two
# subsamples' worth, so that the k-means candidate's passes read at most
# twice the rows they read on the subsample (the power candidate's
# continuation replaces the final phase). Its cost on real tables of
# 5 000-7 000 rows: +17-34% (docs/design.rst).
_CANDIDATES_ON_EVERY_ROW_MAX = 10_000
# Most rows on which the k-means candidate's k-means runs on every row (it
# is then GaussianMixture's start itself) where the candidates converge on the
# subsample: up to here it costs a tenth of the fit or less (d = 10, K = 4:
# 7 ms of 80 at 1e4 rows), at 1e5 rows a quarter to a half (docs/design.rst).
_KMEANS_ALL_ROWS_MAX = 20_000


class FitResult(NamedTuple):
    """Outcome of :func:`fit_likelihood` and :func:`partial_fit_likelihood`."""

    attributes: dict  # the fitted attributes, in the data's units and dtype
    history: History
    lower_bound: float  # mean log-likelihood per row, the data's units
    lower_bounds: list  # at each step of the final phase, the data's units
    converged: bool
    n_iter: int
    phase_reg: float  # the cold start's regularisation, standardised units
    last_change: float = np.inf  # the final phase's last gain per row (a warm start's)
    singular: bool = False  # whether a component is singular (only such maxima were found)


class _Context(NamedTuple):
    """What every step of one fit shares."""

    spec: object  # FitSpec
    scale: float
    model: object  # the CovarianceType with reg_covar in standardised units
    reg: float  # reg_covar, standardised units
    cold_reg: float  # regularisation of the cold start's DDPM phases
    fixed: object  # the identity model's covariances, or None


def fit_likelihood(rows, spec, random_state, *, centre, scale, dtype, given, warm=None,
                   cold_start_cache=None):
    """The default fit of standardised rows.

    Parameters
    ----------
    rows : InMemoryRows or DaskRows
        Standardised rows, shape (n_samples, n_features).
    spec : FitSpec
    random_state : RandomState
    centre : ndarray of shape (n_features,)
    scale : float
        The standardisation of the rows.
    dtype : numpy dtype
        Of the fitted attributes.
    given : tuple of (weights, means, covariances)
        The user's starting values in the data's units, None where not given.
    warm : tuple of (weights, means, covariances, lower_bound, last_change), default=None
        The previous fit's attributes, ``lower_bound_`` and its last gain: the
        final phase starts there and continues its stop (warm_start), so that
        fits of ``max_iter=1`` converge as one longer fit would.
    cold_start_cache : dict, default=None
        Lent by DDPMGaussianMixtureIC: the cold start does not depend on the
        covariance type, so one run serves every type of a grid.

    Returns
    -------
    FitResult
    """
    n_samples, n_features = rows.shape
    # The log-likelihood per row in the data's units: each observed entry
    # of a row contributes -log(scale).
    log_scale = rows.observed_features * np.log(scale)
    model = spec.model
    given = standardised_initial(given, centre=centre, scale=scale)
    reg = model.standardised_reg(scale)
    context = _Context(spec=spec, scale=scale, model=model.with_reg(reg), reg=reg,
                       cold_reg=max(reg, _COLD_REG_COVAR),
                       fixed=model.fixed_covariances(spec.n_components, scale))
    if warm is not None:
        *warm_attributes, lower_bound, last_change = warm
        start = standardised(*warm_attributes, model, centre=centre, scale=scale)
        with one_blas_thread():
            runs = [_final_phase(rows, start, context, history=History(),
                                 lower_bound=lower_bound + log_scale,
                                 previous_change=last_change)]
    elif spec.n_init == 1:
        runs = [_one_init(rows, given, context, random_state=random_state, init=0,
                          cold_start_cache=cold_start_cache)]
    else:
        # The first start is n_init=1's (so more starts never end lower, as
        # in GaussianMixture); each other start draws from its own seed: the
        # same starts whatever n_jobs. (On a Dask array they run one after
        # the other: its passes are already spread over the cluster.)
        first = copy.deepcopy(random_state)
        seeds = random_state.randint(np.iinfo(np.int32).max, size=spec.n_init - 1)
        states = [first] + [np.random.RandomState(seed) for seed in seeds]
        jobs = 1 if isinstance(rows, DaskRows) else spec.n_jobs
        runs = Parallel(n_jobs=jobs)(
            delayed(_one_init)(rows, given, context, random_state=state, init=init,
                               cold_start_cache=cold_start_cache)
            for init, state in enumerate(states)
        )
    # The highest lower bound among the regular maxima: one with a singular
    # component is spurious, kept only where every start ended in one.
    best, best_regular = -np.inf, False
    for result, history in runs:
        lower_bound = result.lower_bounds[-1] if result.lower_bounds else -np.inf
        regular = not _singular(result.params, context, rows.shape[0])
        if (spec.max_iter == 0 or (regular, lower_bound) > (best_regular, best)
                or (best == -np.inf and regular >= best_regular)):
            best, best_regular = lower_bound, regular
            kept, kept_history = result, history
    return FitResult(
        attributes=attributes(kept.params, model, centre=centre, scale=scale, dtype=dtype),
        history=kept_history,
        lower_bound=best - log_scale,
        lower_bounds=[value - log_scale for value in kept.lower_bounds],
        converged=kept.converged, n_iter=kept.n_iter, phase_reg=context.cold_reg,
        last_change=kept.last_change, singular=spec.max_iter > 0 and not best_regular,
    )


def partial_fit_likelihood(X, current, spec, *, centre, scale, sample_weight, share):
    """One chunk's update: the chunk's maximum of the likelihood from the
    current estimate, then a step towards it by the chunk's ``share`` of all
    the weight seen.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The chunk, in the data's units.
    current : tuple of (weights, means, covariances)
        The fitted attributes.
    spec : FitSpec
    centre, scale : the first fit's standardisation
    sample_weight : ndarray of shape (n_samples,) or None
    share : float

    Returns
    -------
    FitResult
        The blended attributes and the chunk's phase (its lower bounds are
        the chunk's, in the data's units).
    """
    model = spec.model
    Z = standardised_rows(X, centre, scale)
    current = standardised(*current, model, centre=centre, scale=scale)
    standardised_model = model.with_reg(model.standardised_reg(scale))
    # With holes, the chunk's share of the covariance prior's pseudo-row:
    # a whole one per chunk would bias every chunk, and the blend with them.
    rows = rows_of(Z, sample_weight, pseudo_rows=share * PSEUDO_ROWS)
    with one_blas_thread():
        result = rows.run_phase(
            current, standardised_model,
            **_stop(spec, Z.shape),
            max_iter=spec.max_iter, fixed_covariances=model.fixed_covariances(
                spec.n_components, scale),
            accelerated=True,
        )
    blended = make_mixture(
        *((1.0 - share) * old + share * new for old, new in
          zip(current[:3], result.params[:3])),
        model,
    )
    log_scale = rows.observed_features * np.log(scale)
    lower_bounds = [value - log_scale for value in result.lower_bounds]
    return FitResult(
        attributes=attributes(blended, model, centre=centre, scale=scale, dtype=X.dtype),
        history=likelihood_history(PhaseKind.PARTIAL_FIT, result, len(X)),
        lower_bound=lower_bounds[-1] if lower_bounds else -np.inf,
        lower_bounds=lower_bounds, converged=result.converged, n_iter=result.n_iter,
        phase_reg=np.nan,
    )


def _stop(spec, shape):
    """The stop's keywords for a phase on rows of ``shape``: the tolerance on
    the gain per row and the gain still to come that counts as nothing
    (:func:`.._core._em.stopping_tol`, :func:`.._core._em.settled_gain`)."""
    return dict(tol=stopping_tol(spec.tol, spec.n_components, *shape),
                settled=settled_gain(shape[0]))


def likelihood_history(kind, result, n_rows):
    """The History of a phase of the exact integrated objective (its loss:
    the negative mean log-likelihood, the integrated objective up to a
    constant)."""
    return phase_history(kind, t=None, n_steps=result.n_iter, learning_rate=1.0,
                         n_rows=n_rows, converged=result.converged,
                         losses=[-value for value in result.lower_bounds])


def _one_init(rows, given, context, *, random_state, init, cold_start_cache):
    """One start (:func:`_start`) and the final phase from it.

    Returns
    -------
    result : LikelihoodResult
    history : History
    """
    if context.spec.verbose:
        print(f"Initialization {init}")
    with one_blas_thread():
        start, history, final = _start(rows, given, context, random_state=random_state,
                                       cold_start_cache=cold_start_cache)
        if final is not None:
            return final, history
        return _final_phase(rows, start, context, history=history)


def _final_phase(rows, start, context, *, history, lower_bound=-np.inf,
                 previous_change=np.inf):
    """The final phase on all rows from ``start``."""
    spec = context.spec
    if spec.max_iter == 0:
        return LikelihoodResult(start, [], False), history
    if spec.verbose:
        print(f"  Phase final on all noise levels (exact) on {rows.shape[0]} rows")
    result = rows.run_phase(
        start, context.model,
        **_stop(spec, rows.shape),
        max_iter=spec.max_iter, lower_bound=lower_bound, previous_change=previous_change,
        fixed_covariances=context.fixed, accelerated=True, verbose=spec.verbose,
        verbose_interval=spec.verbose_interval,
    )
    return result, history.then(likelihood_history(PhaseKind.FINAL, result, rows.shape[0]))


def _start(rows, given, context, *, random_state, cold_start_cache):
    """Starting parameters of the final phase, on standardised rows.

    Posteriors on all rows from ``init_params`` (GaussianMixture's methods),
    one EM-matched step from them in the requested type, then the given
    initial values in place of the computed ones, as in GaussianMixture. For
    ``"power"`` see :func:`_power_start`.

    Returns
    -------
    params : Mixture
    history : History
    final : LikelihoodResult or None
        The final phase, where the start's own passes were it (see
        :func:`_power_start`); None where it is still to run.
    """
    spec = context.spec
    if all(value is not None for value in given):
        return make_mixture(*given, context.model), History(), None
    if given[1] is not None:
        # Given means: each row to its nearest, as k-means labels would.
        resp = one_hot(pairwise_distances_argmin(rows.imputed, given[1]), spec.n_components,
                       rows.dtype)
    elif spec.init_params == "power" and spec.n_components > 1:
        if any(value is not None for value in given):
            start, history, _ = _power_start(rows, context, random_state, cold_start_cache,
                                             is_final=False)
            return _with_given(start, given, context.model), history, None
        return _power_start(rows, context, random_state, cold_start_cache)
    elif spec.init_params == "power":
        # One component: nothing to separate, every row in it (k-means++ put
        # one row there, whose collapsed covariance could overflow).
        start = rows.one_component_start(context.model, context.fixed)
        return _with_given(start, given, context.model), History(), None
    else:
        resp = initial_posteriors(rows.imputed, spec.n_components, spec.init_params,
                                  random_state=random_state, sample_weight=rows.sample_weight)
    # With missing entries the first M-step reads them at their columns'
    # means; the final phase then uses only the observed ones.
    start = em_step(rows.imputed, resp, context.model, fixed_covariances=context.fixed,
                    sample_weight=rows.sample_weight)
    return _with_given(start, given, context.model), History(), None


def _power_start(rows, context, random_state, cold_start_cache, *, is_final=True):
    """The start of ``init_params="power"``.

    The paper's cold start (power and intermediate levels, one variance per
    component, :func:`_power_cold_start`, on a subsample of the rows) gives
    posteriors; so do GaussianMixture's k-means start and a second k-means
    start (from the stream after the cold start). Neither kind of start finds
    the components every time, and each fails where the other does not: the
    power start when the weights or variances differ much, k-means on
    separated components in many dimensions (see the user guide); the
    likelihood tells which one did, once each is converged in the requested
    type; a regular maximum is kept before a singular one. Converging both
    beat keeping the better after a few passes each (successive halving;
    measured in the user guide, ddpm_gmm.rst).

    Up to ``_CANDIDATES_ON_EVERY_ROW_MAX`` rows held in memory, all are
    converged on every row: the first k-means candidate is then GaussianMixture's
    own start and path (the same draws; docs/design.rst, "The k-means
    candidate"), never abandoned, so the fit ends below GaussianMixture's
    regular single start only where acceleration leaves EM's basin. Their
    passes are passes over the data, as GaussianMixture's EM steps from its
    start are: ``max_iter`` bounds them, and where ``is_final`` the kept
    candidate's run is the final phase (returned as ``final``; else None).
    With ``max_iter=0`` the candidates take no step: the start of higher
    likelihood is kept as it is. On more rows they are converged on the
    subsample (the k-means candidate there abandoned once it cannot beat a
    regular power candidate; up to ``_KMEANS_ALL_ROWS_MAX`` rows its k-means
    still runs on every row, as GaussianMixture's), and the final phase runs
    from the kept one.
    """
    spec = context.spec
    # The k-means candidate draws what GaussianMixture(random_state) draws for
    # its start: a copy of the stream before the cold start's draws (k-means
    # does not see the standardisation, a shift and one scale).
    kmeans_state = copy.deepcopy(random_state)
    n_rows = rows.shape[0]
    # Every row in memory where k-means reads them all: a Dask array's (at
    # most _KMEANS_ALL_ROWS_MAX rows) are gathered once, for the cold start
    # too, so that its fit is the in-memory one.
    every = rows
    if isinstance(rows, DaskRows) and n_rows <= _KMEANS_ALL_ROWS_MAX:
        every = rows.subset(np.arange(n_rows))
    subsample, cold, history = _power_cold_start(every, context, random_state,
                                                 cold_start_cache)
    whole = len(subsample) == n_rows  # the subsample holds every row
    sub_rows = every if whole else every.subset(subsample)
    # The rows on which the candidates are converged and compared.
    compared_on = every if n_rows <= _CANDIDATES_ON_EVERY_ROW_MAX and not whole else sub_rows
    on_every_row = whole or compared_on is every
    final = is_final and on_every_row
    kmeans_rows = every if n_rows <= _KMEANS_ALL_ROWS_MAX else sub_rows
    runs = []  # (kind, result, rows) of each run, in order

    def run(target, start, kind, max_iter, beat=-np.inf, accelerate_below=np.inf):
        """A start converged on ``target`` rows, keyed regular first, then by
        likelihood (with ``max_iter=0``, its start's likelihood)."""
        if max_iter == 0:
            log_prob = target.posteriors(start, context.model)[0]
            result = LikelihoodResult(start, [], False)
            value = float(np.average(log_prob, weights=target.sample_weight))
        else:
            result = target.run_phase(
                start, context.model,
                **_stop(spec, target.shape),
                max_iter=max_iter, fixed_covariances=context.fixed, accelerated=True,
                accelerate_below=accelerate_below, beat=beat,
                verbose=spec.verbose if target is compared_on and final else 0,
                verbose_interval=spec.verbose_interval,
            )
            value = result.lower_bounds[-1]
        runs.append((kind, result, target.shape[0]))
        regular = not _singular(result.params, context, target.shape[0])
        return (regular, value), result

    def budget(target):
        # max_iter bounds the passes over every row, as GaussianMixture's
        # EM steps; a subsample's passes are the start's own.
        return spec.max_iter if final and target is compared_on else _START_MAX_ITER

    def kmeans(state, own=False):
        resp = initial_posteriors(kmeans_rows.imputed, spec.n_components, "kmeans",
                                  random_state=state, sample_weight=kmeans_rows.sample_weight)
        if len(resp) != compared_on.shape[0]:  # k-means on every row, EM on the subsample
            resp = resp[subsample]
        start = em_step(compared_on.imputed, resp, context.model,
                        fixed_covariances=context.fixed,
                        sample_weight=compared_on.sample_weight)
        # Against a regular power candidate, a k-means start on the subsample
        # is abandoned once it cannot exceed it (a poor start crawls); on
        # every row it is GaussianMixture's own fit, whose gains can rise
        # again after falling (diamonds, 7 000 rows, diag: abandoned after 3
        # passes 2.2 nats a row below, it ends 0.064 above), never abandoned.
        beat = best[0][1] if best[0][0] and not on_every_row else -np.inf
        # GaussianMixture's own start on every row follows its EM path up to
        # its stop, the jumps only after: a jump from the start can carry it
        # into a lower basin (Cigar, full: 0.107 nats a row below
        # GaussianMixture's fit), so the fit could end below GaussianMixture's.
        accelerate_below = spec.tol if own and on_every_row else np.inf
        return run(compared_on, start, PhaseKind.START_KMEANS, budget(compared_on), beat,
                   accelerate_below)

    # The power candidate: converged on the subsample, then on every row.
    power = sub_rows.posteriors(cold, spec.model.cold_type(single_level=False))[1]
    best = run(sub_rows, em_step(sub_rows.imputed, power, context.model,
                                 fixed_covariances=context.fixed,
                                 sample_weight=sub_rows.sample_weight),
               PhaseKind.START_POWER, budget(sub_rows))
    if compared_on is not sub_rows:
        best = run(compared_on, best[1].params, PhaseKind.START_POWER, budget(compared_on))
    best = max(best, kmeans(kmeans_state, own=True), key=lambda candidate: candidate[0])
    # A second k-means start, from the stream after the cold start's draws,
    # reaches better maxima on the real tables and a regular one where both
    # above are singular (docs/design.rst, "More k-means starts"). It
    # replaces the kept one only where higher by more than the stop resolves
    # (the same maximum, labelled otherwise, keeps GaussianMixture's labels).
    (regular, value), _ = best
    second = kmeans(random_state)
    if second[0] > (regular, value + _stop(spec, compared_on.shape)["tol"]):
        best = second
    kept = best[1]
    if final:  # the kept run listed last, as the final phase it is
        runs = [record for record in runs if record[1] is not kept] + [
            (PhaseKind.FINAL, kept, compared_on.shape[0])]
    for kind, result, run_rows in runs:
        history = history.then(likelihood_history(kind, result, run_rows))
    return kept.params, history, kept if final else None


def _power_cold_start(rows, context, random_state, cold_start_cache):
    """The paper's cold start (power and intermediate levels, one variance per
    component) on a subsample of the rows. The exact final phase takes over
    from there: a single-level phase at the EM level in between could
    collapse a component onto a point (1-D, 200 rows, 6 seeds: once), a
    singular maximum of the likelihood that EM does not leave.

    Returns
    -------
    subsample : ndarray of shape (n_rows,)
        The subsample's rows.
    Mixture
        A mixture of the cold start's type (one variance per component) in
        standardised units.
    history : History
    """
    spec = context.spec
    cold_model = spec.model.cold_type(single_level=False).with_reg(context.cold_reg)
    n_rows = cold_start_rows(rows.shape[0], spec.n_components)
    weights = rows.sample_weight
    if weights is None:
        subsample = np.sort(random_state.choice(rows.shape[0], n_rows, replace=False))
    else:  # rows of positive weight; the weights enter where they are used
        positive = np.flatnonzero(weights > 0)
        subsample = np.sort(random_state.choice(positive, min(n_rows, len(positive)),
                                                replace=False))
    # The cold phases pass over the data in float32 (a pass costs 0.6-0.7x).
    Z_cold = rows.cold_start_rows(subsample).astype(np.float32)
    seed = random_state.randint(np.iinfo(np.int32).max)
    key = None
    if cold_start_cache is not None:
        key = (spec.n_components, seed, spec.tol, context.cold_reg, spec.init_params,
               hashlib.sha1(Z_cold.tobytes()).hexdigest())
    if key is not None and key in cold_start_cache:
        params, history = cold_start_cache[key]
    else:
        params, history, _ = cold_start(Z_cold, spec, seed, scale=context.scale,
                                        model=cold_model)
        if key is not None:
            cold_start_cache[key] = (params, history)
    return subsample, from_coordinates(params, cold_model, dtype=rows.dtype), history


def _with_given(params, given, model):
    """A Mixture with the user's initial values (standardised; None where
    not given) in place of the computed ones."""
    weights, means, cov = given
    if weights is None and means is None and cov is None:
        return params
    return make_mixture(
        params.weights if weights is None else weights.astype(params.weights.dtype),
        params.means if means is None else means.astype(params.means.dtype),
        params.covariances if cov is None else cov.astype(params.covariances.dtype),
        model,
    )


def _singular(params, context, n_rows):
    """Whether a Mixture in standardised units has a singular component."""
    return has_singular_component(params, context.model, n_rows)
