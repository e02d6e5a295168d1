"""The automatic power-iteration-then-EM schedule.

Shah, Chen & Klivans (2023) prove two regimes of gradient descent on the DDPM
objective. At a noise level where ``a |mu| << 1`` the step is a power iteration on
the data's second moment, so a small random start turns towards the span of the
true means. At small noise a step with the EM-matched size is an EM step and
contracts to the true means. The rules below pick the levels from the data; the
constants are the ones a prototype measured to work (see DESIGN.md 1.1b, 1.1c).
"""

import numpy as np

from ._covariance import covariances, mean_variances, smallest_variances
from ._optim import Phase

ALL_PARAMS = ("means", "covariance", "weight_logits")

# Phase 1 needs a * |signal| well below one; a prototype saw it work near
# t = 0.75 for unit-norm signals and diverge when t was pushed to log d. The
# level keeps a * signal <= 0.5. A lower level, a * signal <= 0.8, halved the
# phase's steps on separated synthetic data (K = 4, d = 10: 42 -> 23; K = 16,
# d = 50: 50 -> 35) and found every component as often, but on digits
# (K = 10) it lowered the adjusted Rand index of the spherical fits by 2 points
# (10 seeds; with noise_level="integrated" 0.452 -> 0.443), so it was not kept.
_POWER_MIN_LEVEL = 0.75
_POWER_SIGNAL_SCALE = 0.5
_POWER_STEPS = 50
# Phase 1 steps at twice the EM-matched rate. At large noise the posteriors
# barely follow the means, so the Gauss-Newton step underestimates the
# power iteration's move: growth per step is 1 + rate (g - 1), with g near 1
# for weak directions (the third of K = 4 grew by ~8% a step at rate 1), and
# the means saturated to the same span in 21 steps instead of 36 (d = 10,
# K = 4), with no oscillation. Over 12 seeds each of (1e5, 10, 4),
# (4e4, 20, 8) and (1e5, 50, 16) the cold start found every component in
# 36 of 36 at rate 2 and 32 at rate 1 (power steps 29 / 39 / 47 against
# 42 / 48 / 50). On digits (spherical, 30 seeds) the clustering's adjusted
# Rand index was 0.428 +- 0.005 against 0.435 +- 0.006 (integrated:
# 0.431 +- 0.005 against 0.438 +- 0.006), held-out log-likelihood -71.50
# against -71.65 (-71.20 against -71.38). Rates above 1 did not help the
# intermediate phases (their line search halves them).
_POWER_RATE = 2.0
# Phase 1 stops once a step turns the means' span, and changes their norm,
# by less than this, and by a tenth of the most it did (see
# _optim._span_change). Stopping earlier cost components later: at d = 20,
# K = 8 (20 seeds) the cold start missed 4 with a 1e-2 tolerance (27 steps),
# 2 with 3e-3 (39), 1 with 1e-3 (37-47) and 2 with all 50 steps.
_POWER_TOL = 1e-3
# For K > 2 stages at intermediate levels move the means from the span into
# their own basins; straight to small noise diverged in many seeds. Like the
# EM level, each is set relative to the current variance estimate (its noise
# variance s^2 is this multiple of the weighted mean variance, and t <= 1): a
# fixed ladder t = 1.0 -> 0.5 worked for unit clusters in d = 20 (19 of 20 seeds
# found all 8 components) but buried tight 2-D clusters in noise.
_INTERMEDIATE_NOISE_TO_VARIANCE = (1.3, 0.9)
_MAX_INTERMEDIATE_LEVEL = 1.0
_INTERMEDIATE_STEPS = 50
# Weights stay uniform there: learning them at heavy blur let one broad
# component absorb several clusters (all 4 found in 6 of 10 2-D seeds with
# weights learned, 9 of 10 without; 8 vs 10 of 10 for K = 8, d = 20).
_INTERMEDIATE_LEARN = ("means", "covariance")
# The cold start ends with the final level on the subsample.
_COLD_FINAL_STEPS = 50
# The cold phases stop once no parameter moves by more than this fraction of
# the standard error of the best-determined mean (1 / sqrt(rows * max weight)
# standard deviations): finer convergence on the subsample is below what its
# rows can tell, and the full-data phase continues from there anyway.
# Intermediate phases drifted at ~2e-3 a step for all their 50 steps on
# 5 000 rows, where the standard error is 0.03.
_COLD_TOL_TO_STANDARD_ERROR = 0.25
# Nor finer than this on any subsample: the full-data stage refines the cold
# start's estimate anyway, so a large subsample need not converge further.
_COLD_MIN_TOL = 1e-3
# Rows used by the cold start: enough for the span and the basins, cheap at any n.
# At d = 50, K = 16 (24 seeds) the cold start found every component in 22
# seeds with 300 rows a component, 24 with 500 and 23 with 1000, in half the
# time at 500 as at 1000.
_COLD_MIN_ROWS = 5000
_COLD_ROWS_PER_COMPONENT = 500
# Final (EM) level: its noise variance s^2 is a fixed fraction of the smallest
# variance the model resolves: the smallest eigenvalue (floored at
# _THIN_FLOOR of the mean one) of any component holding at least
# _RESOLVED_WEIGHT of the mass. So the level is "small" relative to the
# clusters at any geometry (tight 2-D clusters at t = 0.1 gave 2-5x EM's error;
# 0.6 v gave 1.0-1.1x on 2-D, 4-D and 5-D mixtures), and never above t = 0.1
# (1.00-1.02x EM's error in d = 20 and 50). The variance estimates carry Monte
# Carlo noise in proportion to s^2: with the weighted mean variance instead, a
# small component beside large ones, or a thin direction (condition number
# 10), got 1.5-2x EM's covariance error, 1.0x with this rule. The floor keeps
# the level off zero on data with near-constant features (digits), where
# plain score matching (t = 0) lost most of the clustering (ARI 0.05 vs 0.34)
# with diagonal covariances. Full and tied covariances take a lower floor:
# their thin directions are near-collinear combinations of features, which
# the level must resolve, or the flat objective lets them collapse to
# reg_covar (breast cancer, 30 standardised features, two seeds: test
# log-likelihood per point -488 and -1 122 (full), -1 085 and -692 (tied) at
# the floor 0.1; -13.9, -13.4, -10.7 and -10.3 at 0.01; GaussianMixture -5.9).
# The price, on iris: full -2.23/-2.57 became -3.06/-2.38, tied -3.06/-3.00
# became -3.46/-3.20; wine moved by under 0.3.
_FINAL_NOISE_TO_VARIANCE = 0.6
_MAX_FINAL_LEVEL = 0.1
_RESOLVED_WEIGHT = 0.05
_THIN_FLOOR = {"full": 0.01, "tied": 0.01}
_THIN_FLOOR_ELEMENTWISE = 0.1

