"""Starts of a fit: GaussianMixture's initial posteriors, and the paper's cold
start, DDPM phases at fixed noise levels on standardised rows.

From a small random start, the power phase at a large noise level turns the
means towards the span of the true means; for more than two components two
intermediate levels, set from the current variance estimate, move them into
their own basins (:mod:`._schedule` sets each phase from where the last one
ended; :mod:`._optim` runs it). Each function takes rows, parameters and a
phase, and returns parameters and the phases' :class:`._history.History`.
"""

import numpy as np
from sklearn.cluster import KMeans, kmeans_plusplus

from .._numerics._fastops import TINY
from ._history import History, phase_history
from ._loss import draw_seeds
from ._optim import run_fixed_noise
from ._schedule import intermediate_phase, n_intermediate_phases, power_phase, power_phase_variance
from ._score_model import MixtureParams
from .._core._standardise import data_bounds

# About the fewest noised rows a phase uses: on small data each point is
# noised several times, so the noise's own sample variance cannot drown the
# signal (with one draw per point, 100 rows in 1-D sent the power phase to a
# collapse). 4096 before issue 28; 1024 found every component as often on
# separated mixtures (d = 5-50, K = 4-16, 8 seeds) at a quarter of the
# passes' cost below 1 000 rows (docs/design.rst).
_NOISED_ROWS = 1024


def one_hot(labels, n_components, dtype):
    """Posteriors that put each row in one component, shape (n, n_components)."""
    resp = np.zeros((len(labels), n_components), dtype=dtype)
    resp[np.arange(len(labels)), labels] = 1.0
    return resp


def initial_posteriors(X, n_components, init_params, *, random_state, sample_weight=None):
    """GaussianMixture's initial posteriors for ``init_params`` ("kmeans",
    "k-means++", "random", "random_from_data"), shape (n, n_components); the
    same draws from ``random_state`` as GaussianMixture makes."""
    n_samples = X.shape[0]
    if init_params == "kmeans":
        labels = KMeans(n_components, n_init=1, random_state=random_state).fit(
            X, sample_weight=sample_weight).labels_
        return one_hot(labels, n_components, X.dtype)
    if init_params == "random":
        resp = random_state.uniform(size=(n_samples, n_components)).astype(X.dtype)
        return resp / resp.sum(axis=1)[:, np.newaxis]
    if init_params == "random_from_data":
        indices = random_state.choice(n_samples, size=n_components, replace=False)
    else:  # k-means++
        _, indices = kmeans_plusplus(X, n_components, random_state=random_state)
    resp = np.zeros((n_samples, n_components), dtype=X.dtype)
    resp[indices, np.arange(n_components)] = 1.0
    return resp


def noised_rows(X):
    """X, repeated so that a pass noises about ``_NOISED_ROWS`` rows or more: the
    number of draws a row nearest that, at least one (1 000 rows are noised
    once, not twice, which would double the pass's cost for 2% more rows)."""
    draws = max(1, round(_NOISED_ROWS / X.shape[0]))
    return X if draws == 1 else np.tile(X, (draws, 1))


def run_ddpm_phase(X, params, phase, *, random_state, model, verbose=0,
                   verbose_interval=10):
    """One phase on the rows of X, under one noise draw made for it and held
    fixed (:func:`._optim.run_fixed_noise`).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Standardised rows.
    params : MixtureParams
    phase : Phase
    random_state : RandomState
        Draws the noise's seeds.
    model : CovarianceType
        The covariance type, with the regularisation of the covariances
        (``reg_covar``) in standardised units.

    Returns
    -------
    params : MixtureParams
    history : History
    """
    if verbose:
        print(f"  Phase {phase.kind.value} at noise level t = {phase.t:.3g} on {X.shape[0]} rows")
    X_noised = noised_rows(X)
    phase = phase._replace(bounds=data_bounds(X))
    result = run_fixed_noise(X_noised, params, phase,
                             seeds=draw_seeds(random_state, X_noised.shape[0]),
                             model=model, verbose=verbose, verbose_interval=verbose_interval)
    history = phase_history(phase.kind, t=phase.t, n_steps=result.n_steps,
                            learning_rate=result.learning_rate, n_rows=X.shape[0],
                            converged=result.converged, losses=result.losses)
    return result.params, history


