"""Behaviour of DDPMGaussianMixture as a scikit-learn estimator.

Most tests use the spherical model on spherical blobs (the paper's setting);
tests/test_covariance_types.py covers the other covariance types.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_ddpm_gmm import DDPMGaussianMixture
from sklearn_ddpm_gmm._core._covariance import covariance_model
from sklearn_ddpm_gmm.datasets import make_separated_mixture
from sklearn_ddpm_gmm.metrics import match_components, matched_mean_errors


@pytest.fixture(scope="module")
def three_blobs():
    X, y, means = make_separated_mixture(3000, 4, 3, separation=6.0, random_state=0)
    return X, y, means


@pytest.fixture(scope="module")
def fitted(three_blobs):
    X, _, _ = three_blobs
    return DDPMGaussianMixture(3, covariance_type="spherical", random_state=0).fit(X)


def test_recovers_parameters_like_em(three_blobs, fitted):
    X, y, means = three_blobs
    gm = GaussianMixture(3, covariance_type="spherical", random_state=0).fit(X)
    err = matched_mean_errors(fitted.means_, means)
    assert err.max() < 0.15
    # The means' error, root mean square over random states (single fits
    # range over 0.9-1.2x GaussianMixture's on these data, by Monte Carlo noise).
    errors = [np.linalg.norm(matched_mean_errors(
        DDPMGaussianMixture(3, covariance_type="spherical", random_state=seed).fit(X).means_,
        means)) for seed in range(5)]
    gm_error = np.linalg.norm(matched_mean_errors(gm.means_, means))
    assert np.sqrt(np.mean(np.square(errors))) < 1.15 * gm_error
    order = match_components(fitted.means_, means)
    np.testing.assert_allclose(fitted.covariances_[order], 1.0, atol=0.08)
    np.testing.assert_allclose(fitted.weights_[order], np.bincount(y) / len(y), atol=0.02)
    assert abs(fitted.score(X) - gm.score(X)) < 0.01


def test_fitted_attributes_and_schedule(fitted):
    assert fitted.means_.shape == (3, 4)
    assert fitted.covariances_.shape == (3,)
    assert fitted.weights_.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(fitted.precisions_, 1 / fitted.covariances_)
    names = [p["name"] for p in fitted.schedule_]
    # The subsample holds every row: the kept candidate's run is the final
    # phase, listed last; the two others (of the power and two k-means
    # starts) before it.
    assert names[:3] == ["power", "intermediate", "intermediate"]
    assert sorted(names[3:5]) in (["start-kmeans", "start-kmeans"],
                                  ["start-kmeans", "start-power"])
    assert names[5:] == ["final"]
    levels = [p["t"] for p in fitted.schedule_[:3]]
    # The power phase sits above the intermediate levels; the final phase
    # integrates over all levels.
    assert levels[0] > max(levels[1:])
    assert all(p["t"] is None for p in fitted.schedule_[3:])
    assert sum(p["n_steps"] for p in fitted.schedule_) == len(fitted.loss_curve_)
    assert fitted.converged_
    # GaussianMixture's bookkeeping: one lower bound per final step.
    assert fitted.n_iter_ == fitted.schedule_[-1]["n_steps"] == len(fitted.lower_bounds_)
    assert fitted.lower_bound_ == fitted.lower_bounds_[-1]
    assert np.all(np.diff(fitted.lower_bounds_) > -1e-12)
    assert fitted.schedule_[-1]["n_rows"] == 3000 and fitted.schedule_[0]["n_rows"] <= 3000


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_the_kept_candidate_is_the_final_phase_and_the_highest(covariance_type):
    # Wine's candidates end at different maxima (the power start's, kept,
    # 0.12 nats a row above both k-means starts' with full covariances,
    # 0.006 with tied); each run's last loss in loss_curve_ is its
    # maximum, and the kept one's run, listed last as the final phase, is
    # the highest (bench_real_data_speed.py reads the candidates so).
    from sklearn.datasets import load_wine

    X = StandardScaler().fit_transform(load_wine().data)
    fitted = DDPMGaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    ends = np.cumsum([phase["n_steps"] for phase in fitted.schedule_])
    runs = [(phase["name"], -fitted.loss_curve_[end - 1])
            for phase, end in zip(fitted.schedule_, ends) if phase["t"] is None]
    assert runs[-1][0] == "final"
    *candidates, kept = (value for _, value in runs)
    assert len(candidates) == 2
    assert kept > max(candidates) + 1e-3


def test_predict_is_consistent(three_blobs, fitted):
    X, y, _ = three_blobs
    proba = fitted.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(fitted.predict(X), proba.argmax(axis=1))
    from sklearn.metrics import adjusted_rand_score
    assert adjusted_rand_score(y, fitted.predict(X)) > 0.99


def test_score_samples_is_the_mixture_log_density(fitted):
    X = np.random.default_rng(1).normal(size=(20, 4)) * 3
    d = X.shape[1]
    comp = [
        np.log(w) + stats.multivariate_normal(m, v * np.eye(d)).logpdf(X)
        for w, m, v in zip(fitted.weights_, fitted.means_, fitted.covariances_)
    ]
    np.testing.assert_allclose(fitted.score_samples(X), logsumexp(comp, axis=0), rtol=1e-10)


def test_score_function_matches_exact_score_of_known_mixture():
    # Fit on a known mixture; the learned noised score approaches the true one.
    X, _, means = make_separated_mixture(20000, 2, 2, separation=5.0, random_state=3)
    gm = DDPMGaussianMixture(2, random_state=0).fit(X)
    grid = np.random.default_rng(0).uniform(-5, 5, size=(200, 2))
    for t in [0.0, 0.1, 0.5, 1.0, 2.0]:
        a, s2 = np.exp(-t), -np.expm1(-2 * t)
        tau = a * a + s2
        diff = grid[:, None, :] - a * means[None]
        logp = -0.5 * (diff**2).sum(-1) / tau
        w = np.exp(logp - logsumexp(logp, axis=1, keepdims=True))
        exact = -(w[:, :, None] * diff).sum(1) / tau
        learned = gm.score_function(grid, t)
        relative_rms = np.sqrt(np.mean((learned - exact) ** 2) / np.mean(exact**2))
        assert relative_rms < 0.1, (t, relative_rms)


def test_score_function_is_exact_for_given_parameters(fitted):
    # At t = 0 the score is the gradient of score_samples.
    X = np.random.default_rng(2).normal(size=(5, 4))
    eps = 1e-5
    fd = np.stack([
        (fitted.score_samples(X + eps * e) - fitted.score_samples(X - eps * e)) / (2 * eps)
        for e in np.eye(4)
    ], axis=1)
    np.testing.assert_allclose(fitted.score_function(X, 0.0), fd, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="t must be"):
        fitted.score_function(X, -1.0)


def test_sample_follows_the_fitted_mixture(fitted):
    Xs, ys = fitted.sample(6000, random_state=0)
    assert Xs.shape == (6000, 4) and ys.shape == (6000,)
    # Component frequencies: chi-square test against the weights.
    counts = np.bincount(ys, minlength=3)
    assert stats.chisquare(counts, 6000 * fitted.weights_).pvalue > 1e-3
    # Within each component: mean and variance; along a random direction, KS test.
    direction = np.random.default_rng(0).normal(size=4)
    direction /= np.linalg.norm(direction)
    for k in range(3):
        Xk = Xs[ys == k]
        proj = (Xk - fitted.means_[k]) @ direction / np.sqrt(fitted.covariances_[k])
        assert stats.kstest(proj, "norm").pvalue > 1e-3
        assert np.allclose(Xk.mean(0), fitted.means_[k], atol=5 * np.sqrt(fitted.covariances_[k] / len(Xk)))


def test_sample_random_state_semantics(fitted):
    a, _ = fitted.sample(10)
    b, _ = fitted.sample(10)
    np.testing.assert_array_equal(a, b)  # the estimator's own random_state
    c, _ = fitted.sample(10, random_state=1)
    d, _ = fitted.sample(10, random_state=2)
    assert not np.allclose(c, d)
    with pytest.raises(ValueError, match="n_samples"):
        fitted.sample(0)


def test_bic_aic_count_parameters_like_gaussian_mixture(three_blobs, fitted):
    X, _, _ = three_blobs
    gm = GaussianMixture(3, covariance_type="spherical", random_state=0).fit(X)
    n, d = X.shape
    assert fitted._n_parameters() == gm._n_parameters() == 3 * d + 3 + 2
    assert fitted.bic(X) == pytest.approx(-2 * fitted.score(X) * n + fitted._n_parameters() * np.log(n))
    assert fitted.aic(X) == pytest.approx(-2 * fitted.score(X) * n + 2 * fitted._n_parameters())


def test_bic_selects_true_number_of_components(three_blobs):
    X, _, _ = three_blobs
    bics = [DDPMGaussianMixture(k, random_state=0).fit(X).bic(X) for k in range(1, 6)]
    assert int(np.argmin(bics)) + 1 == 3


def _pipeline_bic_score(pipeline, X):
    """Negative BIC of the pipeline's mixture on X (GridSearchCV maximises),
    as in scikit-learn's Gaussian-mixture model-selection example."""
    return -pipeline[-1].bic(pipeline[:-1].transform(X))