def _spectrum(X):
    """Eigenvalues (ascending) of the covariance of X, shape (n_samples, n_features)."""
    return np.linalg.eigvalsh(np.cov(X, rowvar=False).reshape(X.shape[1], -1))


def power_phase_level(X):
    """Noise level of phase 1 for standardised data X, shape (n_samples, n_features).

    The signal's norm is estimated from the excess of the top eigenvalue of the
    data's covariance over the median (bulk) eigenvalue; the level is raised
    until ``a * signal <= 0.5``, and never below 0.75.
    """
    eigvals = _spectrum(X)
    signal = np.sqrt(max(eigvals[-1] - np.median(eigvals), 0.0))
    return max(_POWER_MIN_LEVEL, float(np.log(max(signal / _POWER_SIGNAL_SCALE, 1.0))))


def power_phase_variance(X, n_components):
    """Component variance held fixed during phase 1.

    The means grow along directions where the data's variance exceeds the
    model's, so the model's variance must sit below the top of the spectrum.
    When the means span few of the d directions (d > 2K) the bulk (median)
    eigenvalue estimates the within-component variance, as in the paper's
    known-variance setting; otherwise, as in one or two dimensions, every
    direction may carry signal and half the smallest eigenvalue is used.
    """
    eigvals = _spectrum(X)
    if X.shape[1] > 2 * n_components:
        return float(np.median(eigvals))
    return 0.5 * float(max(eigvals[0], 1e-12))


