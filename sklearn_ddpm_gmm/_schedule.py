"""The automatic power-iteration-then-EM schedule.

Shah, Chen & Klivans (2023) prove two regimes of gradient descent on the DDPM
objective. At a noise level where ``a |mu| << 1`` the step is a power iteration on
the data's second moment, so a small random start turns towards the span of the
true means. At small noise a step with the EM-matched size is an EM step and
contracts to the true means. The rules below pick the levels from the data; the
constants are the ones a prototype measured to work (see DESIGN.md 1.1b, 1.1c).
"""

import numpy as np

from ._optim import Phase

ALL_PARAMS = ("means", "log_variances", "weight_logits")

# Phase 1 needs a * |signal| well below one; a prototype saw it work near
# t = 0.75 for unit-norm signals and diverge when t was pushed to log d.
_POWER_MIN_LEVEL = 0.75
_POWER_SIGNAL_SCALE = 0.5
_POWER_STEPS = 50
# For K > 2 stages at intermediate levels move the means from the span into
# their own basins; straight to small noise diverged in many seeds, and the
# ladder 1.0 -> 0.5 on 8000 rows found all 8 components in 19 of 20 seeds where
# one stage at 1.0 on 5000 rows found them in 9 of 12 (K = 8, d = 20,
# separation 3 sqrt(log K)).
_INTERMEDIATE_LEVELS = (1.0, 0.5)
_INTERMEDIATE_STEPS = 50
# The cold start ends with the final level on the subsample.
_COLD_FINAL_STEPS = 50
# Rows used by the cold start: enough for the span and the basins, cheap at any n.
_COLD_MIN_ROWS = 5000
_COLD_ROWS_PER_COMPONENT = 1000
# Final (EM) level: small enough for EM-level accuracy, large enough that the
# Stein-form gradient is far from plain score matching (t = 0, ~1.1x EM's error).
FINAL_LEVEL = 0.1


def power_phase_level(X):
    """Noise level of phase 1 for standardised data X, shape (n_samples, n_features).

    The signal's norm is estimated from the excess of the top eigenvalue of the
    data's covariance over the median (bulk) eigenvalue; the level is raised
    until ``a * signal <= 0.5``, and never below 0.75.
    """
    eigvals = np.linalg.eigvalsh(np.cov(X, rowvar=False).reshape(X.shape[1], -1))
    signal = np.sqrt(max(eigvals[-1] - np.median(eigvals), 0.0))
    return max(_POWER_MIN_LEVEL, float(np.log(max(signal / _POWER_SIGNAL_SCALE, 1.0))))


def cold_start_rows(n_samples, n_components):
    """Number of rows the cold start works on."""
    return min(n_samples, max(_COLD_MIN_ROWS, _COLD_ROWS_PER_COMPONENT * n_components))


def cold_start_phases(X_cold, n_components, init_params, final_level, tol):
    """Phases of the cold start, run on the subsample ``X_cold``.

    Returns a list of Phase. ``init_params="power"`` begins with the power
    iteration (means only, kept centred, variances and weights fixed); every
    start with K > 2 goes through the intermediate levels; all end at the final
    level.
    """
    phases = []
    if n_components > 1 and init_params == "power":
        phases.append(Phase(
            "power", power_phase_level(X_cold), _POWER_STEPS, 1.0, ("means",),
            "direction", 1e-5, centred=True,
        ))
    if n_components > 2:
        phases += [
            Phase("intermediate", level, _INTERMEDIATE_STEPS, 1.0, ALL_PARAMS,
                  "params", max(tol, 1e-3))
            for level in _INTERMEDIATE_LEVELS if level > final_level
        ]
    phases.append(Phase(
        "cold-final", final_level, _COLD_FINAL_STEPS, 1.0, ALL_PARAMS, "params",
        max(tol, 1e-3),
    ))
    return phases


def final_phase(final_level, max_iter, tol):
    """The full-data phase at the final level, run until parameters stop moving."""
    return Phase("final", final_level, max_iter, 1.0, ALL_PARAMS, "params", tol)
