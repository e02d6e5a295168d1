"""Missing values (NaN): EM on the observed entries, inference that
marginalises the missing ones, and imputation."""

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from sklearn_ddpm_gmm import DDPMGaussianMixture
from sklearn_ddpm_gmm._core._covariance import covariance_model
from sklearn_ddpm_gmm._core._em import InMemoryRows, posteriors
from sklearn_ddpm_gmm._core._missing import (
    MissingRows,
    conditionals,
    missing_patterns,
    observed_statistics,
)
from sklearn_ddpm_gmm._core._mixture import make_mixture
from sklearn_ddpm_gmm.datasets import make_covariance_mixture
from sklearn_ddpm_gmm.metrics import matched_mean_error

TYPES = ("full", "tied", "diag", "spherical")


def _random_covariance(rng, d):
    A = rng.standard_normal((d, d))
    return A @ A.T / d + 0.3 * np.eye(d)


def _type_covariances(kind, rng, n_components, d):
    """Covariances in GaussianMixture's shape for ``kind`` and their dense form."""
    if kind == "full":
        cov = np.stack([_random_covariance(rng, d) for _ in range(n_components)])
        return cov, cov
    if kind == "tied":
        cov = _random_covariance(rng, d)
        return cov, np.broadcast_to(cov, (n_components, d, d))
    if kind == "diag":
        cov = rng.uniform(0.3, 2.0, (n_components, d))
        return cov, np.stack([np.diag(c) for c in cov])
    cov = rng.uniform(0.3, 2.0, n_components)
    return cov, cov[:, None, None] * np.eye(d)


def _holes(X, share, rng):
    """X with a share of entries missing completely at random (each row keeps one)."""
    mask = rng.random(X.shape) < share
    mask[mask.all(axis=1), 0] = False
    Xm = X.copy()
    Xm[mask] = np.nan
    return Xm


@pytest.mark.parametrize("kind", TYPES)
def test_one_component_is_gaussian_conditioning(kind):
    """The conditional mean, the conditional covariance and the observed
    marginal of one Gaussian equal the closed forms (Schur complement)."""
    rng = np.random.default_rng(0)
    d = 6
    cov, dense = _type_covariances(kind, rng, 1, d)
    mean = rng.standard_normal((1, d))
    model = covariance_model(kind, 0.0)
    params = make_mixture(np.ones(1), mean, cov, model)
    X = _holes(rng.standard_normal((200, d)) * 2, 0.4, rng)
    patterns = missing_patterns(X)
    checked = 0
    for block in conditionals(X, patterns, params, model):
        for j, row in enumerate(block.rows):
            m = np.isnan(X[row])
            o = ~m
            S = dense[0]
            B = S[np.ix_(m, o)] @ np.linalg.inv(S[np.ix_(o, o)])
            expected_mean = mean[0, m] + B @ (X[row, o] - mean[0, o])
            expected_cov = S[np.ix_(m, m)] - B @ S[np.ix_(o, m)]
            got_mean = (block.offsets[0, j] + mean[0])[m]
            got_cov = block.covariances[0, block.pattern[j]]
            np.testing.assert_allclose(got_mean, expected_mean, rtol=0, atol=1e-10)
            np.testing.assert_allclose(got_cov, expected_cov, rtol=0, atol=1e-10)
            np.testing.assert_allclose((block.offsets[0, j] + mean[0])[o], X[row, o],
                                       rtol=0, atol=1e-12)
            expected_log = multivariate_normal(mean[0, o], S[np.ix_(o, o)]).logpdf(X[row, o])
            assert abs(block.log_gaussian[j, 0] - expected_log) < 1e-10
            checked += 1
    assert checked == len(X) - len(patterns.complete) > 150


def test_impute_one_component_is_gaussian_conditioning():
    """The estimator's conditional mean (data's units) is the closed form."""
    rng = np.random.default_rng(1)
    d = 5
    S = _random_covariance(rng, d) * 4.0
    X = rng.multivariate_normal(np.arange(d) + 10.0, S, size=400)
    gm = DDPMGaussianMixture(random_state=0).fit(X)
    Xm = _holes(X[:50], 0.4, rng)
    filled = gm.impute(Xm)
    mu, S = gm.means_[0], gm.covariances_[0]
    for x, f in zip(Xm, filled):
        m = np.isnan(x)
        o = ~m
        expected = mu[m] + S[np.ix_(m, o)] @ np.linalg.solve(S[np.ix_(o, o)], x[o] - mu[o])
        np.testing.assert_allclose(f[m], expected, rtol=0, atol=1e-10)
        np.testing.assert_array_equal(f[o], x[o])


