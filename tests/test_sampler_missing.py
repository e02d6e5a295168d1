"""DiffusionMixtureSampler with missing values: ``impute`` draws the missing
coordinates given the observed ones (inpainting); ``fit`` refuses NaN."""

import numpy as np
import pytest
from scipy.special import ndtr
from scipy.stats import kstest

from sklearn_ddpm_gmm import DDPMGaussianMixture, DiffusionMixtureSampler
from sklearn_ddpm_gmm._core._missing import completions, missing_patterns
from sklearn_ddpm_gmm._sampler._inpainting import _JOINT, noised_joint_mixture
from sklearn_ddpm_gmm._sampler._mixture_denoiser import MixtureBaseline, mixture_denoise
from sklearn_ddpm_gmm.datasets import make_blurred_ring

# One-sample Kolmogorov-Smirnov test against the exact conditional CDF, at
# level 0.001 with 2 000 draws: the critical distance is 1.95 / sqrt(2000) =
# 0.044, and a law at distance >= 0.071 from the exact one is rejected with
# probability >= 0.9 (its empirical CDF stays within 1.22 / sqrt(2000) of its
# own with probability 0.9).
N_DRAWS = 2000
LEVEL = 1e-3
BLUR = 0.05
THETA = np.linspace(0.0, 2 * np.pi, 20001)[:-1]


def _ring_cdf(a):
    """CDF of x_2 given x_1 = a on the unit ring blurred by N(0, BLUR^2 I)."""
    w = np.exp(-0.5 * ((a - np.cos(THETA)) / BLUR) ** 2)
    w /= w.sum()
    return lambda x: ndtr((np.asarray(x)[..., None] - np.sin(THETA)) / BLUR) @ w


@pytest.fixture(scope="module")
def ring_model():
    X = make_blurred_ring(2000, random_state=0)
    return DiffusionMixtureSampler(4, degree=3, n_levels=10, n_sample_steps=50,
                                   random_state=0).fit(X)


def test_impute_keeps_observed_entries_and_complete_rows(ring_model):
    X = np.array([[0.0, np.nan], [np.nan, -1.0], [0.3, 0.4], [np.nan, np.nan]])
    before = X.copy()
    filled = ring_model.impute(X, random_state=0)
    np.testing.assert_array_equal(X, before)  # the caller's array
    assert filled.shape == X.shape and np.all(np.isfinite(filled))
    observed = ~np.isnan(X)
    np.testing.assert_array_equal(filled[observed], X[observed])
    np.testing.assert_array_equal(ring_model.impute(X[2:3]), X[2:3])
    np.testing.assert_array_equal(ring_model.impute(X, random_state=0), filled)
    assert not np.array_equal(ring_model.impute(X, random_state=1), filled)


def test_impute_draws_on_the_ring(ring_model):
    filled = ring_model.impute(np.tile([[0.0, np.nan]], (300, 1)), random_state=0)
    y = filled[:, 1]
    assert np.median(np.abs(np.abs(y) - 1.0)) < 0.1
    assert 0.3 < np.mean(y > 0) < 0.7  # both branches


def test_impute_validates_its_input(ring_model):
    with pytest.raises(ValueError, match="features"):
        ring_model.impute([[np.nan, 0.0, 1.0]])
    with pytest.raises(ValueError, match="infinity"):
        ring_model.impute([[np.inf, np.nan]])


def test_fit_refuses_missing_values_with_a_clear_error():
    X = make_blurred_ring(50, random_state=0)
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="cannot be fitted with missing values"):
        DiffusionMixtureSampler(random_state=0).fit(X)


def test_inference_refuses_missing_values_pointing_to_impute(ring_model):
    rows = np.array([[0.5, np.nan], [1.0, 0.0]])
    for method in (ring_model.score_samples, ring_model.score, ring_model.predict,
                   ring_model.predict_proba, lambda X: ring_model.score_function(X, 0.5)):
        with pytest.raises(ValueError, match=r"Input X contains NaN.*impute\(\)"):
            method(rows)
    with pytest.raises(ValueError, match="infinity"):
        ring_model.score_samples([[np.inf, 0.0]])


