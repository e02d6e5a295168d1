"""The exact integrated objective (_core/_em.py): its gradient, its EM-matched step."""

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

from sklearn_ddpm_gmm import DDPMGaussianMixture
from sklearn_ddpm_gmm._core._covariance import covariance_model
from sklearn_ddpm_gmm._core._em import (
    em_step,
    posteriors,
    run_likelihood_phase,
    settled_gain,
)
from sklearn_ddpm_gmm._core._mixture import make_mixture
from sklearn_ddpm_gmm._ddpm._score_model import MixtureParams

from _reference import integrated_objective, log_likelihood_gradient

TYPES = ["full", "tied", "diag", "spherical"]
COVARIANCES = {
    "spherical": np.array([0.5, 0.4]),
    "diag": np.array([[0.5, 0.3, 0.6], [0.4, 0.5, 0.3]]),
    "full": np.array([[[0.5, 0.1, 0.0], [0.1, 0.3, -0.1], [0.0, -0.1, 0.6]],
                      [[0.4, -0.1, 0.1], [-0.1, 0.5, 0.0], [0.1, 0.0, 0.3]]]),
    "tied": np.array([[0.5, 0.1, 0.0], [0.1, 0.4, -0.1], [0.0, -0.1, 0.6]]),
}
MEANS = np.array([[0.8, 1.1, 0.9], [-1.0, -0.9, -1.2]])
LOGITS = np.array([0.1, -0.1])


def _misspecified_data():
    """A Gaussian and a uniform cube: no mixture of two Gaussians is exact."""
    rng = np.random.default_rng(0)
    return np.r_[0.7 * rng.standard_normal((100, 3)) + 1.0, rng.uniform(-2, 0, (100, 3))]


def _params(covariance_type, means=MEANS, cov=None, logits=LOGITS):
    cov = COVARIANCES[covariance_type] if cov is None else cov
    weights = np.exp(logits) / np.exp(logits).sum()
    return make_mixture(weights, means, cov, covariance_model(covariance_type, 0.0))


def _mean_log_likelihood(X, covariance_type, means=MEANS, cov=None, logits=LOGITS):
    return posteriors(X, _params(covariance_type, means, cov, logits),
                      covariance_model(covariance_type, 0.0))[0].mean()