def test_grid_search_in_pipeline_selects_true_number_of_components():
    # An equilateral triangle of unit-variance clusters: every feature has the
    # same spread, so StandardScaler keeps the clusters spherical.
    angles = 2 * np.pi * np.arange(3) / 3
    means = 7.0 / np.sqrt(3) * np.c_[np.cos(angles), np.sin(angles)]
    rng = np.random.default_rng(4)
    X = means[rng.integers(0, 3, 1500)] + rng.standard_normal((1500, 2))
    grid = {"ddpmgaussianmixture__n_components": [1, 2, 3, 4, 5]}
    pipeline = make_pipeline(StandardScaler(), DDPMGaussianMixture(random_state=0))
    search = GridSearchCV(pipeline, grid, cv=3, scoring=_pipeline_bic_score).fit(X)
    assert search.best_params_["ddpmgaussianmixture__n_components"] == 3
    # By held-out likelihood (the default score) K = 3 beats K = 1, 2 clearly;
    # a model with surplus components can tie with it (a component split in
    # two describes the same density), so only the lower bound is certain.
    search = GridSearchCV(pipeline, grid, cv=3).fit(X)
    scores = search.cv_results_["mean_test_score"]
    assert search.best_params_["ddpmgaussianmixture__n_components"] >= 3
    assert scores[2] > scores[1] + 0.1 and scores[2] >= scores.max() - 0.005