def test_joint_conditioning_of_x0_given_y_is_the_mixture_denoiser():
    """The noised joint mixture conditioned on all of y (x0 missing) has the
    conditional mean of the exact mixture denoiser: the two forms agree."""
    rng = np.random.default_rng(0)
    K, d, sigma = 3, 3, 0.7
    A = rng.standard_normal((K, d, d))
    covariances = A @ np.swapaxes(A, 1, 2) / d + 0.2 * np.eye(d)
    eigvals, eigvecs = np.linalg.eigh(covariances)
    baseline = MixtureBaseline(np.array([0.2, 0.5, 0.3]), rng.standard_normal((K, d)) * 2,
                               eigvals, eigvecs)
    Y = rng.standard_normal((50, d)) * 2
    rows = np.c_[np.full((50, d), np.nan), Y]
    joint = noised_joint_mixture(baseline.to_mixture(_JOINT), sigma)
    mean, _ = completions(rows, missing_patterns(rows), joint, _JOINT)
    np.testing.assert_allclose(mean[:, :d], mixture_denoise(baseline, Y, sigma),
                               rtol=0, atol=1e-10)


def test_a_model_without_corrections_draws_its_mixtures_conditional():
    """One Gaussian, no correction: the draws are its closed-form conditional."""
    rng = np.random.default_rng(0)
    C = np.array([[1.0, 0.8], [0.8, 1.0]])
    X = rng.multivariate_normal([1.0, -1.0], C, size=2000)
    model = DiffusionMixtureSampler(degree=0, n_levels=4, random_state=0).fit(X)
    model.score_model_ = model.score_model_._replace(
        degrees=np.full_like(model.score_model_.degrees, -1))
    filled = model.impute(np.tile([[2.0, np.nan]], (N_DRAWS, 1)), random_state=0)[:, 1]
    baseline = model.score_model_.baseline.to_mixture(_JOINT)
    scale = model.data_scale_[0]
    mu = model.data_mean_ + scale * baseline.means[0]
    S = scale**2 * baseline.covariances[0]
    m = mu[1] + S[1, 0] / S[0, 0] * (2.0 - mu[0])
    sd = np.sqrt(S[1, 1] - S[1, 0] ** 2 / S[0, 0])
    assert kstest(filled, lambda x: ndtr((x - m) / sd)).pvalue > LEVEL


@pytest.mark.slow
@pytest.mark.parametrize("degree", ["auto", 4])
def test_ring_conditional_law_beats_the_mixtures(degree):
    """x_2 given x_1 on a blurred ring (8 000 rows, 4 components): the
    sampler's draws pass the KS test against the exact conditional, and are
    several times closer to it than DDPMGaussianMixture's (4 full components)."""
    X = make_blurred_ring(8000, noise=BLUR, random_state=0)
    sampler = DiffusionMixtureSampler(4, degree=degree, random_state=0).fit(X)
    mixture = DDPMGaussianMixture(4, covariance_type="full", random_state=0).fit(X)
    for a in (0.0, 0.5):
        rows = np.tile([[a, np.nan]], (N_DRAWS, 1))
        ours = kstest(sampler.impute(rows, random_state=1)[:, 1], _ring_cdf(a))
        theirs = kstest(mixture.impute(rows, strategy="sample", random_state=1)[:, 1],
                        _ring_cdf(a))
        assert ours.pvalue > LEVEL, (a, ours)
        assert theirs.pvalue < LEVEL and ours.statistic < theirs.statistic / 3, (a, theirs)


@pytest.mark.slow
def test_gaussian_mixture_conditional_law_matches():
    """x_2 given x_1 under a 2-D mixture of three Gaussians: the exact
    conditional is a 1-D mixture in closed form."""
    pi = np.array([0.5, 0.3, 0.2])
    mu = np.array([[0.0, 0.0], [2.0, 3.0], [-2.0, 2.0]])
    C = np.array([[[1.0, 0.8], [0.8, 1.0]], [[0.5, -0.3], [-0.3, 1.0]],
                  [[0.3, 0.0], [0.0, 0.3]]])
    rng = np.random.default_rng(0)
    k = rng.choice(3, size=8000, p=pi)
    X = mu[k] + np.einsum("nij,nj->ni", np.linalg.cholesky(C)[k],
                          rng.standard_normal((8000, 2)))
    sampler = DiffusionMixtureSampler(3, random_state=0).fit(X)
    for a in (-1.0, 0.0, 1.5):
        logw = np.log(pi) - 0.5 * np.log(C[:, 0, 0]) - 0.5 * (a - mu[:, 0]) ** 2 / C[:, 0, 0]
        w = np.exp(logw - logw.max())
        w /= w.sum()
        m = mu[:, 1] + C[:, 1, 0] / C[:, 0, 0] * (a - mu[:, 0])
        sd = np.sqrt(C[:, 1, 1] - C[:, 1, 0] ** 2 / C[:, 0, 0])
        drawn = sampler.impute(np.tile([[a, np.nan]], (N_DRAWS, 1)), random_state=1)[:, 1]
        test = kstest(drawn, lambda x: ndtr((np.asarray(x)[..., None] - m) / sd) @ w)
        assert test.pvalue > LEVEL, (a, test)
