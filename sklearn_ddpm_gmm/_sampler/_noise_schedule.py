"""The noise levels: VE <-> VP conversions and the interpolation between trained levels."""

import numpy as np


def sigma_from_t(t):
    """VE noise level ``sqrt(exp(2 t) - 1)`` of the VP level ``t`` (array or float)."""
    return np.sqrt(np.expm1(2.0 * np.asarray(t, dtype=float)))


def t_from_sigma(sigma):
    """VP level ``log(1 + sigma^2) / 2`` of the VE level ``sigma``."""
    return 0.5 * np.log1p(np.asarray(sigma, dtype=float) ** 2)


def level_weights(sigmas, sigma):
    """Trained levels and weights that interpolate at ``sigma`` in log(sigma).

    Returns a list of ``(level_index, weight)`` with positive weights summing
    to 1; outside the trained range the end level is used alone.

    Examples
    --------
    >>> from sklearn_ddpm_gmm._sampler._noise_schedule import level_weights
    >>> level_weights([1.0, 4.0], 2.0)
    [(0, 0.5), (1, 0.5)]
    >>> level_weights([1.0, 4.0], 9.0)
    [(1, 1.0)]
    """
    sigmas = np.asarray(sigmas)
    if sigma <= sigmas[0]:
        return [(0, 1.0)]
    if sigma >= sigmas[-1]:
        return [(len(sigmas) - 1, 1.0)]
    hi = int(np.searchsorted(sigmas, sigma))
    if np.isclose(sigma, sigmas[hi], rtol=1e-12, atol=0.0):
        return [(hi, 1.0)]
    lo = hi - 1
    w = float((np.log(sigma) - np.log(sigmas[lo])) / (np.log(sigmas[hi]) - np.log(sigmas[lo])))
    return [(lo, 1.0 - w), (hi, w)]
