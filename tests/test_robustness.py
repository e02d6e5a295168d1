"""Edge cases of the data: scales float64 can and cannot hold, degenerate and
far-away data (issue 17), and property-based checks of the rule every input
follows: a finite fit, or a ValueError / TypeError that names the problem."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sklearn_ddpm_gmm import DDPMGaussianMixture
from sklearn_ddpm_gmm._core._covariance import covariance_model
from sklearn_ddpm_gmm._core._mixture import Mixture
from sklearn_ddpm_gmm._mixture._inference import far_score

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

TYPES = ("full", "tied", "diag", "spherical", "identity")


def assert_finite_fit(gm, X):
    """The fitted attributes and the training data's densities are finite,
    the weights sum to one and the covariances are positive definite."""
    for name in ("weights_", "means_", "covariances_", "precisions_"):
        assert np.all(np.isfinite(getattr(gm, name))), name
    np.testing.assert_allclose(gm.weights_.sum(), 1.0, rtol=1e-5)
    assert np.all(np.isfinite(gm.score_samples(X)))
    resp = gm.predict_proba(X)
    assert np.all(np.isfinite(resp))
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-5)
    cov = np.asarray(gm.covariances_, dtype=float)
    if gm.covariance_type in ("full", "tied"):
        # Positive definite as far as float64 tells: the Cholesky factor exists
        # (eigvalsh can return -1e-7 at condition numbers near 1 / eps).
        np.linalg.cholesky(cov)  # the fit refuses what fails here
    else:
        assert np.all(cov > 0)


def fit_or_refuse(X, **params):
    """Fit, or return the ValueError / TypeError the data raised; any other
    exception fails the test, and so does a RuntimeWarning (overflow, invalid
    value) on the way to a fit."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("always", RuntimeWarning)
        try:
            gm = DDPMGaussianMixture(random_state=0, **params).fit(X)
        except (ValueError, TypeError) as error:
            return error
        numeric = [w for w in caught if issubclass(w.category, RuntimeWarning)]
        assert not numeric, [str(w.message) for w in numeric]
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            assert_finite_fit(gm, X)
        return gm


# ------------------------------------------------- regressions of issue 17
def test_fewer_rows_than_dimensions_at_spreads_near_1e147_fit():
    # Found by the property test: reg_covar 1e-6 in raw units is 7.7e-300 in
    # the fit's units, so the covariance of 6 rows in 6 dimensions kept an
    # eigenvalue of -7e-18; the singular-component check crashed in numpy's
    # Cholesky factorisation (LinAlgError) instead of calling it singular.
    X = np.array([
        [-7.3593905684304836e+145, 2.8291573918956430e+145, 1.8103993229877624e+144,
         7.8158825040942538e+144, -7.9122983867844109e+144, -6.7783287172069776e+144],
        [7.2591310262456362e+145, -7.2270573812996879e+143, -4.0428143516370490e+143,
         -3.2828058900904410e+145, 4.1579063747557033e+144, 4.2629512153008795e+145],
        [8.8960266720369262e+144, 2.7321412548490830e+144, -1.8561517937826684e+145,
         7.0728092259454827e+145, -1.2681133719670955e+145, -5.3494073648881858e+144],
        [4.0274702960718873e+145, 2.9325553996357587e+145, 3.4636609819014584e+144,
         4.8489815679888074e+145, 1.0604346095750727e+145, 4.8717037834491509e+145],
        [-1.7453340884084238e+147, -6.1812784544780118e+144, -3.4136519657141562e+144,
         1.6006017821820729e+145, 1.1724655722532933e+145, 7.1908333393561994e+144],
        [8.0457633727730382e+145, 7.6835529670337856e+144, 2.4214790568187041e+144,
         1.4356127119115052e+145, 1.5562807923775199e+147, 5.0483809440718917e+144]])
    outcome = fit_or_refuse(X, n_components=1, covariance_type="full", max_iter=20)
    assert (isinstance(outcome, DDPMGaussianMixture)
            or "ill-defined empirical covariance" in str(outcome)), outcome