@pytest.mark.parametrize("init_params", ["power", "k-means++", "random_from_data"])
def test_every_init_finds_the_blobs(three_blobs, init_params):
    X, _, means = three_blobs
    gm = DDPMGaussianMixture(3, covariance_type="spherical", init_params=init_params, random_state=0).fit(X)
    assert matched_mean_errors(gm.means_, means).max() < 0.2


def test_means_init_skips_the_cold_start(three_blobs):
    X, _, means = three_blobs
    gm = DDPMGaussianMixture(
        3, covariance_type="spherical", means_init=means + 0.5, weights_init=[0.2, 0.3, 0.5],
        precisions_init=[1.0, 2.0, 0.5], random_state=0,
    ).fit(X)
    # The cold start is skipped.
    assert [p["name"] for p in gm.schedule_] == ["final"]
    assert matched_mean_errors(gm.means_, means).max() < 0.15


def test_bad_initial_values_get_gaussian_mixtures_errors(three_blobs):
    X, _, means = three_blobs
    cases = [
        (dict(means_init=means[:2]), "The parameter 'means' should have the shape of"),
        (dict(weights_init=[0.5, 0.6, -0.1]), "The parameter 'weights' should be in the range"),
        (dict(weights_init=[0.5, 0.6, 0.1]), "The parameter 'weights' should be normalized"),
        (dict(covariance_type="spherical", precisions_init=[1.0, -1.0, 1.0]),
         "'spherical precision' should be positive"),
        (dict(precisions_init=[1.0, 1.0, 1.0]), "'full precision' should have the shape"),
        (dict(precisions_init=-np.stack([np.eye(4)] * 3)),
         "'full precision' should be symmetric, positive-definite"),
    ]
    for kwargs, message in cases:
        for estimator in (DDPMGaussianMixture, GaussianMixture):
            with pytest.raises(ValueError, match=message):
                estimator(3, **kwargs).fit(X)


def test_zero_initial_weight_is_accepted_as_in_gaussian_mixture(three_blobs):
    X, _, _ = three_blobs
    for estimator in (DDPMGaussianMixture, GaussianMixture):
        gm = estimator(3, weights_init=[0.5, 0.5, 0.0], random_state=0).fit(X)
        assert np.all(np.isfinite(gm.means_)) and gm.weights_.sum() == pytest.approx(1.0)