def cold_start_rows(n_samples, n_components):
    """Number of rows the cold start works on."""
    return min(n_samples, max(_COLD_MIN_ROWS, _COLD_ROWS_PER_COMPONENT * n_components))


def _level_for_noise_variance(s2, max_level):
    """Noise level whose noise variance is ``s2``, capped at ``max_level``."""
    s2 = min(s2, -np.expm1(-2.0 * max_level))
    return float(-0.5 * np.log1p(-s2))


def _typical_variance(params, reg_covar, covariance_type):
    """Weighted mean of the components' mean variances (a collapsed, nearly
    empty component does not drag it down)."""
    cov = covariances(params.covariance, covariance_type, reg_covar)
    return float(params.weights() @ mean_variances(cov, covariance_type, len(params.means)))


def _resolved_variance(params, reg_covar, covariance_type):
    """Smallest variance of the components that hold at least
    ``_RESOLVED_WEIGHT`` of the mass (nearly empty ones are ignored), each
    component's smallest eigenvalue floored at a share of its mean one
    (``_THIN_FLOOR``)."""
    cov = covariances(params.covariance, covariance_type, reg_covar)
    K = len(params.means)
    floor = _THIN_FLOOR.get(covariance_type, _THIN_FLOOR_ELEMENTWISE)
    smallest = np.maximum(smallest_variances(cov, covariance_type, K),
                          floor * mean_variances(cov, covariance_type, K))
    weights = params.weights()
    return float(np.min(smallest[weights >= min(_RESOLVED_WEIGHT, weights.max())]))


def em_level(params, reg_covar, covariance_type):
    """Noise level of the EM phase for the current estimate."""
    return _level_for_noise_variance(
        _FINAL_NOISE_TO_VARIANCE * _resolved_variance(params, reg_covar, covariance_type),
        _MAX_FINAL_LEVEL,
    )


def power_phase(X_cold):
    """Phase 1: means only, kept centred; variances and weights stay fixed."""
    return Phase("power", power_phase_level(X_cold), _POWER_STEPS, _POWER_RATE, ("means",),
                 "span", _POWER_TOL, centred=True)


def n_intermediate_phases(n_components):
    """Intermediate stages are needed only when K > 2."""
    return len(_INTERMEDIATE_NOISE_TO_VARIANCE) if n_components > 2 else 0


def _cold_tol(tol, n_rows, params):
    """Stopping tolerance of a cold phase on ``n_rows`` rows (see above)."""
    standard_error = 1.0 / np.sqrt(n_rows * params.weights().max())
    return max(tol, _COLD_MIN_TOL, _COLD_TOL_TO_STANDARD_ERROR * standard_error)


def intermediate_phase(stage, params, reg_covar, tol, covariance_type, n_rows):
    """Intermediate stage number ``stage`` for the current estimate, on
    ``n_rows`` rows."""
    level = _level_for_noise_variance(
        _INTERMEDIATE_NOISE_TO_VARIANCE[stage]
        * _typical_variance(params, reg_covar, covariance_type),
        _MAX_INTERMEDIATE_LEVEL,
    )
    return Phase("intermediate", level, _INTERMEDIATE_STEPS, 1.0, _INTERMEDIATE_LEARN,
                 "params", _cold_tol(tol, n_rows, params))


def cold_final_phase(level, tol, n_rows, params):
    """Last phase of the cold start: the EM level, on the subsample of
    ``n_rows`` rows, from ``params``."""
    return Phase("cold-final", level, _COLD_FINAL_STEPS, 1.0, ALL_PARAMS, "params",
                 _cold_tol(tol, n_rows, params))


def final_phase(level, max_iter, tol):
    """The full-data stage at the EM level (:func:`._optim.run_fresh_noise`):
    unit rate with full covariance steps, as EM moves near the optimum."""
    return Phase("final", level, max_iter, 1.0, ALL_PARAMS, "params", tol,
                 covariance_rate=1.0)