@pytest.mark.parametrize("covariance_type", TYPES)
def test_spread_beyond_float64_covariances_is_a_value_error(covariance_type):
    # Finding 1: OverflowError setting the fitted attributes (variances of 1e310).
    X = np.random.default_rng(0).normal(size=(100, 2)) * 1e155
    with pytest.raises(ValueError, match="exceeds what float64 covariances can hold"):
        DDPMGaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)


@pytest.mark.parametrize("make", [
    lambda X: np.r_[X[:-1], [[1e200, 0.0]]],  # one outlier
    lambda X: X * 1e307,  # near float64's largest (was LinAlgError)
    lambda X: np.r_[X[:50] * 1e154, X[50:] - 1e154],  # the range overflows
])
def test_far_outliers_and_huge_ranges_are_value_errors(make):
    X = make(np.random.default_rng(0).normal(size=(100, 2)))
    with pytest.raises(ValueError, match="spread of X"):
        DDPMGaussianMixture(2, random_state=0).fit(X)


@pytest.mark.parametrize("make", [
    lambda X: np.c_[X[:23, :1], np.full(23, 1e200)],  # a constant column
    lambda X: X + 1e300,  # an offset that leaves constant columns
    lambda X: X + 1e150,
])
def test_far_constant_columns_fit(make):
    # Finding 1: these raised OverflowError (the centre's rounding was taken
    # for a spread of 1e284).
    X = make(np.random.default_rng(0).normal(size=(100, 2)))
    assert isinstance(fit_or_refuse(X, n_components=2), DDPMGaussianMixture)


@pytest.mark.parametrize("value", [2.297436514476704e290, 5.946343189057535e181,
                                   7.990148029080683e172])
def test_constant_data_far_from_the_origin_has_finite_densities(value):
    # The weighted sum of three equal means rounded by an ulp (1e165 at
    # 1e181), which put the training rows out of reach of predict_proba.
    X = np.full((7, 1), value)
    gm = fit_or_refuse(X, n_components=3, covariance_type="diag")
    assert isinstance(gm, DDPMGaussianMixture), gm


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag"])
@pytest.mark.parametrize("scales", [[1.0, 1e100], [1.0, 1e151], [1e-150, 1.0, 1e150]])
def test_mixed_column_scales_densities_match_the_fit(covariance_type, scales):
    # Found by the property test: the densities were evaluated through the
    # score model's geometry in one standardised frame, and at column scales
    # 1e100 apart score(X) was 215 nats per row below lower_bound_ (full);
    # GaussianMixture's E-step in that frame agrees with the fit.
    X = np.random.default_rng(0).normal(size=(200, len(scales))) * scales
    gm = DDPMGaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    assert abs(gm.score(X) - gm.lower_bound_) < 1e-3
    assert_finite_fit(gm, X)


def test_variances_1e162_apart_have_finite_densities():
    # Found by the property test: a component of variance 1e-6 beside one of
    # 1e156 (a non-converged fit, max_iter=20); in the densities' reference
    # frame the small variance's square underflowed (divide by zero).
    X = np.array([[1.25730221e85]] * 4 + [[-1.32104863e85]])
    gm = fit_or_refuse(X, n_components=3, covariance_type="spherical", max_iter=20)
    assert isinstance(gm, DDPMGaussianMixture), gm


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e-160, 1e-155])
def test_tiny_spread_fits_with_reg_covar(covariance_type, scale):
    # Finding 2: ZeroDivisionError, "ill-defined covariance", an internal
    # numpy error, or precisions of +-inf (1 component, full, 1e-155).
    X = np.random.default_rng(0).normal(size=(100, 2)) * scale
    for n_components in (1, 2):
        gm = fit_or_refuse(X, n_components=n_components, covariance_type=covariance_type)
        assert isinstance(gm, DDPMGaussianMixture), gm
        if covariance_type != "identity":
            # Every variance is reg_covar's, as in GaussianMixture.
            np.testing.assert_allclose(np.diagonal(np.atleast_2d(gm.covariances_.T)),
                                       1e-6, rtol=1e-6)