def test_warm_start_continues_from_previous_fit(three_blobs, fitted):
    X, _, _ = three_blobs
    gm = DDPMGaussianMixture(3, covariance_type="spherical", random_state=0, warm_start=True).fit(X)
    means = gm.means_.copy()
    gm.fit(X)
    assert [p["name"] for p in gm.schedule_] == ["final"]
    assert gm.converged_
    np.testing.assert_allclose(gm.means_, means, atol=1e-3)


@pytest.mark.parametrize("covariance_type", ["full", "spherical"])
def test_two_warm_fits_of_one_step_equal_one_fit_of_two(three_blobs, covariance_type):
    X, _, _ = three_blobs
    kwargs = dict(covariance_type=covariance_type, max_iter=1, random_state=0,
                  warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm = DDPMGaussianMixture(3, **kwargs).fit(X).fit(X)
        once = DDPMGaussianMixture(3, **{**kwargs, "max_iter": 2}).fit(X)
    assert warm.n_iter_ == 1 and once.n_iter_ == 2
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(warm, name), getattr(once, name), rtol=1e-10,
                                   atol=1e-12)
    assert warm.lower_bound_ == pytest.approx(once.lower_bound_, abs=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_warm_fits_of_one_step_converge_at_a_tol_below_the_rows_resolution(seed):
    # GaussianMixture's test_monotonic_likelihood, its diag case: 200 rows of
    # two overlapping components, reg_covar=0, tol=1e-7, one pass a call. EM
    # crawls (its gains fall at 0.993 a pass); once a step gains less than
    # tol the maximum is still about 1.2e-4 a row away, 0.22 standard errors
    # on 200 rows, far below what they resolve (settled_gain), so the stop
    # comes there, as GaussianMixture's.
    rng = np.random.RandomState(0)
    X = np.vstack([rng.multivariate_normal(mean, np.diag(variance), rows) for mean, variance, rows
                   in [([4.22, 3.81], [2.14, 0.78], 87), ([2.97, 4.52], [1.67, 1.06], 113)]])
    gm = DDPMGaussianMixture(2, covariance_type="diag", reg_covar=0, warm_start=True,
                             max_iter=1, tol=1e-7, random_state=seed)
    scores = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(600):
            scores.append(gm.fit(X).score(X))
            if gm.converged_:
                break
    assert gm.converged_
    assert np.all(np.diff(scores) >= 0.0)


def test_max_iter_bounds_the_passes_where_the_subsample_holds_every_row():
    # GaussianMixture's semantics (its test_warm_start and test_score): on
    # rows the start's subsample holds whole, its candidates' passes are
    # passes over the data, so max_iter bounds them: a short fit stops short
    # of the maximum a longer one reaches.
    X = np.random.RandomState(0).rand(500, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        five = DDPMGaussianMixture(2, max_iter=5, tol=1e-6, reg_covar=0, random_state=0).fit(X)
        one = DDPMGaussianMixture(2, max_iter=1, random_state=0).fit(X)
    longer = DDPMGaussianMixture(2, random_state=0).fit(X)
    assert five.n_iter_ == 5 and not five.converged_
    assert one.n_iter_ == 1 and len(one.lower_bounds_) == 1
    assert longer.converged_ and longer.score(X) > one.score(X)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_warm_fits_of_one_step_converge_where_one_fit_does(three_blobs, covariance_type):
    # GaussianMixture's semantics (its test_monotonic_likelihood): warm fits of
    # max_iter=1 reach converged_ as one fit does, the stop's extrapolation of
    # the gains to come carried from one call to the next. One pass a call
    # leaves SQUAREM nothing to extrapolate: they run plain EM to the maximum
    # the accelerated fit reaches.
    X, _, _ = three_blobs
    # GaussianMixture's k-means start: the default's start is converged on
    # these rows already (they are its subsample).
    kwargs = dict(covariance_type=covariance_type, random_state=0, tol=1e-9,
                  init_params="kmeans")
    once = DDPMGaussianMixture(3, max_iter=500, **kwargs).fit(X)
    assert once.converged_ and once.n_iter_ > 2
    warm = DDPMGaussianMixture(3, max_iter=1, warm_start=True, **kwargs)
    scores = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for calls in range(1, 500):
            scores.append(warm.fit(X).score(X))
            if warm.converged_:
                break
    assert warm.converged_ and calls > 2
    assert np.all(np.diff(scores) >= -1e-12)
    assert warm.score(X) == pytest.approx(once.score(X), abs=1e-8)
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(warm, name), getattr(once, name), rtol=1e-4,
                                   atol=1e-6)


def test_the_first_of_n_init_starts_is_n_init_1s(three_blobs, monkeypatch):
    # GaussianMixture's semantics (its test_init): more starts never end lower.
    from sklearn_ddpm_gmm._mixture import _fit

    X, _, _ = three_blobs
    runs = []
    one_init = _fit._one_init

    def spy(*args, **kwargs):
        result = one_init(*args, **kwargs)
        runs.append(result[0].lower_bounds)
        return result

    monkeypatch.setattr(_fit, "_one_init", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        single = DDPMGaussianMixture(3, max_iter=1, random_state=5).fit(X)
        runs.clear()
        several = DDPMGaussianMixture(3, max_iter=1, n_init=4, random_state=5).fit(X)
    assert len(runs) == 4
    np.testing.assert_array_equal(runs[0][-1] - X.shape[1] * np.log(
        several._standardisation_[1]), single.lower_bound_)
    assert several.lower_bound_ >= single.lower_bound_


def test_max_iter_zero_returns_the_initialisation(three_blobs):
    X, _, means = three_blobs
    given = dict(means_init=means + 0.3, weights_init=[0.2, 0.3, 0.5],
                 precisions_init=[1.0, 2.0, 0.5], covariance_type="spherical")
    gm = DDPMGaussianMixture(3, max_iter=0, **given).fit(X)
    np.testing.assert_allclose(gm.means_, given["means_init"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gm.weights_, given["weights_init"], rtol=1e-12)
    np.testing.assert_allclose(gm.precisions_, given["precisions_init"], rtol=1e-12)
    assert gm.n_iter_ == 0 and gm.lower_bounds_ == [] and not gm.converged_
    # From the cold start: the candidates' starts, neither stepped, the one
    # of higher likelihood kept; no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        cold = DDPMGaussianMixture(3, max_iter=0, random_state=0).fit(X)
    assert cold.n_iter_ == 0 and cold.schedule_[-1]["name"] == "final"
    assert [p["n_steps"] for p in cold.schedule_[-2:]] == [0, 0]
    assert matched_mean_errors(cold.means_, means).max() < 0.3


def test_n_init_keeps_the_start_with_the_highest_lower_bound(three_blobs, monkeypatch):
    from sklearn_ddpm_gmm._core._em import InMemoryRows

    X, _, _ = three_blobs
    finals = []
    run = InMemoryRows.run_phase

    def spy(self, *args, **kwargs):
        result = run(self, *args, **kwargs)
        finals.append(result.lower_bounds[-1])
        return result

    monkeypatch.setattr(InMemoryRows, "run_phase", spy)
    gm = DDPMGaussianMixture(3, init_params="random", n_init=4, max_iter=5,
                             random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X)
    assert len(finals) == 4
    offset = X.shape[1] * np.log(gm._standardisation_[1])
    assert gm.lower_bound_ == pytest.approx(max(finals) - offset, abs=1e-12)


@pytest.mark.parametrize("init_params", ["kmeans", "random", "k-means++",
                                         "random_from_data"])
def test_gaussian_mixtures_inits_give_its_start(three_blobs, init_params):
    # The same draws from random_state as GaussianMixture's: the same start.
    X, _, _ = three_blobs
    ours = DDPMGaussianMixture(3, init_params=init_params, max_iter=0, random_state=1).fit(X)
    theirs = GaussianMixture(3, init_params=init_params, max_iter=0, random_state=1).fit(X)
    # (From one row per component GaussianMixture's weights are 1 / n each,
    # summing to K / n; ours are normalised.)
    names = ["means_", "precisions_cholesky_"]
    if init_params in ("kmeans", "random"):
        names.append("weights_")
    for name in names:
        np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=1e-6,
                                   atol=1e-7, err_msg=name)
    # EM to convergence from there: the same fit.
    ours = DDPMGaussianMixture(3, init_params=init_params, tol=1e-10, random_state=1).fit(X)
    theirs = GaussianMixture(3, init_params=init_params, tol=1e-10, random_state=1).fit(X)
    if init_params != "random":  # from near-equal posteriors both sit at a saddle
        np.testing.assert_allclose(ours.means_, theirs.means_, rtol=1e-6, atol=1e-7)
        assert ours.lower_bound_ == pytest.approx(theirs.lower_bound_, abs=1e-7)


def test_zero_reg_covar_on_degenerate_data_raises_gaussian_mixtures_error():
    X = np.repeat(np.array([[0.0, 1.0], [5.0, 5.0]]), 20, axis=0)
    # (Spherical variances come out of rounding as 1e-15 in both: no error.)
    message = "ill-defined empirical covariance"
    for covariance_type in ("full", "tied", "diag"):
        for estimator in (DDPMGaussianMixture, GaussianMixture):
            with pytest.raises(ValueError, match=message):
                estimator(2, covariance_type=covariance_type, reg_covar=0.0,
                          random_state=0).fit(X)


def test_n_init_keeps_the_lowest_loss_start(three_blobs):
    X, _, means = three_blobs
    gm = DDPMGaussianMixture(3, covariance_type="spherical", n_init=3, random_state=0).fit(X)
    assert matched_mean_errors(gm.means_, means).max() < 0.15


def test_same_random_state_same_result(three_blobs):
    X, _, _ = three_blobs
    a = DDPMGaussianMixture(3, random_state=5).fit(X)
    b = DDPMGaussianMixture(3, random_state=5).fit(X)
    np.testing.assert_array_equal(a.means_, b.means_)
    np.testing.assert_array_equal(a.loss_curve_, b.loss_curve_)


def test_convergence_warning_when_final_phase_hits_max_iter():
    # 40 000 rows, a cold start on 5 000: one full-data step leaves the means
    # more than a standard error from where the next one takes them.
    X, _, _ = make_separated_mixture(40000, 4, 3, separation=6.0, random_state=0)
    message = "Best performing initialization did not converge"
    with pytest.warns(ConvergenceWarning, match=message):
        gm = DDPMGaussianMixture(3, covariance_type="spherical", max_iter=1, tol=0.0,
                                 random_state=0).fit(X)
    assert not gm.converged_ and gm.n_iter_ == 1 == gm.schedule_[-1]["n_steps"]
    with pytest.warns(ConvergenceWarning, match=message):
        GaussianMixture(3, max_iter=1, tol=0.0, random_state=0).fit(X)


def test_verbose_output_like_gaussian_mixture(three_blobs, capsys):
    X, _, _ = three_blobs
    DDPMGaussianMixture(3, covariance_type="spherical", verbose=2, verbose_interval=1,
                        random_state=0).fit(X)
    out = capsys.readouterr().out
    assert "Initialization 0" in out
    assert "  Iteration 1\t time lapse" in out and "ll change" in out
    assert "Initialization converged. time lapse" in out and "lower bound" in out


# --------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "X, error, match",
    [
        # NaN is a missing entry (tests/test_missing.py): a row of them is refused.
        (np.array([[np.nan, np.nan], [0.0, 1.0], [2.0, 1.0]]), ValueError, "NaN"),
        (np.array([[1.0, np.inf], [0.0, 1.0], [2.0, 1.0]]), ValueError, "infinity"),
        (np.array([["a", "b"], ["c", "d"]]), ValueError, "could not convert|dtype"),
        (np.arange(5.0), ValueError, "2D array"),
        (np.zeros((3, 2, 2)), ValueError, "dim"),
        (np.zeros((3, 2)) + 1j, ValueError, "[Cc]omplex"),
        (sp.csr_matrix(np.eye(3)), TypeError, "[Ss]parse"),
        (np.array([[1.0, 2.0]]), ValueError, "1 sample"),
    ],
)
def test_bad_input_gets_a_clear_error(X, error, match):
    with pytest.raises(error, match=match):
        DDPMGaussianMixture().fit(X)


def test_fewer_samples_than_components():
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        DDPMGaussianMixture(4).fit(np.random.default_rng(0).normal(size=(3, 2)))


def test_invalid_parameters():
    X = np.random.default_rng(0).normal(size=(20, 2))
    for bad in [dict(n_components=0), dict(init_params="banana"), dict(tol=-1.0),
                dict(noise_level=0.0), dict(covariance_type="banana"), dict(n_noise_draws=-1)]:
        with pytest.raises(ValueError):
            DDPMGaussianMixture(**bad).fit(X)


def test_wrong_number_of_features_at_predict(fitted):
    with pytest.raises(ValueError, match="features"):
        fitted.predict(np.zeros((2, 3)))


def test_callers_array_is_not_modified(three_blobs):
    X = three_blobs[0].copy()
    X32 = X.astype(np.float32)
    before, before32 = X.copy(), X32.copy()
    gm = DDPMGaussianMixture(3, random_state=0).fit(X)
    gm.predict(X)
    gm.score_samples(X)
    DDPMGaussianMixture(3, random_state=0).fit(X32)
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(X32, before32)


@pytest.mark.parametrize("scale", [1e-100, 1e100])
def test_extreme_scales_fit_without_nan(three_blobs, scale):
    X, _, means = three_blobs
    # reg_covar is in the data's units, as GaussianMixture's.
    gm = DDPMGaussianMixture(3, covariance_type="spherical", reg_covar=1e-6 * scale**2,
                             random_state=0).fit(X * scale)
    for arr in [gm.means_, gm.covariances_, gm.weights_, gm.score_samples(X * scale),
                gm.predict_proba(X * scale)]:
        assert np.all(np.isfinite(arr))
    # The fit is the same problem in other units.
    assert matched_mean_errors(gm.means_ / scale, means).max() < 0.15
    np.testing.assert_allclose(gm.covariances_ / scale**2, 1.0, atol=0.1)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical", "identity"])
@pytest.mark.parametrize("n_components", [1, 2, 3])
def test_constant_and_duplicated_rows_fit_without_nan(n_components, covariance_type):
    # Every component collapses onto a point: reg_covar keeps it finite.
    constant = np.full((50, 3), 7.0)
    duplicated = np.repeat(np.array([[0.0, 1.0, 2.0], [5.0, 5.0, 5.0]]), 25, axis=0)
    for X in (constant, duplicated):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm = DDPMGaussianMixture(
                n_components, covariance_type=covariance_type, random_state=0
            ).fit(X)
        for arr in [gm.means_, gm.covariances_, gm.weights_, gm.score_samples(X),
                    gm.predict_proba(X), gm.precisions_, gm.sample(5)[0]]:
            assert np.all(np.isfinite(arr))
        cov = gm.covariances_
        if covariance_type in ("full", "tied"):
            cov = np.linalg.eigvalsh(cov)
        assert np.all(cov > 0)


@pytest.mark.parametrize("covariance_type", ["spherical", "diag", "full", "identity"])
def test_float32_data_fits_like_float64_with_float32_attributes(covariance_type):
    # As GaussianMixture: float32 data give float32 fitted attributes; the
    # result differs from the float64 fit by rounding, far below the means'
    # standard error here (~0.01).
    X, _, _ = make_separated_mixture(20_000, 6, 3, random_state=3)
    m64 = DDPMGaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    m32 = DDPMGaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(
        X.astype(np.float32))
    gm32 = GaussianMixture(3, covariance_type=covariance_model(covariance_type, 0.0).sklearn_type,
                           random_state=0).fit(X.astype(np.float32))
    for name in ("means_", "covariances_", "weights_", "precisions_cholesky_"):
        assert getattr(m32, name).dtype == getattr(gm32, name).dtype == np.float32, name
        assert getattr(m64, name).dtype == np.float64, name
    # The same maximum, its components possibly in another order (the two
    # candidate starts reach it with different labels, and rounding may
    # keep the other one).
    order = match_components(m32.means_, m64.means_)
    np.testing.assert_allclose(m32.means_[order], m64.means_, atol=0.01)
    covariances = m32.covariances_ if covariance_type == "tied" else m32.covariances_[order]
    np.testing.assert_allclose(covariances, m64.covariances_, rtol=0.02, atol=1e-3)
    np.testing.assert_allclose(m32.weights_[order], m64.weights_, atol=0.005)
    assert abs(m32.score(X) - m64.score(X)) < 1e-3


def test_single_level_partial_fit_after_a_default_fit(three_blobs):
    # The default fit sets the DDPM phases' regularisation that a later
    # single-level partial_fit reuses (it raised AttributeError once).
    X, _, _ = three_blobs
    gm = DDPMGaussianMixture(3, covariance_type="spherical", random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.set_params(noise_level=0.05).partial_fit(X[:300])
    assert gm.n_samples_seen_ == len(X) + 300
    assert np.all(np.isfinite(gm.means_))
    assert gm.schedule_[-1]["name"] == "averaging"


@pytest.mark.parametrize("loader, n_components", [("iris", 8), ("breast_cancer", 6)])
def test_default_fit_does_not_end_below_gaussian_mixtures_regular_single_start(
        loader, n_components):
    # The k-means candidate is GaussianMixture's own start (the same draws),
    # converged: on rows the cold start's subsample holds whole, the fit ends
    # at or above GaussianMixture(random_state=s) wherever that is regular
    # (where it is singular, a lower regular maximum is preferred). Drawn
    # after the cold start instead, the candidate ended 0.03-0.15 nats a row
    # below in 5 of these 8 fits.
    from sklearn import datasets

    from sklearn_ddpm_gmm._core._mixture import has_singular_component, make_mixture

    X = StandardScaler().fit_transform(getattr(datasets, f"load_{loader}")().data)
    model = covariance_model("diag", 1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in range(4):
            gm = GaussianMixture(n_components, covariance_type="diag",
                                 random_state=seed).fit(X)
            regular = not has_singular_component(
                make_mixture(gm.weights_, gm.means_, gm.covariances_, model), model, len(X))
            ddpm = DDPMGaussianMixture(n_components, covariance_type="diag",
                                       random_state=seed).fit(X)
            if regular:
                assert ddpm.score(X) >= gm.score(X) - 1e-3, seed


def test_default_fit_does_not_end_below_gaussian_mixtures_single_start_on_7000_rows():
    # Up to 10 000 rows the candidates converge on every row, the k-means one
    # along GaussianMixture's own path, never abandoned. Converged on the
    # cold start's subsample of 5 000 rows, this fit (heavy-tailed rows)
    # ended 0.006 nats a row below GaussianMixture's regular single start.
    from sklearn_ddpm_gmm._core._mixture import has_singular_component, make_mixture

    rng = np.random.RandomState(0)
    X = rng.standard_t(2.5, size=(7000, 6)) @ rng.standard_normal((6, 6))
    gm = GaussianMixture(5, random_state=0).fit(X)
    model = covariance_model("full", 1e-6)
    assert not has_singular_component(
        make_mixture(gm.weights_, gm.means_, gm.covariances_, model), model, len(X))
    ddpm = DDPMGaussianMixture(5, random_state=0).fit(X)
    assert ddpm.score(X) >= gm.score(X) - 1e-3


@pytest.mark.parametrize("n_samples, kmeans_rows", [
    (1_000, 1_000),  # the subsample holds every row
    (8_000, 8_000),  # it does not: the candidates on every row
    (15_000, 15_000),  # they converge on the subsample, k-means on every row
    (25_000, 5_000),  # beyond _KMEANS_ALL_ROWS_MAX: on the subsample
])
def test_kmeans_candidate_is_gaussian_mixtures_start_up_to_20000_rows(
        monkeypatch, n_samples, kmeans_rows):
    # Between the cold start's subsample (5 000 rows here) and 20 000 rows
    # the k-means candidate's k-means runs on every row (up to 10 000 rows
    # the candidates converge there too), so its labels are
    # those of GaussianMixture(random_state=s)'s start; on the subsample
    # alone, fits of 6 000-14 000 rows ended up to 0.7 nats a row below
    # GaussianMixture's single start (docs/design.rst).
    from sklearn.cluster import KMeans

    from sklearn_ddpm_gmm._mixture import _fit

    seen = []
    original = _fit.initial_posteriors

    def recording(X, *args, **kwargs):
        resp = original(X, *args, **kwargs)
        seen.append((len(X), resp.argmax(axis=1)))
        return resp

    monkeypatch.setattr(_fit, "initial_posteriors", recording)
    X = make_separated_mixture(n_samples, 4, 3, random_state=0)[0]
    DDPMGaussianMixture(3, max_iter=1, random_state=0).fit(X)
    rows, labels = seen[0]
    assert rows == kmeans_rows
    if rows == n_samples:
        expected = KMeans(3, n_init=1, random_state=0).fit(X).labels_
        assert np.mean(labels == expected) > 0.999  # up to the standardisation's rounding
