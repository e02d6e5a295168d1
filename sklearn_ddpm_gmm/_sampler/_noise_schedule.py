"""The noise schedule: the levels the sampler trains, samples and integrates at.

The package's forward process is variance preserving (VP): at level ``t`` a
clean point becomes ``x_t = a x0 + s z`` with ``a = exp(-t)`` and ``s^2 = 1 -
exp(-2 t)``. The sampler works in the variance-exploding (VE) form ``y = x_t /
a = x0 + sigma z``, ``sigma = sqrt(exp(2 t) - 1)``: the same process,
reparametrised. Its levels are geometric in ``t`` between two bounds; this
module holds them, in both forms, and the interpolation between trained levels.
"""

from typing import NamedTuple

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


class NoiseSchedule(NamedTuple):
    """Noise levels geometric in the VP level t, from ``t_min`` to ``t_max``.

    The denoiser is trained at ``n_levels`` levels; the samplers and the
    likelihood ODE step through levels geometric between the same bounds, and
    between trained levels the denoiser is interpolated in log(sigma). Levels
    are in the sampler's standardised units.

    Examples
    --------
    >>> from sklearn_ddpm_gmm._sampler._noise_schedule import NoiseSchedule
    >>> schedule = NoiseSchedule(t_min=0.01, t_max=1.0, n_levels=3)
    >>> schedule.levels()
    array([0.01, 0.1 , 1.  ])
    >>> schedule.sample_sigmas(n_steps=None).round(3)  # trained levels, decreasing
    array([2.528, 0.471, 0.142])
    >>> len(schedule.likelihood_sigmas(min_steps=5))
    5
    """

    t_min: float
    t_max: float
    n_levels: int

    sigma_from_t = staticmethod(sigma_from_t)
    t_from_sigma = staticmethod(t_from_sigma)

    def levels(self):
        """Trained VP levels t, shape (n_levels,), increasing."""
        return np.geomspace(self.t_min, self.t_max, self.n_levels)

    def sigmas(self):
        """Trained VE levels, shape (n_levels,), increasing."""
        return sigma_from_t(self.levels())

    def sample_sigmas(self, n_steps):
        """Decreasing VE levels the samplers step through, from ``t_max`` to ``t_min``.

        ``n_steps`` levels geometric in t, or the trained levels when None.
        """
        if n_steps is None:
            t = self.levels()[::-1]
        else:
            t = np.geomspace(self.t_max, self.t_min, n_steps)
        return sigma_from_t(t)

    def likelihood_sigmas(self, min_steps):
        """Increasing VE levels of the likelihood ODE, from ``t_min`` to ``t_max``.

        ``min_steps`` levels geometric in t, or one per trained level if more.
        """
        return sigma_from_t(np.geomspace(self.t_min, self.t_max,
                                         max(self.n_levels, min_steps)))

    def level_weights(self, sigma):
        """Trained levels and weights that interpolate at ``sigma`` (see :func:`level_weights`)."""
        return level_weights(self.sigmas(), sigma)