def test_tiny_spread_without_reg_covar_is_a_value_error():
    X = np.random.default_rng(0).normal(size=(100, 2)) * 1e-200
    with pytest.raises(ValueError, match="reg_covar"):
        DDPMGaussianMixture(2, reg_covar=0.0, random_state=0).fit(X)


@pytest.mark.parametrize("n_components", [2, 3])
@pytest.mark.parametrize("scale", [1e-150, 1e-100, 1e-20, 1e3, 1e8, 1e100, 1e150])
def test_identity_fits_at_any_scale(scale, n_components):
    # Finding 3: SVD did not converge (K = 2), a zero-size reduction (K = 3),
    # ConvergenceWarnings at 1e3..1e6; finding 6: overflow in a cast at 1e-20.
    X = np.random.default_rng(0).normal(size=(200, 3)) * scale
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gm = DDPMGaussianMixture(n_components, covariance_type="identity",
                                 random_state=0).fit(X)
    assert_finite_fit(gm, X)
    np.testing.assert_array_equal(gm.covariances_, 1.0)


@pytest.mark.parametrize("scale", [1e7, 1e8, 1e100])
def test_single_level_identity_at_large_spread_is_a_value_error(scale):
    # Finding 3 for noise_level="auto": SVD did not converge in _span_noise.
    X = np.random.default_rng(0).normal(size=(200, 3)) * scale
    with pytest.raises(ValueError, match="single-level estimator"):
        DDPMGaussianMixture(2, covariance_type="identity", noise_level="auto",
                            random_state=0).fit(X)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_one_component_fits_features_1e150_apart(covariance_type):
    # Found by the property test: one component's start was one row
    # (k-means++), whose covariance collapsed to reg_covar; 1e152 away the
    # other rows' densities underflowed to zero and their posteriors were NaN.
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=(50, 2)), rng.normal(size=50) * 1e152]
    gm = fit_or_refuse(X, n_components=1, covariance_type=covariance_type)
    assert isinstance(gm, DDPMGaussianMixture), gm
    assert gm.n_iter_ <= 2  # the start is the maximum


def test_identity_converges_near_the_largest_spread():
    # Its log-densities are -1e306 each: their mean overflowed in the final
    # phase, which then never converged (with an overflow warning).
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + 4.0] * 1e153
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gm = DDPMGaussianMixture(2, covariance_type="identity", random_state=0).fit(X)
    assert gm.converged_ and np.isfinite(gm.lower_bound_)
    np.testing.assert_allclose(np.sort(gm.means_[:, 0]) / 1e153, [0.0, 4.0], atol=0.3)


@pytest.mark.parametrize("scale", [1e20, 1e150])
def test_single_level_collapsing_components_fit(scale):
    # Two distinct points and noise_level="auto": reg_covar (absolute) is
    # 1e-46 of the variance at 1e20, below the float32 passes' resolution
    # (SVD did not converge).
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2, 3))[rng.integers(2, size=60)] * scale
    gm = fit_or_refuse(X, n_components=2, covariance_type="spherical",
                       noise_level="auto", max_iter=20)
    assert isinstance(gm, DDPMGaussianMixture), gm


def test_identity_fits_mixed_column_scales():
    X = np.random.default_rng(0).normal(size=(200, 3)) * [1e-150, 1.0, 1e150]
    gm = fit_or_refuse(X, n_components=2, covariance_type="identity")
    assert isinstance(gm, DDPMGaussianMixture), gm