def initial_params(X, spec, random_state, *, scale, model, given=None):
    """Starting MixtureParams of the DDPM phases on standardised X.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    spec : FitSpec
    random_state : RandomState
    scale : float
        The standardisation's scale (the identity model's unit variances are
        ``1 / scale**2`` in standardised units).
    model : CovarianceType
        The cold start's type, or the requested one when given means skip it,
        with ``reg_covar`` in standardised units.
    given : tuple of (weights, means, covariances), default=None
        The user's starting values in standardised units, each None if not
        given; None ignores them (the default fit's cold start).
    """
    n_samples, n_features = X.shape
    K = spec.n_components
    weights_init, means_init, cov_init = (None, None, None) if given is None else given
    if means_init is not None:
        means = means_init
    elif K == 1:
        means = np.zeros((1, n_features))
    elif spec.init_params == "power":
        # Small random start, centred like the data (for K = 2 this is the
        # paper's symmetric model mu_2 = -mu_1).
        means = random_state.standard_normal((K, n_features))
        means *= 0.1 / np.sqrt(n_features)
        means -= means.mean(axis=0)
    else:
        resp = initial_posteriors(X, K, spec.init_params, random_state=random_state)
        means = (resp.T @ X) / np.maximum(resp.sum(axis=0), TINY)[:, np.newaxis]
    weights = np.full(K, 1.0 / K) if weights_init is None else weights_init
    if model.is_fixed:
        cov = model.with_reg(0.0).to_coordinates(model.fixed_covariances(K, scale))
    elif cov_init is not None:
        if model.name != spec.model.name:  # the spherical cold start
            cov_init = spec.model.mean_variances(cov_init, K)
        cov = model.to_coordinates(cov_init)
    else:
        if K > 1 and spec.init_params == "power" and means_init is None:
            variances = np.full(K, power_phase_variance(X, K))
        else:
            variances = np.ones(K)
        cov = model.to_coordinates(model.from_spherical(variances, weights, n_features))
    # Parameters are float64 whatever the data's precision.
    return MixtureParams(np.asarray(means, dtype=np.float64), cov, np.log(weights))


def cold_start(X_cold, spec, seed, *, scale, model, given=None):
    """The power and intermediate phases on the subsample X_cold (run under
    the callers' one BLAS thread), from
    :func:`initial_params` (its own RandomState from ``seed``, so a start is
    the same whatever runs beside it).

    ``model`` is the cold start's covariance type (one variance per
    component, :meth:`.._core._covariance.CovarianceType.cold_type`), with its
    ``reg_covar`` in standardised units.

    Returns
    -------
    params : MixtureParams
        In ``model``'s coordinates.
    history : History
    random_state : RandomState
        The start's stream, for the phases that follow on the subsample.
    """
    random_state = np.random.RandomState(seed)
    options = dict(model=model, verbose=spec.verbose, verbose_interval=spec.verbose_interval)
    params = initial_params(X_cold, spec, random_state, scale=scale, model=model, given=given)
    history = History()
    if spec.n_components > 1 and spec.init_params == "power":
        params, record = run_ddpm_phase(X_cold, params, power_phase(X_cold),
                                        random_state=random_state, **options)
        history = history.then(record)
    # Each level is chosen from where the previous phase ended.
    for stage in range(n_intermediate_phases(spec.n_components)):
        phase = intermediate_phase(stage, params, model, tol=spec.tol, n_rows=len(X_cold))
        params, record = run_ddpm_phase(X_cold, params, phase, random_state=random_state,
                                        **options)
        history = history.then(record)
    return params, history, random_state
