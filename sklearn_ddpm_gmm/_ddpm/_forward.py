"""The forward (Ornstein-Uhlenbeck, variance preserving) noising process.

At noise level ``t > 0`` a clean point ``x0`` becomes ``x_t = a x0 + s z`` with
``a = exp(-t)``, ``s = sqrt(1 - exp(-2 t))`` and ``z ~ N(0, I)``. A Gaussian
component ``N(mu, v I)`` becomes ``N(a mu, (a^2 v + s^2) I)``, so a mixture stays
a mixture with the same weights.
"""

import numpy as np


def noise_coefficients(t):
    """Signal and noise coefficients of the forward process at level ``t``.

    Parameters
    ----------
    t : float
        Noise level, ``t >= 0``.

    Returns
    -------
    a : float
        Signal scale ``exp(-t)``.
    s2 : float
        Noise variance ``1 - exp(-2 t)``, computed without cancellation at small t.
    """
    return float(np.exp(-t)), float(-np.expm1(-2.0 * t))


def noise_antithetic(X0, z, t):
    """Noised copies of ``X0`` in antithetic pairs.

    Parameters
    ----------
    X0 : ndarray of shape (n_samples, n_features)
        Clean points.
    z : ndarray of shape (n_samples, n_features)
        Standard normal draws.
    t : float
        Noise level.

    Returns
    -------
    Xt : ndarray of shape (2 * n_samples, n_features)
        ``a X0 + s z`` stacked on ``a X0 - s z``. The pair cancels the part of a
        gradient that is odd in ``z``, lowering its variance at no cost in bias.
    """
    a, s2 = noise_coefficients(t)
    signal = a * X0
    # s as a Python float: a numpy scalar would promote float32 points.
    noise = s2**0.5 * z
    return np.concatenate([signal + noise, signal - noise])
