"""The automatic power-iteration-then-EM schedule.

Shah, Chen & Klivans (2023) prove two regimes of gradient descent on the DDPM
objective. At a noise level where ``a |mu| << 1`` the step is a power iteration on
the data's second moment, so a small random start turns towards the span of the
true means. At small noise a step with the EM-matched size is an EM step and
contracts to the true means. The rules below pick the levels from the data; the
measurements behind their constants are in ``docs/design.rst``.
"""

import numpy as np

from ._history import PhaseKind
from ._optim import Phase, StopRule

# Every block of the parameters (what the phases after the power phase learn).
ALL_PARAMS = ("means", "covariance", "weight_logits")

# Lowest power-phase level; a prototype saw phase 1 work near t = 0.75 (docs/design.rst).
_POWER_MIN_LEVEL = 0.75
# The power-phase level keeps a * signal <= this; 0.8 lost ARI on digits (docs/design.rst).
_POWER_SIGNAL_SCALE = 0.5
# Most steps of the power phase.
_POWER_STEPS = 50
# Power-phase rate, twice the EM-matched; tuned on 3 synthetic settings, digits (docs/design.rst).
_POWER_RATE = 2.0
# Power phase's span-change tolerance; tuned on d = 20, K = 8, 20 seeds (docs/design.rst).
_POWER_TOL = 1e-3
# Intermediate levels' noise variance per weighted mean variance, for K > 2 (docs/design.rst).
_INTERMEDIATE_NOISE_TO_VARIANCE = (1.3, 0.9)
# Highest intermediate level (the top of the fixed ladder it replaced, docs/design.rst).
_MAX_INTERMEDIATE_LEVEL = 1.0
# Most steps of an intermediate phase.
_INTERMEDIATE_STEPS = 50
# Weights stay uniform at the intermediate levels; set on 2-D and d = 20 data (docs/design.rst).
_INTERMEDIATE_LEARN = ("means", "covariance")
# Most steps of the cold start's last phase (the EM level, on the subsample).
_COLD_FINAL_STEPS = 50
# Cold phases' tol per standard error of the subsample; set on 5 000 rows (docs/design.rst).
_COLD_TOL_TO_STANDARD_ERROR = 0.25
# Floor of the cold phases' tol: the full-data stage refines their estimate anyway.
_COLD_MIN_TOL = 1e-3
# Fewest rows of the cold start (all of them when there are fewer).
_COLD_MIN_ROWS = 5000
# Cold-start rows a component; tuned on d = 50, K = 16, 24 seeds (docs/design.rst).
_COLD_ROWS_PER_COMPONENT = 500
# EM level's noise variance per smallest resolved variance; tuned on 2-5-D data (docs/design.rst).
_FINAL_NOISE_TO_VARIANCE = 0.6
# Highest EM level; measured in d = 20 and 50 (docs/design.rst).
_MAX_FINAL_LEVEL = 0.1
# Components with less of the mass do not set the EM level's smallest variance.
_RESOLVED_WEIGHT = 0.05
# Floor of the smallest per mean variance, full and tied; tuned on breast cancer (docs/design.rst).
_THIN_FLOOR = 0.01
# The same floor for the elementwise types; keeps digits off t = 0 (docs/design.rst).
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


def _typical_variance(params, model):
    """Weighted mean of the components' mean variances (a collapsed, nearly
    empty component does not drag it down), for coordinates of type ``model``."""
    cov = model.from_coordinates(params.covariance)
    return float(params.weights() @ model.mean_variances(cov, len(params.means)))


def _resolved_variance(params, model):
    """Smallest variance of the components that hold at least
    ``_RESOLVED_WEIGHT`` of the mass (nearly empty ones are ignored), each
    component's smallest eigenvalue floored at a share of its mean one
    (``_THIN_FLOOR``, ``_THIN_FLOOR_ELEMENTWISE``)."""
    cov = model.from_coordinates(params.covariance)
    K = len(params.means)
    floor = _THIN_FLOOR_ELEMENTWISE if model.is_elementwise else _THIN_FLOOR
    smallest = np.maximum(model.smallest_variances(cov, K),
                          floor * model.mean_variances(cov, K))
    weights = params.weights()
    return float(np.min(smallest[weights >= min(_RESOLVED_WEIGHT, weights.max())]))


def em_level(params, model):
    """Noise level of the EM phase for the current estimate, coordinates of
    type ``model`` (a CovarianceType with its ``reg_covar``)."""
    return _level_for_noise_variance(
        _FINAL_NOISE_TO_VARIANCE * _resolved_variance(params, model),
        _MAX_FINAL_LEVEL,
    )


def power_phase(X_cold):
    """Phase 1: means only, kept centred; variances and weights stay fixed."""
    return Phase(PhaseKind.POWER, power_phase_level(X_cold), _POWER_STEPS, _POWER_RATE,
                 ("means",), StopRule.SPAN, _POWER_TOL, centred=True)


def n_intermediate_phases(n_components):
    """Intermediate stages are needed only when K > 2."""
    return len(_INTERMEDIATE_NOISE_TO_VARIANCE) if n_components > 2 else 0


def _standard_error(n_rows, params):
    """Standard error, in standard deviations, of the best-determined mean
    on ``n_rows`` rows."""
    return 1.0 / np.sqrt(n_rows * params.weights().max())


def _cold_tol(tol, n_rows, params):
    """Stopping tolerance of a cold phase on ``n_rows`` rows: ``tol``, at least
    ``_COLD_MIN_TOL`` and ``_COLD_TOL_TO_STANDARD_ERROR`` of the standard error
    of the best-determined mean."""
    return max(tol, _COLD_MIN_TOL,
               _COLD_TOL_TO_STANDARD_ERROR * _standard_error(n_rows, params))


def intermediate_phase(stage, params, model, *, tol, n_rows):
    """Intermediate stage number ``stage`` for the current estimate (of type
    ``model``), on ``n_rows`` rows."""
    level = _level_for_noise_variance(
        _INTERMEDIATE_NOISE_TO_VARIANCE[stage] * _typical_variance(params, model),
        _MAX_INTERMEDIATE_LEVEL,
    )
    return Phase(PhaseKind.INTERMEDIATE, level, _INTERMEDIATE_STEPS, 1.0,
                 _INTERMEDIATE_LEARN, StopRule.PARAMS, _cold_tol(tol, n_rows, params),
                 resolution=_standard_error(n_rows, params))


def cold_final_phase(level, tol, n_rows, params):
    """Last phase of the cold start: the EM level, on the subsample of
    ``n_rows`` rows, from ``params``."""
    return Phase(PhaseKind.COLD_FINAL, level, _COLD_FINAL_STEPS, 1.0, ALL_PARAMS,
                 StopRule.PARAMS,
                 _cold_tol(tol, n_rows, params))


def single_level_final_phase(level, max_iter, tol):
    """The full-data stage at the EM level (:func:`._optim.run_fresh_noise`):
    unit rate with full covariance steps, as EM moves near the optimum."""
    return Phase(PhaseKind.FINAL, level, max_iter, 1.0, ALL_PARAMS, StopRule.PARAMS, tol,
                 covariance_rate=1.0)