@pytest.mark.parametrize("kind", TYPES)
def test_expected_statistics_without_missing_equal_the_statistics(kind):
    rng = np.random.default_rng(2)
    K, d = 3, 4
    X = rng.standard_normal((100, d))
    resp = rng.dirichlet(np.ones(K), size=100)
    model = covariance_model(kind, 1e-6)
    stats = model.statistics(X, resp, None)
    means = stats.first / stats.mass[:, None]
    # The rows as offsets from any centres (the current means, in a fit).
    centres = rng.standard_normal((K, d))
    offsets = X - centres[:, np.newaxis, :]
    second = model.expected_second_statistic(offsets, resp, centres, means,
                                             np.zeros((K, d, d)))
    np.testing.assert_allclose(second, stats.second, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", TYPES)
@pytest.mark.parametrize("d, share", [(4, 0.35), (10, 0.75)])
def test_observed_statistics_match_a_row_by_row_computation(kind, d, share):
    """Posteriors, expected first and second moments against a direct
    per-row computation from the dense covariances (with 10 features and
    75% missing, most rows take the conditional shift's matmul branch)."""
    rng = np.random.default_rng(3)
    K = 3
    cov, dense = _type_covariances(kind, rng, K, d)
    means = rng.standard_normal((K, d))
    weights = np.array([0.2, 0.3, 0.5])
    model = covariance_model(kind, 0.0)
    params = make_mixture(weights, means, cov, model)
    X = _holes(rng.standard_normal((60, d)) * 2, share, rng)
    sample_weight = rng.uniform(0.5, 2.0, len(X))
    stats = observed_statistics(X, missing_patterns(X), params, model, sample_weight)
    mass, first = np.zeros(K), np.zeros((K, d))
    raw = np.zeros((K, d, d))
    total = 0.0
    for x, w in zip(X, sample_weight):
        o = ~np.isnan(x)
        log_r, moments = [], []
        for k in range(K):
            S = dense[k]
            log_r.append(np.log(weights[k])
                         + multivariate_normal(means[k, o], S[np.ix_(o, o)]).logpdf(x[o]))
            B = S[np.ix_(~o, o)] @ np.linalg.inv(S[np.ix_(o, o)])
            xh = x.copy()
            xh[~o] = means[k, ~o] + B @ (x[o] - means[k, o])
            C = np.zeros((d, d))
            C[np.ix_(~o, ~o)] = S[np.ix_(~o, ~o)] - B @ S[np.ix_(o, ~o)]
            moments.append((xh, np.outer(xh, xh) + C))
        log_norm = logsumexp(log_r)
        total += w * log_norm
        for k, (xh, second) in enumerate(moments):
            r = w * np.exp(log_r[k] - log_norm)
            mass[k] += r
            first[k] += r * xh
            raw[k] += r * second
    np.testing.assert_allclose(stats.mass, mass, rtol=1e-10)
    np.testing.assert_allclose(stats.first, first, rtol=1e-10, atol=1e-10)
    assert abs(stats.log_likelihood - total) < 1e-9 * abs(total)
    means_k = first / mass[:, None]
    if kind == "full":
        expected = raw - mass[:, None, None] * np.einsum("ki,kj->kij", means_k, means_k)
    elif kind == "tied":
        expected = raw.sum(axis=0)
    else:
        expected = np.diagonal(raw, axis1=1, axis2=2)
    np.testing.assert_allclose(stats.second, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kind", TYPES)
def test_complete_rows_take_the_complete_data_phase(kind):
    """Without NaN the observed-data phase is the complete-data one."""
    X = make_covariance_mixture(300, 3, 2, random_state=0)[0]
    model = covariance_model(kind, 1e-6)
    resp = np.random.default_rng(0).dirichlet(np.ones(2), size=len(X))
    start = make_mixture(*model.m_step(model.statistics(X, resp, None)), model)
    kwargs = dict(tol=1e-6, max_iter=20)
    a = InMemoryRows(X).run_phase(start, model, **kwargs)
    b = MissingRows(X).run_phase(start, model, **kwargs)
    assert a.lower_bounds == b.lower_bounds
    for x, y in zip(a.params, b.params):
        np.testing.assert_array_equal(x, y)


def test_integer_weights_equal_repeated_rows():
    rng = np.random.default_rng(4)
    X = _holes(make_covariance_mixture(200, 3, 2, random_state=1)[0], 0.3, rng)
    counts = rng.integers(0, 3, len(X))
    model = covariance_model("full", 1e-6)
    resp = rng.dirichlet(np.ones(2), size=len(X))
    filled = np.where(np.isnan(X), 0.0, X)
    start = make_mixture(*model.m_step(model.statistics(filled, resp, None)), model)
    kwargs = dict(tol=1e-8, max_iter=10)
    weighted = MissingRows(X, counts.astype(float)).run_phase(start, model, **kwargs)
    repeated = MissingRows(np.repeat(X, counts, axis=0)).run_phase(start, model, **kwargs)
    np.testing.assert_allclose(weighted.lower_bounds, repeated.lower_bounds, rtol=1e-10)
    for x, y in zip(weighted.params, repeated.params):
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("kind", TYPES + ("identity",))
def test_fit_with_missing_values_every_type(kind):
    X, _, _, means, _ = make_covariance_mixture(2000, 4, 3, random_state=0)
    Xm = _holes(X, 0.2, np.random.default_rng(0))
    gm = DDPMGaussianMixture(3, covariance_type=kind, random_state=0).fit(Xm)
    assert gm.converged_
    assert np.all(np.isfinite(gm.score_samples(Xm)))
    if kind == "identity":  # a misspecified model here: holes move its maximum
        return
    complete = DDPMGaussianMixture(3, covariance_type=kind, random_state=0).fit(X)
    assert matched_mean_error(gm.means_, means) < 3 * matched_mean_error(complete.means_,
                                                                         means) + 0.1


def test_inference_marginalises_missing_coordinates():
    rng = np.random.default_rng(5)
    X = make_covariance_mixture(1000, 3, 2, random_state=2)[0] * 10 + 100
    gm = DDPMGaussianMixture(2, random_state=0).fit(X)
    Xm = _holes(X[:40], 0.4, rng)
    log_prob = gm.score_samples(Xm)
    resp = gm.predict_proba(Xm)
    for x, lp, r in zip(Xm, log_prob, resp):
        o = ~np.isnan(x)
        terms = [np.log(w) + multivariate_normal(mu[o], S[np.ix_(o, o)]).logpdf(x[o])
                 for w, mu, S in zip(gm.weights_, gm.means_, gm.covariances_)]
        assert abs(lp - logsumexp(terms)) < 1e-8
        np.testing.assert_allclose(r, np.exp(np.array(terms) - logsumexp(terms)), atol=1e-10)
    np.testing.assert_array_equal(gm.predict(Xm), resp.argmax(axis=1))
    assert gm.score(Xm) == pytest.approx(np.mean(log_prob))
    n_parameters = gm._n_parameters()
    assert gm.bic(Xm) == pytest.approx(-2 * log_prob.sum() + n_parameters * np.log(40))
    assert gm.aic(Xm) == pytest.approx(-2 * log_prob.sum() + 2 * n_parameters)
    # Complete rows keep their complete-data values.
    complete = ~np.isnan(Xm).any(axis=1)
    np.testing.assert_array_equal(log_prob[complete], gm.score_samples(Xm[complete]))


def test_fit_n_init_partial_fit_and_weights_with_missing_values():
    rng = np.random.default_rng(6)
    X = _holes(make_covariance_mixture(1500, 3, 3, random_state=3)[0], 0.25, rng)
    gm = DDPMGaussianMixture(3, n_init=2, random_state=0).fit(X)
    assert np.isfinite(gm.lower_bound_)
    weights = rng.integers(1, 3, len(X)).astype(float)
    DDPMGaussianMixture(3, random_state=0).fit(X, sample_weight=weights)
    for init in ("kmeans", "k-means++", "random", "random_from_data"):
        DDPMGaussianMixture(3, init_params=init, random_state=0).fit(X)
    DDPMGaussianMixture(3, means_init=np.nan_to_num(X[:3]), random_state=0).fit(X)
    stream = DDPMGaussianMixture(3, random_state=0)
    for chunk in np.array_split(X, 3):
        stream.partial_fit(chunk)
    assert stream.n_samples_seen_ == len(X)
    assert np.all(np.isfinite(stream.means_))
    warm = DDPMGaussianMixture(3, warm_start=True, max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warm.fit(X).fit(X)
    X32 = X.astype(np.float32)
    assert DDPMGaussianMixture(3, random_state=0).fit(X32).means_.dtype == np.float32


@pytest.mark.parametrize("kind", ["diag", "full"])
def test_partial_fit_with_holes_shares_one_pseudo_row_across_the_chunks(kind):
    """150 chunks of 20 rows, 20% missing: each chunk takes its share of the
    covariance prior's pseudo-row, and the stream's fit scores within 0.2
    nats a row of the whole fit's (0.09 diag, 0.14 full; a whole pseudo-row
    per chunk biased every chunk: 0.27 and 0.37 below)."""
    X = make_covariance_mixture(3000, 4, 3, random_state=0)[0]
    H = _holes(X, 0.2, np.random.default_rng(0))
    whole = DDPMGaussianMixture(3, covariance_type=kind, random_state=0).fit(H)
    stream = DDPMGaussianMixture(3, covariance_type=kind, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for chunk in np.array_split(H, 150):
            stream.partial_fit(chunk)
    assert stream.score(H) > whole.score(H) - 0.2


def test_a_constant_column_with_holes_and_no_reg_covar():
    # The prior's scatter is 0 there; its log-density stays finite.
    rng = np.random.default_rng(1)
    X = rng.standard_normal((400, 3))
    X[:200] += 5
    X[:, 2] = 1.0
    X[rng.random(X.shape) < 0.2] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gm = DDPMGaussianMixture(2, covariance_type="spherical", reg_covar=0.0,
                                 random_state=0).fit(X)
    assert gm.converged_ and np.isfinite(gm.lower_bound_)


def test_dask_prior_variances_equal_the_in_memory_ones_for_float32_data():
    da = pytest.importorskip("dask.array")
    from sklearn_ddpm_gmm._core._dask import dask_rows
    from sklearn_ddpm_gmm._core._prior import column_variances

    rng = np.random.default_rng(2)
    X = (1e6 + rng.standard_normal((3000, 3)) * [1.0, 3.0, 0.5]).astype(np.float32)
    X = _holes(X, 0.2, rng)
    rows, centre, scale = dask_rows(da.from_array(X, chunks=(500, 3)), 2, 1e-6)
    in_memory = column_variances((X.astype(np.float64) - centre) / scale)
    np.testing.assert_allclose(rows.column_variances, in_memory, rtol=1e-10)


def test_a_column_observed_only_on_rows_of_weight_zero():
    # The covariance prior's variance of that column is 0, not 0 / 0.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 3))
    X[:150] += 4
    X[5:, 2] = np.nan
    weights = np.ones(300)
    weights[:5] = 0
    gm = DDPMGaussianMixture(2, random_state=0).fit(X, sample_weight=weights)
    assert gm.converged_ and np.all(np.isfinite(gm.covariances_))


def test_callers_arrays_are_not_modified():
    rng = np.random.default_rng(7)
    X = _holes(make_covariance_mixture(500, 3, 2, random_state=4)[0], 0.3, rng)
    copy = X.copy()
    gm = DDPMGaussianMixture(2, random_state=0).fit(X)
    gm.partial_fit(X)
    gm.score_samples(X), gm.predict_proba(X), gm.impute(X)
    gm.impute(X, strategy="sample")
    np.testing.assert_array_equal(X, copy)


def test_missing_rows_and_columns_are_refused():
    X = np.random.default_rng(8).standard_normal((50, 3))
    X[3] = np.nan
    with pytest.raises(ValueError, match=r"row\(s\) of X have every feature missing"):
        DDPMGaussianMixture(2).fit(X)
    X = np.random.default_rng(8).standard_normal((50, 3))
    X[:, 1] = np.nan
    with pytest.raises(ValueError, match=r"missing \(NaN\) in every row"):
        DDPMGaussianMixture(2).fit(X)
    X = np.random.default_rng(8).standard_normal((50, 3))
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="noise_level='integrated'"):
        DDPMGaussianMixture(2, noise_level="auto").fit(X)
    X[1, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        DDPMGaussianMixture(2).fit(X)
    gm = DDPMGaussianMixture(2, random_state=0).fit(np.nan_to_num(X, posinf=0.0))
    with pytest.raises(ValueError, match="missing"):
        gm.partial_fit(np.full((5, 3), np.nan))


def test_conditional_draws_follow_the_conditional_law():
    """One component: draws of x_m given x_o have the closed-form mean and
    covariance (5 000 draws of the same row)."""
    rng = np.random.default_rng(10)
    S = np.array([[1.0, 0.8, 0.3], [0.8, 1.0, 0.5], [0.3, 0.5, 1.0]])
    X = rng.multivariate_normal(np.zeros(3), S, size=3000)
    gm = DDPMGaussianMixture(random_state=0).fit(X)
    row = np.tile([[1.5, np.nan, np.nan]], (5000, 1))
    draws = gm.impute(row, strategy="sample", random_state=0)[:, 1:]
    mu, S = gm.means_[0], gm.covariances_[0]
    B = S[1:, :1] / S[0, 0]
    expected_mean = mu[1:] + B[:, 0] * (1.5 - mu[0])
    expected_cov = S[1:, 1:] - B @ S[:1, 1:]
    se = np.sqrt(np.diag(expected_cov) / len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - expected_mean) < 4 * se)
    np.testing.assert_allclose(np.cov(draws.T), expected_cov, atol=0.03)
    again = gm.impute(row[:5], strategy="sample", random_state=0)
    np.testing.assert_array_equal(again, gm.impute(row[:5], strategy="sample", random_state=0))


def test_mixture_imputer_in_a_pipeline_and_a_grid_search():
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    from sklearn_ddpm_gmm import MixtureImputer

    rng = np.random.default_rng(11)
    X, labels = make_covariance_mixture(600, 4, 2, random_state=5)[:2]
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + labels
    Xm = _holes(X, 0.2, rng)
    pipe = make_pipeline(MixtureImputer(random_state=0), Ridge())
    search = GridSearchCV(pipe, {"mixtureimputer__n_components": [1, 2],
                                 "mixtureimputer__covariance_type": ["full", "diag"]},
                          cv=3).fit(Xm, y)
    assert search.best_params_["mixtureimputer__covariance_type"] == "full"
    imputer = MixtureImputer(random_state=0).fit(Xm)
    filled = imputer.transform(Xm)
    observed = ~np.isnan(Xm)
    np.testing.assert_array_equal(filled[observed], Xm[observed])
    assert not np.isnan(filled).any()
    np.testing.assert_array_equal(filled, imputer.mixture_.impute(Xm))
    drawn = imputer.set_params(strategy="sample").transform(Xm)
    np.testing.assert_array_equal(drawn[observed], Xm[observed])
    assert not np.allclose(drawn[~observed], filled[~observed])
    # The conditional mean beats the draws and the column means in squared error.
    error = {name: np.sqrt(np.mean((values - X)[~observed] ** 2)) for name, values in
             [("mean", filled), ("sample", drawn),
              ("columns", np.where(observed, Xm, np.nanmean(Xm, axis=0)))]}
    assert error["mean"] < error["sample"] and error["mean"] < error["columns"]


def _prior_penalty(gm, X, sample_weight=None):
    """The covariance prior's log-density at gm's fit, written from its
    definition (Stein's loss to the pseudo-row's diagonal scatter)."""
    observed = ~np.isnan(X)
    w = observed * (1.0 if sample_weight is None else sample_weight[:, None])
    filled = np.where(observed, X, 0.0)
    means = (w * filled).sum(0) / w.sum(0)
    variances = (w * (filled - means) ** 2).sum(0) / w.sum(0)
    K, d = gm.means_.shape
    D = np.diag(variances * K ** (-2 / d) + gm.reg_covar)
    covariances = {"full": lambda c: c, "tied": lambda c: [c],
                   "diag": lambda c: [np.diag(v) for v in c],
                   "spherical": lambda c: [v * np.eye(d) for v in c]}[gm.covariance_type]
    total = 0.0
    for S in covariances(gm.covariances_):  # the tied covariance once
        A = D @ np.linalg.inv(S)
        total -= 0.5 * (np.trace(A) - np.linalg.slogdet(A)[1] - d)
    return total


@pytest.mark.parametrize("kind", TYPES)
def test_lower_bound_is_the_penalised_observed_log_likelihood_in_the_data_units(kind):
    """With holes the final phase maximises the observed-data log-likelihood
    plus the covariance prior's log-density (one pseudo-row), per row."""
    rng = np.random.default_rng(12)
    X = _holes(make_covariance_mixture(800, 3, 2, random_state=6)[0] * 50 + 7, 0.3, rng)
    gm = DDPMGaussianMixture(2, covariance_type=kind, tol=1e-8, max_iter=500,
                             random_state=0).fit(X)
    penalty = _prior_penalty(gm, X)
    assert penalty < -1e-3 * len(X)  # the check below can tell it apart
    assert gm.lower_bound_ == pytest.approx(gm.score(X) + penalty / len(X), abs=1e-6)
    weights = rng.integers(1, 3, len(X)).astype(float)
    gm.fit(X, sample_weight=weights)
    assert gm.lower_bound_ == pytest.approx(
        gm.score(X, sample_weight=weights)
        + _prior_penalty(gm, X, weights) / weights.sum(), abs=1e-6)


@pytest.mark.parametrize("kind", TYPES)
def test_final_phase_maximises_the_penalised_observed_likelihood(kind):
    """With holes, the converged final phase is stationary for the
    observed-data log-likelihood plus the covariance prior's log-density
    (finite differences along every covariance's scale), and not for the
    log-likelihood alone: the pseudo-row moves the maximum."""
    from sklearn_ddpm_gmm._core._prior import CovariancePrior

    rng = np.random.default_rng(7)
    K, d = 2, 5
    X = np.concatenate([rng.standard_normal((40, d)) @ _random_covariance(rng, d),
                        rng.standard_normal((40, d)) + 3.0])
    X = _holes(X, 0.3, rng)
    model = covariance_model(kind, 1e-6)
    rows = MissingRows(X)
    covariances, _ = _type_covariances(kind, rng, K, d)
    start = make_mixture(np.full(K, 0.5), np.array([np.zeros(d), np.full(d, 3.0)]),
                         covariances, model)
    result = rows.run_phase(start, model, tol=1e-13, max_iter=20000, accelerated=False)
    assert result.converged
    gains = np.diff(result.lower_bounds)
    assert np.all(gains > -1e-12), gains.min()  # EM rises on its own objective
    prior = CovariancePrior.of(rows.column_variances, K)
    w, mu, cov, _ = result.params

    def objective(scale, penalised):
        params = make_mixture(w, mu, cov * scale, model)
        value = observed_statistics(X, rows.patterns, params, model).log_likelihood
        if penalised:
            value += model.prior_log_density(params.precisions_cholesky, K, prior)
        return value

    eps = 1e-3
    at = objective(1.0, True)
    assert objective(1 + eps, True) < at and objective(1 - eps, True) < at
    alone = objective(1.0, False)
    assert max(objective(1 + eps, False), objective(1 - eps, False)) > alone


def test_full_covariances_with_holes_are_not_spurious_on_a_small_real_set():
    """Half of wine (89 rows, 13 features, 3 classes), 30% of entries hidden:
    a direction is seen only by rows observing all its coordinates, so the
    observed-data likelihood of a full covariance grows without bound along
    dense directions (without the pseudo-row the fit ran to max_iter, its
    smallest eigenvalues 1e-6 to 1e-5, held-out log-likelihood -4715 per
    row). The fit converges, and on the other half it beats imputing the
    column means first and fitting GaussianMixture (-13.33 against -13.79)."""
    from sklearn.datasets import load_wine
    from sklearn.impute import SimpleImputer
    from sklearn.mixture import GaussianMixture
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    H = _holes(X, 0.3, np.random.default_rng(0))
    train, test = train_test_split(np.arange(len(X)), test_size=0.5, random_state=0,
                                   stratify=y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gm = DDPMGaussianMixture(3, random_state=0).fit(H[train])
    assert gm.converged_
    assert min(np.linalg.eigvalsh(gm.covariances_)[:, 0]) > 1e-2
    imputed = GaussianMixture(3, random_state=0).fit(SimpleImputer().fit_transform(H[train]))

    def observed_log_likelihood(weights, means, covariances, rows):
        total = 0.0
        for x in rows:
            o = ~np.isnan(x)
            total += logsumexp([np.log(w) + multivariate_normal(m[o], c[np.ix_(o, o)]).logpdf(x[o])
                                for w, m, c in zip(weights, means, covariances)])
        return total / len(rows)

    ours = gm.score(H[test])
    assert ours == pytest.approx(observed_log_likelihood(gm.weights_, gm.means_,
                                                         gm.covariances_, H[test]))
    assert ours > observed_log_likelihood(imputed.weights_, imputed.means_,
                                          imputed.covariances_, H[test]) + 0.2


def _masked(X, kind, rng):
    """X with holes: a share missing completely at random, or ("mar") the
    other columns missing more often where column 0 (always seen) is high."""
    if kind == "mar":
        high = X[:, 0] > np.median(X[:, 0])
        share = np.where(high, 0.5, 0.1)[:, None] * np.ones(X.shape[1])
        share[:, 0] = 0.0
        mask = rng.random(X.shape) < share
    else:
        mask = rng.random(X.shape) < kind
    Xm = X.copy()
    Xm[mask] = np.nan
    return Xm[~mask.all(axis=1)]  # rows with nothing seen are dropped


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("kind", [0.1, 0.3, 0.5, "mar"])
def test_recovery_matches_the_oracle_em_and_beats_imputing_first(kind, seed):
    """Parameter errors within 1.05x of a converged textbook EM on the same
    observed entries started at the truth, and below imputing first
    (SimpleImputer or IterativeImputer, then GaussianMixture)."""
    from _reference import missing_data_em
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer, SimpleImputer
    from sklearn.mixture import GaussianMixture

    from sklearn_ddpm_gmm.metrics import matched_parameter_errors

    X, _, weights, means, cov = make_covariance_mixture(3000, 4, 3, random_state=seed)
    truth = (weights, means, cov)
    Xm = _masked(X, kind, np.random.default_rng(seed))

    def errors(w, m, c):
        e = matched_parameter_errors(w, m, c, *truth)
        return np.array([e["means"], e["covariances"]])

    oracle = errors(*missing_data_em(Xm, *truth)[:3])
    gm = DDPMGaussianMixture(3, random_state=0).fit(Xm)
    ours = errors(gm.weights_, gm.means_, gm.covariances_)
    assert np.all(ours <= 1.05 * oracle), (ours, oracle)
    for imputer in (SimpleImputer(), IterativeImputer(random_state=0)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            baseline = GaussianMixture(3, random_state=0).fit(imputer.fit_transform(Xm))
        assert np.all(ours < errors(baseline.weights_, baseline.means_,
                                    baseline.covariances_)), type(imputer).__name__


def test_model_selection_with_missing_values():
    """DDPMGaussianMixtureIC fits its candidates on the observed entries and
    finds the components of separated clusters with 20% of the entries missing."""
    from sklearn_ddpm_gmm import DDPMGaussianMixtureIC

    rng = np.random.default_rng(0)
    means = np.array([[0.0, 0.0, 0.0], [6.0, 0.0, 6.0], [0.0, 6.0, -6.0]])
    X = means[rng.integers(3, size=600)] + rng.standard_normal((600, 3))
    Xm = _holes(X, 0.2, rng)
    search = DDPMGaussianMixtureIC(5, covariance_type="spherical", random_state=0).fit(Xm)
    assert search.n_components_ == 3
    assert matched_mean_error(search.best_estimator_.means_, means) < 0.3
    assert np.all(np.isfinite(search.score_samples(Xm)))
    np.testing.assert_array_equal(search.predict(Xm[:50]),
                                  search.best_estimator_.predict(Xm[:50]))