@pytest.mark.parametrize("covariance_type", TYPES)
def test_gradient_matches_finite_differences(covariance_type):
    X = _misspecified_data()
    grad_means, grad_cov, grad_logits = log_likelihood_gradient(
        X, _params(covariance_type), covariance_type)
    rng = np.random.default_rng(1)
    h = 1e-6

    def directional(**moved):
        up = _mean_log_likelihood(X, covariance_type, **{k: v(h) for k, v in moved.items()})
        down = _mean_log_likelihood(X, covariance_type, **{k: v(-h) for k, v in moved.items()})
        return (up - down) / (2 * h)

    D = rng.standard_normal(MEANS.shape)
    assert directional(means=lambda e: MEANS + e * D) == pytest.approx(
        np.sum(grad_means * D), rel=1e-6)
    cov = COVARIANCES[covariance_type]
    D = rng.standard_normal(cov.shape)
    if covariance_type in ("full", "tied"):
        D = D + np.swapaxes(D, -1, -2)  # symmetric directions
    assert directional(cov=lambda e: cov + e * D) == pytest.approx(
        np.sum(grad_cov * D), rel=1e-6)
    D = rng.standard_normal(2)
    assert directional(logits=lambda e: LOGITS + e * D) == pytest.approx(
        np.sum(grad_logits * D), rel=1e-6)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_exact_gradient_is_the_expectation_of_the_monte_carlo_one(covariance_type):
    # The Monte Carlo estimate of the integrated DDPM objective (levels drawn
    # per stratum of rows, noise drawn per row) has the exact gradient as its
    # expectation: 100 copies of each point, 30 passes.
    X = _misspecified_data()
    exact = log_likelihood_gradient(X, _params(covariance_type), covariance_type)
    model = covariance_model(covariance_type, 0.0)
    mixture = MixtureParams(MEANS, model.to_coordinates(COVARIANCES[covariance_type]), LOGITS)
    X_rep = np.tile(X, (100, 1))[np.random.default_rng(1).permutation(20_000)]
    passes = [integrated_objective(X_rep, mixture, np.random.default_rng(seed), model=model)
              for seed in range(30)]
    monte_carlo = [np.mean([p.means for p in passes], axis=0),
                   np.mean([p.covariance for p in passes], axis=0),
                   np.mean([p.logits for p in passes], axis=0)]
    # The objective is the negative log-likelihood; full and tied gradients of a
    # symmetric matrix are compared on the symmetric part.
    for mc, e in zip(monte_carlo, exact):
        if mc.ndim >= 2 and mc.shape[-1] == mc.shape[-2] == 3:
            mc = 0.5 * (mc + np.swapaxes(mc, -1, -2))
        assert np.max(np.abs(-mc - e)) < 0.08 * np.max(np.abs(e)), (mc, e)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_unit_preconditioned_gradient_step_is_the_em_step(covariance_type):
    # Xu & Jordan (1996): mu + (n / N_k) Sigma dL/dmu, Sigma + (2 n / N_k)
    # Sigma dL/dSigma Sigma (less the mean's move squared) and pi + dL/dbeta
    # are EM's update.
    X = _misspecified_data()
    n = len(X)
    params = _params(covariance_type)
    grad_means, grad_cov, grad_logits = log_likelihood_gradient(X, params, covariance_type)
    resp = posteriors(X, params, covariance_model(covariance_type, 0.0))[1]
    nk = resp.sum(axis=0)
    em = em_step(X, resp, covariance_model(covariance_type, 0.0))

    cov = params.covariances
    if covariance_type == "spherical":
        mean_move = cov[:, None] * grad_means * n / nk[:, None]
    elif covariance_type == "diag":
        mean_move = cov * grad_means * n / nk[:, None]
    else:
        full = cov if covariance_type == "full" else np.broadcast_to(cov, (2, 3, 3))
        mean_move = np.einsum("kij,kj->ki", full, grad_means) * n / nk[:, None]
    np.testing.assert_allclose(params.means + mean_move, em.means, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(params.weights + grad_logits, em.weights, rtol=1e-10)

    squared_move = mean_move**2
    if covariance_type == "spherical":
        stepped = cov + 2 * n * cov**2 * grad_cov / (3 * nk)
        expected = em.covariances + squared_move.mean(axis=1)
    elif covariance_type == "diag":
        stepped = cov + 2 * n * cov**2 * grad_cov / nk[:, None]
        expected = em.covariances + squared_move
    elif covariance_type == "full":
        stepped = cov + 2 * n * (cov @ grad_cov @ cov) / nk[:, None, None]
        expected = em.covariances + np.einsum("ki,kj->kij", mean_move, mean_move)
    else:
        # Tied: the covariances' gradient is the sum over components, so the
        # step is preconditioned by n (the total mass) instead of N_k.
        stepped = cov + 2 * (cov @ grad_cov @ cov)
        expected = em.covariances + np.einsum("k,ki,kj->ij", nk / n, mean_move, mean_move)
    np.testing.assert_allclose(stepped, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_phase_never_lowers_the_likelihood(covariance_type):
    X = _misspecified_data()
    result = run_likelihood_phase(X, _params(covariance_type),
                                  covariance_model(covariance_type, 1e-6), tol=1e-10,
                                  max_iter=200)
    assert result.converged
    assert np.all(np.diff(result.lower_bounds) > -1e-12)


def _gaussian_mixture_start(covariance_type):
    """A start in GaussianMixture's parameters for data three times as spread."""
    params = _params(covariance_type)
    if covariance_type in ("spherical", "diag"):
        precisions = 1 / (9 * params.covariances)
    else:
        precisions = np.linalg.inv(9 * params.covariances)
    return dict(weights_init=params.weights, means_init=3.0 * MEANS + 5.0,
                precisions_init=precisions, covariance_type=covariance_type, tol=1e-10,
                max_iter=500)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_em_steps_are_gaussian_mixtures(covariance_type):
    # Without acceleration, the phase is GaussianMixture's EM step for step:
    # the same passes and lower bounds from the same start.
    X = _misspecified_data() * 3.0 + 5.0
    init = _gaussian_mixture_start(covariance_type)
    theirs = GaussianMixture(2, **init).fit(X)
    model = covariance_model(covariance_type, 1e-6)
    start = _params(covariance_type)
    start = make_mixture(start.weights, init["means_init"], 9 * start.covariances, model)
    ours = run_likelihood_phase(X, start, model, tol=1e-10, max_iter=500)
    assert ours.n_iter == theirs.n_iter_
    np.testing.assert_allclose(ours.lower_bounds, theirs.lower_bounds_, atol=1e-9)
    for got, name in zip(ours.params, ("weights_", "means_", "covariances_")):
        np.testing.assert_allclose(got, getattr(theirs, name), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_same_start_same_fit_as_gaussian_mixture(covariance_type):
    # The estimator's phase is accelerated (SQUAREM): from the same start it
    # converges to GaussianMixture's maximum, closer than GaussianMixture's
    # own stop on a gain of 1e-10 per row (2e-7-2e-6 from it here; ours
    # 5e-9-5e-7, the stop's gains to come being settled on 200 rows).
    X = _misspecified_data() * 3.0 + 5.0
    init = _gaussian_mixture_start(covariance_type)
    ours = DDPMGaussianMixture(2, **init).fit(X)
    theirs = GaussianMixture(2, **init).fit(X)
    maximum = GaussianMixture(2, **{**init, "tol": 1e-15, "max_iter": 10_000}).fit(X)
    assert ours.converged_ and theirs.converged_ and maximum.converged_
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        np.testing.assert_allclose(getattr(ours, name), getattr(maximum, name),
                                   rtol=1e-6, atol=1e-6, err_msg=name)
        ours_off, theirs_off = (np.max(np.abs(getattr(fit, name) - getattr(maximum, name)))
                                for fit in (ours, theirs))
        assert ours_off < theirs_off, name
    assert ours.lower_bound_ == pytest.approx(theirs.lower_bound_, abs=1e-9)
    assert ours.score(X) >= theirs.score(X) - 1e-12
    assert ours.lower_bound_ == ours.lower_bounds_[-1]
    assert ours.lower_bound_ >= max(ours.lower_bounds_) - 1e-12
    assert ours.bic(X) == pytest.approx(theirs.bic(X), abs=1e-7)


def _weakly_separated(n_samples=6000, n_features=5, separation=0.8, seed=0):
    """Two symmetric components whose means are ``separation`` from the
    centre: EM contracts slowly along the means' direction."""
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], n_samples)
    X = rng.standard_normal((n_samples, n_features))
    X[:, 0] += separation * signs
    return X


def _split(X):
    """Posteriors that split the rows off centre along the means' direction."""
    upper = X[:, 0] > 0.3
    return np.c_[upper, ~upper].astype(float)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_acceleration_reaches_em_maximum_in_fewer_passes(covariance_type):
    # EM needs 117-1691 passes here (full: 1691, diag: 1032), SQUAREM 28-241.
    X = _weakly_separated(n_samples=2000, separation=1.0)
    model = covariance_model(covariance_type, 1e-6)
    start = em_step(X, _split(X), model)
    plain = run_likelihood_phase(X, start, model, tol=1e-9, max_iter=20_000)
    fast = run_likelihood_phase(X, start, model, tol=1e-9, max_iter=20_000, accelerated=True)
    assert plain.converged and fast.converged
    assert fast.n_iter < plain.n_iter / 3
    assert fast.lower_bounds[-1] >= plain.lower_bounds[-1] - 1e-8
    for got, want in zip(fast.params[:3], plain.params[:3]):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_accelerated_after_gaussian_mixtures_stop_follows_em_up_to_it(covariance_type):
    # With accelerate_below = GaussianMixture's tol the passes are EM's own
    # up to the first step that gains less than it (where GaussianMixture
    # stops), the same values to rounding; the jumps then take the phase on
    # uphill, to the maximum plain EM reaches, in fewer passes.
    X = _weakly_separated(n_samples=2000, separation=1.0)
    model = covariance_model(covariance_type, 1e-6)
    start = em_step(X, _split(X), model)
    gm_tol = 1e-3
    plain = run_likelihood_phase(X, start, model, tol=1e-9, max_iter=20_000)
    after = run_likelihood_phase(X, start, model, tol=1e-9, max_iter=20_000,
                                 accelerated=True, accelerate_below=gm_tol)
    em_values = np.array(plain.lower_bounds)
    gm_stop = 1 + np.flatnonzero(np.abs(np.diff(em_values)) < gm_tol)[0]
    assert gm_stop >= 3
    np.testing.assert_allclose(after.lower_bounds[:gm_stop + 1], em_values[:gm_stop + 1],
                               rtol=0, atol=1e-12)
    assert after.converged and after.n_iter < plain.n_iter / 2
    assert after.lower_bounds[-1] >= plain.lower_bounds[-1] - 1e-8
    assert after.lower_bounds[-1] >= max(after.lower_bounds) - 1e-12


def test_acceleration_is_monotone_but_where_a_jump_is_rejected():
    # Each pass records one value; the safeguard returns to EM's path after
    # a jump that lowered the likelihood, so the values after a rejected
    # jump's resume from the best before it, and the last is the highest.
    X = _weakly_separated(separation=0.5)
    model = covariance_model("full", 1e-6)
    start = em_step(X, _split(X), model)
    result = run_likelihood_phase(X, start, model, tol=1e-12, max_iter=5000,
                                  accelerated=True)
    values = np.array(result.lower_bounds)
    assert result.n_iter == len(values) and values[-1] == values.max()
    best = np.maximum.accumulate(values)
    dips = np.flatnonzero(values < best - 1e-12)
    # A rejected jump is followed by a pass at least as high as every earlier one.
    assert np.all(values[dips + 1] >= best[dips] - 1e-12)


@pytest.mark.parametrize("separation, seed", [(1.5, 0), (1.5, 1), (2.0, 0), (2.0, 1)])
def test_the_first_step_after_a_jump_may_stop_within_tol(separation, seed, monkeypatch):
    # An EM step's gain bounds the gains after it at the rates the stop
    # assumes, so the stop may come on the first step from a kept jump,
    # without a ratio of gains (one pass earlier than before); the phase
    # then ends within tol of the maximum. (At separation 0.8, where EM's
    # rate exceeds the 0.99 the stop assumes, fits end up to 9x tol short,
    # with or without this rule.)
    from sklearn_ddpm_gmm._core import _em

    X = _weakly_separated(n_samples=4000, separation=separation, seed=seed)
    model = covariance_model("full", 1e-6)
    start = em_step(X, _split(X), model)
    passes, jumped = [0], []
    evaluate, jump = _em._Passes.evaluate, _em.Extrapolation.jump

    def counted_evaluate(self, params):
        passes[0] += 1
        return evaluate(self, params)

    def recorded_jump(self, *args):
        result = jump(self, *args)
        if result is not None and result.length > 1.0:
            jumped.append(passes[0] + 1)  # the pass that evaluates it
        return result

    monkeypatch.setattr(_em._Passes, "evaluate", counted_evaluate)
    monkeypatch.setattr(_em.Extrapolation, "jump", recorded_jump)
    tol = 1e-5
    result = run_likelihood_phase(X, start, model, tol=tol, max_iter=5000, accelerated=True)
    monkeypatch.undo()
    assert result.converged and result.n_iter == jumped[-1] + 1
    top = run_likelihood_phase(X, start, model, tol=1e-13, max_iter=20_000,
                               accelerated=True).lower_bounds[-1]
    assert 0.0 <= top - result.lower_bounds[-1] < tol


def test_gains_to_come_below_the_settled_gain_stop_whatever_tol():
    # A tol far below the rows' statistical resolution: the step's gain must
    # still fall below tol, but the gains still to come need only fall below
    # the settled gain (60 passes sooner here, within it of the maximum).
    X = _weakly_separated(n_samples=400, separation=1.0)
    model = covariance_model("full", 1e-6)
    start = em_step(X, _split(X), model)
    settled = settled_gain(len(X))
    options = dict(tol=1e-9, max_iter=20_000)
    strict = run_likelihood_phase(X, start, model, **options)
    settling = run_likelihood_phase(X, start, model, settled=settled, **options)
    assert strict.converged and settling.converged
    assert len(settling.lower_bounds) < len(strict.lower_bounds) - 20
    gap = strict.lower_bounds[-1] - settling.lower_bounds[-1]
    assert 1e-9 < gap < settled
    assert np.diff(settling.lower_bounds)[-1] < 1e-9


@pytest.mark.parametrize("accelerated", [False, True])
def test_a_start_that_cannot_beat_its_rival_ends_early(accelerated):
    # EM from the split crawls to its maximum (plain EM: over 1000 passes).
    X = _weakly_separated(n_samples=2000, separation=1.0)
    model = covariance_model("full", 1e-6)
    start = em_step(X, _split(X), model)
    options = dict(tol=1e-9, max_iter=20_000, accelerated=accelerated)
    full = run_likelihood_phase(X, start, model, **options)
    top = full.lower_bounds[-1]
    # A rival 0.1 nats a row above the maximum: ended once 99 times the gain
    # of a step (the tail at the slowest rate the stop assumes) cannot close
    # the gap; not converged, below the rival.
    beaten = run_likelihood_phase(X, start, model, beat=top + 0.1, **options)
    assert not beaten.converged
    assert len(beaten.lower_bounds) < len(full.lower_bounds) / 3
    gains = np.diff(beaten.lower_bounds)
    assert beaten.lower_bounds[-1] + 99 * gains[-1] < top + 0.1
    # A rival below the maximum changes nothing.
    level = run_likelihood_phase(X, start, model, beat=top - 1e-3, **options)
    assert level.lower_bounds == full.lower_bounds and level.converged


def test_one_component_bic_equals_gaussian_mixture_to_seven_decimals():
    X = np.random.RandomState(0).normal(3.0, 2.0, size=(100, 1))
    ours = DDPMGaussianMixture(1, random_state=0).fit(X).bic(X)
    theirs = GaussianMixture(1, random_state=0).fit(X).bic(X)
    assert round(ours, 7) == round(theirs, 7)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_integer_weights_are_repeated_rows_and_zero_weights_dropped_rows(covariance_type):
    X = _misspecified_data()
    weights = np.random.default_rng(3).integers(0, 4, len(X)).astype(float)
    kwargs = dict(model=covariance_model(covariance_type, 1e-6), tol=1e-9, max_iter=300)
    weighted = run_likelihood_phase(X, _params(covariance_type), sample_weight=weights,
                                    **kwargs)
    repeated = run_likelihood_phase(np.repeat(X, weights.astype(int), axis=0),
                                    _params(covariance_type), **kwargs)
    assert weighted.n_iter == repeated.n_iter
    np.testing.assert_allclose(weighted.lower_bounds, repeated.lower_bounds, rtol=1e-10)
    for got, want in zip(weighted.params, repeated.params):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)
