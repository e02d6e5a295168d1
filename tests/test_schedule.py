"""The schedule's rules (_schedule.py, and how many rows a cold phase
noises), each on a case where its value is known."""

import numpy as np
import pytest

from sklearn_ddpm_gmm._core._covariance import covariance_model
from sklearn_ddpm_gmm._ddpm._cold_start import noised_rows
from sklearn_ddpm_gmm._ddpm._forward import noise_coefficients
from sklearn_ddpm_gmm._ddpm._optim import StopRule
from sklearn_ddpm_gmm._ddpm._schedule import (
    ALL_PARAMS,
    cold_final_phase,
    cold_start_rows,
    em_level,
    single_level_final_phase,
    intermediate_phase,
    n_intermediate_phases,
    power_phase,
    power_phase_level,
    power_phase_variance,
)
from sklearn_ddpm_gmm._ddpm._score_model import MixtureParams

SPHERICAL = covariance_model("spherical", 0.0)


def _data_with_spectrum(eigvals, n=400, seed=0):
    """Rows whose sample covariance is exactly diag(eigvals) (to rounding)."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, len(eigvals)))
    Q, _ = np.linalg.qr(Z - Z.mean(axis=0))  # orthonormal, centred columns
    return np.sqrt(n - 1) * Q * np.sqrt(eigvals)


def _spherical(variances, weights, d=3, reg_covar=0.0):
    variances, weights = np.asarray(variances, float), np.asarray(weights, float)
    K = len(variances)
    return MixtureParams(np.zeros((K, d)),
                         covariance_model("spherical", reg_covar).to_coordinates(variances),
                         np.log(weights))


def test_power_phase_level_keeps_a_times_signal_at_one_half():
    # Bulk eigenvalue 1, top 1 + 16: a signal of norm 4, so exp(-t) * 4 = 0.5.
    X = _data_with_spectrum([1.0] * 9 + [17.0])
    t = power_phase_level(X)
    assert t == pytest.approx(np.log(8.0), rel=1e-9)
    assert np.exp(-t) * 4.0 == pytest.approx(0.5, rel=1e-9)


def test_power_phase_level_is_never_below_its_minimum():
    # A weak signal (norm 0.3) would give a level below zero: 0.75 instead.
    assert power_phase_level(_data_with_spectrum([1.0] * 9 + [1.09])) == 0.75
    assert power_phase_level(_data_with_spectrum([1.0] * 10)) == 0.75


def test_power_phase_variance_bulk_in_many_dimensions_half_the_smallest_in_few():
    eigvals = [0.4, 0.7, 1.0, 1.0, 1.0, 1.3, 9.0]
    X = _data_with_spectrum(eigvals)
    # d = 7 > 2 K for K = 3: the median eigenvalue, the within-component variance.
    assert power_phase_variance(X, 3) == pytest.approx(1.0, rel=1e-9)
    # d = 7 <= 2 K for K = 4: every direction may carry signal, half the smallest.
    assert power_phase_variance(X, 4) == pytest.approx(0.2, rel=1e-9)


def test_power_phase_moves_only_the_centred_means_and_stops_on_the_span():
    X = _data_with_spectrum([1.0] * 9 + [17.0])
    phase = power_phase(X)
    assert phase.t == power_phase_level(X)
    assert phase.learn == ("means",) and phase.centred
    assert phase.stop is StopRule.SPAN
    assert phase.learning_rate == 2.0


@pytest.mark.parametrize("n_components, expected", [(1, 0), (2, 0), (3, 2), (8, 2)])
def test_intermediate_phases_only_for_more_than_two_components(n_components, expected):
    assert n_intermediate_phases(n_components) == expected


def test_intermediate_levels_follow_the_weighted_mean_variance():
    # Weighted mean variance 0.25 * 0.1 + 0.75 * 0.3 = 0.25.
    params = _spherical([0.1, 0.3], [0.25, 0.75])
    noise_variances = []
    for stage in range(2):
        phase = intermediate_phase(stage, params, SPHERICAL, tol=1e-6, n_rows=5000)
        noise_variances.append(noise_coefficients(phase.t)[1])
        assert phase.learn == ("means", "covariance")  # weights stay as they are
        assert phase.stop is StopRule.PARAMS
    np.testing.assert_allclose(noise_variances, [1.3 * 0.25, 0.9 * 0.25], rtol=1e-12)


def test_intermediate_levels_are_capped_at_one():
    # 1.3 * 2 is beyond the noise variance 1 - exp(-2) of t = 1.
    phase = intermediate_phase(0, _spherical([2.0, 2.0], [0.5, 0.5]), SPHERICAL, tol=1e-6,
                               n_rows=5000)
    assert phase.t == pytest.approx(1.0, rel=1e-12)


def test_em_level_grows_with_the_smallest_variance_up_to_its_cap():
    variances = np.geomspace(1e-4, 10.0, 30)
    levels = [em_level(_spherical([v, 4.0], [0.5, 0.5]), SPHERICAL) for v in variances]
    assert np.all(np.diff(levels) >= 0)
    assert max(levels) == pytest.approx(0.1, rel=1e-12)
    # Below the cap the noise variance is 0.6 of the smallest variance.
    assert noise_coefficients(levels[0])[1] == pytest.approx(0.6 * 1e-4, rel=1e-9)
    # Beyond 0.6 v = 1 - exp(-0.2) the cap holds.
    assert levels[-1] == pytest.approx(0.1, rel=1e-12)


def test_em_level_ignores_nearly_empty_components():
    resolved = em_level(_spherical([0.5, 0.5], [0.5, 0.5]), SPHERICAL)
    # A component with 1% of the mass and a tiny variance does not lower it ...
    with_empty = em_level(_spherical([0.5, 0.5, 1e-4], [0.495, 0.495, 0.01]), SPHERICAL)
    assert with_empty == pytest.approx(resolved, rel=1e-12)
    # ... one with 10% of it does.
    with_small = em_level(_spherical([0.5, 0.5, 1e-4], [0.45, 0.45, 0.1]), SPHERICAL)
    assert noise_coefficients(with_small)[1] == pytest.approx(0.6 * 1e-4, rel=1e-9)


def test_em_level_floors_a_thin_direction_at_a_share_of_the_mean_variance():
    # diag: variances (1e-6, 1, 1, 1), mean ~0.75: floored at 0.1 of it.
    cov = np.array([[1e-6, 1.0, 1.0, 1.0]] * 2)
    mean = cov[0].mean()
    diag = covariance_model("diag", 0.0)
    params = MixtureParams(np.zeros((2, 4)), diag.to_coordinates(cov), np.zeros(2))
    s2 = noise_coefficients(em_level(params, diag))[1]
    assert s2 == pytest.approx(0.6 * 0.1 * mean, rel=1e-9)
    # full takes the lower floor, 0.01 of the mean eigenvalue.
    full = np.array([np.diag(row) for row in cov])
    full_model = covariance_model("full", 0.0)
    params = MixtureParams(np.zeros((2, 4)), full_model.to_coordinates(full), np.zeros(2))
    s2 = noise_coefficients(em_level(params, full_model))[1]
    assert s2 == pytest.approx(0.6 * 0.01 * mean, rel=1e-9)


@pytest.mark.parametrize("n_samples, n_components, expected", [
    (1_000, 3, 1_000),  # every row when there are few
    (1_000_000, 3, 5_000),  # at least 5 000
    (1_000_000, 20, 10_000),  # 500 a component
    (7_000, 20, 7_000),
])
def test_cold_start_rows(n_samples, n_components, expected):
    assert cold_start_rows(n_samples, n_components) == expected


@pytest.mark.parametrize("n_samples, draws", [
    (5_000, 1),
    (1_000, 1),  # 1 000 rows, not 2 000 for 2% more than 1 024
    (700, 1),
    (600, 2),
    (100, 10),
])
def test_cold_phases_noise_each_row_about_1024_rows_over_n_times(n_samples, draws):
    X = np.arange(2.0 * n_samples).reshape(n_samples, 2)
    noised = noised_rows(X)
    assert noised.shape == (draws * n_samples, 2)
    np.testing.assert_array_equal(noised[-n_samples:], X)  # whole copies of X


def test_cold_tolerance_a_quarter_standard_error_floored_and_at_least_tol():
    params = _spherical([1.0, 1.0], [0.2, 0.8])
    # 5 000 rows, largest weight 0.8: a quarter of 1 / sqrt(4000).
    phase = cold_final_phase(0.05, 1e-6, 5000, params)
    assert phase.tol == pytest.approx(0.25 / np.sqrt(4000), rel=1e-12)
    # Many rows: the floor 1e-3, not the standard error's 2.5e-4.
    assert cold_final_phase(0.05, 1e-6, 1_250_000, params).tol == 1e-3
    # A looser tol given by the user wins.
    assert cold_final_phase(0.05, 0.1, 5000, params).tol == 0.1
    # The intermediate phases use the same rule.
    phase = intermediate_phase(0, params, SPHERICAL, tol=1e-6, n_rows=1_250_000)
    assert phase.tol == 1e-3


def test_intermediate_phases_resolve_a_standard_error_the_others_nothing():
    params = _spherical([1.0, 1.0], [0.2, 0.8])
    # 5 000 rows, largest weight 0.8: a rising step that moves less than
    # 1 / sqrt(4000) standard deviations ends an intermediate phase.
    phase = intermediate_phase(0, params, SPHERICAL, tol=1e-6, n_rows=5000)
    assert phase.resolution == pytest.approx(1 / np.sqrt(4000), rel=1e-12)
    # The cold start's EM level (the single-level estimator) halves its rate instead.
    assert cold_final_phase(0.05, 1e-6, 5000, params).resolution == 0.0


def test_single_level_final_phase_takes_full_covariance_steps():
    phase = single_level_final_phase(0.05, 100, 1e-4)
    assert phase.learn == ALL_PARAMS and phase.stop is StopRule.PARAMS
    assert phase.covariance_rate == 1.0 and phase.learning_rate == 1.0
    assert (phase.t, phase.max_steps, phase.tol) == (0.05, 100, 1e-4)