def test_identity_recovers_clusters_at_large_scale():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + 8.0] * 1e6
    gm = DDPMGaussianMixture(2, covariance_type="identity", random_state=0).fit(X)
    np.testing.assert_allclose(np.sort(gm.means_[:, 0]) / 1e6, [0.0, 8.0], atol=0.5)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_far_points_have_finite_posteriors_and_scores(covariance_type):
    # Finding 4: NaN posteriors and scores at [1e155, 0, 0].
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(size=(100, 3)), rng.normal(size=(100, 3)) + [6.0, 0.0, 0.0]]
    gm = DDPMGaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    far = np.array([[1e155, 0.0, 0.0], [-1e155, 0.0, 0.0], [3.0, 1e300, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        resp = gm.predict_proba(far)
        scores = gm.score_function(far, t=0.5)
    assert np.all(np.isfinite(resp)) and np.all(np.isfinite(scores))
    np.testing.assert_allclose(resp.sum(axis=1), 1.0)
    if covariance_type in ("tied", "identity"):
        # Equal precisions: the component whose mean lies further along the
        # direction of the point wins.
        right = np.argmax(gm.means_[:, 0])
        assert resp[0, right] == 1.0 and resp[1, right] == 0.0
    # Pointing back towards the data, of the size of the precision times 1e155.
    assert scores[0, 0] < -1e150 and scores[1, 0] > 1e150
    # The far-row formula agrees with the ordinary one where both hold.
    mixture = Mixture(gm.weights_, gm.means_, gm.covariances_, gm.precisions_cholesky_)
    model = covariance_model(gm.covariance_type, gm.reg_covar)
    np.testing.assert_allclose(far_score(X[:5], 0.5, mixture, model),
                               gm.score_function(X[:5], 0.5), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "identity"])
@pytest.mark.parametrize("make", [lambda X: X * 1e200, lambda X: X + 1e300])
def test_partial_fit_refuses_chunks_beyond_float64(covariance_type, make):
    # Was scipy's "array must not contain infs or NaNs" (full) or NaN means
    # (identity).
    X = np.random.default_rng(0).normal(size=(100, 2))
    gm = DDPMGaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    with pytest.raises(ValueError, match="spread of X"):
        gm.partial_fit(make(X))
    gm.partial_fit(X * 1e100)
    assert_finite_fit(gm, X * 1e100)


def test_score_function_noise_level_types():
    # Finding 6: a string raised numpy's isfinite TypeError; a 0-d array was refused.
    X = np.random.default_rng(0).normal(size=(100, 2))
    gm = DDPMGaussianMixture(random_state=0).fit(X)
    np.testing.assert_array_equal(gm.score_function(X[:3], np.array(0.5)),
                                  gm.score_function(X[:3], 0.5))
    np.testing.assert_array_equal(gm.score_function(X[:3], np.float32(1)),
                                  gm.score_function(X[:3], 1))
    for bad in ("0.5", None, [0.5], True, 1j):
        with pytest.raises(TypeError, match="t must be a real number"):
            gm.score_function(X[:3], bad)
    for bad in (-0.1, np.inf, np.nan):
        with pytest.raises(ValueError, match="t must be a finite number"):
            gm.score_function(X[:3], bad)


# ----------------------------------------------------------- properties
def _data(draw, n_max=60, d_max=6):
    n = draw(st.integers(2, n_max))
    d = draw(st.integers(1, d_max))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(
        ["normal", "heavy", "constant-column", "repeated", "two-points", "integers"]))
    if kind == "normal":
        X = rng.normal(size=(n, d))
    elif kind == "heavy":
        X = rng.standard_cauchy(size=(n, d))
    elif kind == "constant-column":
        X = rng.normal(size=(n, d))
        X[:, rng.integers(d)] = rng.normal()
    elif kind == "repeated":
        X = np.repeat(rng.normal(size=(1 + n // 4, d)), 4, axis=0)[:n]
    elif kind == "two-points":
        X = rng.normal(size=(2, d))[rng.integers(2, size=n)]
    else:
        X = rng.integers(-3, 4, size=(n, d)).astype(float)
    exponents = draw(st.one_of(
        st.integers(-300, 300).map(lambda k: np.full(d, k)),
        st.lists(st.integers(-300, 300), min_size=d, max_size=d).map(np.array),
    ))
    X = X * 10.0 ** exponents
    if draw(st.booleans()):
        X = X + 10.0 ** draw(st.integers(-300, 300)) * draw(st.sampled_from([-1, 1]))
    return X


@st.composite
def data_sets(draw, n_max=60, d_max=6):
    return _data(draw, n_max, d_max)


def _check_outcome(X, outcome):
    if isinstance(outcome, Exception):
        message = str(outcome)
        # A message about the data, not numpy's internals.
        assert any(word in message for word in (
            "spread of X", "n_samples", "ill-defined", "infinity", "NaN",
            "reg_covar", "n_components",
        )), message


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(X=data_sets(), covariance_type=st.sampled_from(TYPES),
       n_components=st.integers(1, 6))
def test_property_any_scale_fits_or_refuses_by_name(X, covariance_type, n_components):
    n_components = min(n_components, len(X))
    outcome = fit_or_refuse(X, n_components=n_components, covariance_type=covariance_type,
                            max_iter=20)
    _check_outcome(X, outcome)
    # Spreads float64 covariances hold fit whenever reg_covar regularises.
    low, high = X.min(axis=0), X.max(axis=0)
    with np.errstate(over="ignore"):
        diagonal = np.sqrt(np.sum(((high - low) / 2**600) ** 2)) * 2**600
    if diagonal < 1e150:
        # A fit, or GaussianMixture's refusal where reg_covar is below the
        # rounding of a collapsed covariance (d > n at spreads of 1e5 and more).
        assert (isinstance(outcome, DDPMGaussianMixture)
                or "ill-defined empirical covariance" in str(outcome)), outcome
    elif diagonal > 2e154:
        assert "spread of X" in str(outcome)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(n=st.integers(1, 12), d=st.integers(1, 20), seed=st.integers(0, 2**16),
       covariance_type=st.sampled_from(TYPES))
def test_property_n_components_equal_to_n_samples_and_wide_data(n, d, seed,
                                                                covariance_type):
    X = np.random.default_rng(seed).normal(size=(max(n, 2), d))
    outcome = fit_or_refuse(X, n_components=len(X), covariance_type=covariance_type,
                            max_iter=20)
    assert isinstance(outcome, DDPMGaussianMixture), outcome


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(X=data_sets(n_max=30, d_max=4),
       container=st.sampled_from(["float16", "float32", "int64", "bool", "list",
                                  "dataframe"]))
def test_property_dtypes_and_containers(X, container):
    if container == "dataframe":
        pandas = pytest.importorskip("pandas")
        data = pandas.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    elif container == "list":
        data = X.tolist()
    elif container in ("int64", "bool"):
        with np.errstate(invalid="ignore"):
            data = np.nan_to_num(np.clip(X, -1e15, 1e15)).astype(container)
    else:
        with np.errstate(over="ignore"):
            data = X.astype(container)
        # Values the narrow type cannot hold are the NaN/inf test's.
        hypothesis.assume(np.all(np.isfinite(data)))
    outcome = fit_or_refuse(data, n_components=2, max_iter=20)
    _check_outcome(X, outcome)
    if isinstance(outcome, DDPMGaussianMixture):
        assert outcome.means_.dtype in (np.float32, np.float64)


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(X=data_sets(n_max=30, d_max=4), value=st.sampled_from([np.nan, np.inf, -np.inf]),
       where=st.integers(0, 10**6))
def test_property_inf_and_unobserved_rows_are_refused_by_name(X, value, where):
    # NaN is a missing entry (tests/test_missing.py): a row with nothing
    # observed is refused, as is an infinity anywhere.
    X = X.copy()
    if np.isnan(value):
        X[(where % X.size) // X.shape[1]] = value
    else:
        X.flat[where % X.size] = value
    with pytest.raises(ValueError, match="NaN|infinity"):
        DDPMGaussianMixture(2, random_state=0).fit(X)


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(X=data_sets(n_max=500, d_max=20), covariance_type=st.sampled_from(TYPES),
       n_components=st.integers(1, 6))
def test_property_larger_data_fit_or_refuse_by_name(X, covariance_type, n_components):
    outcome = fit_or_refuse(X, n_components=min(n_components, len(X)),
                            covariance_type=covariance_type)
    _check_outcome(X, outcome)
