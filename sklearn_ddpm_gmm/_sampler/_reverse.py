"""Reverse-diffusion integrators written against a generic denoiser.

The integrators run in the variance-exploding form ``y = x_t / a = x0 + sigma z``
of the package's forward process (see :mod:`._noise_schedule`), where the
exponential-integrator (ancestral) step and Heun's method on the
probability-flow ODE are simplest (Karras et al., 2022), and take

    denoiser(Y, sigma, divergence=False) -> D            (n, d)
    denoiser(Y, sigma, divergence=True)  -> (D, div)     (n, d), (n,)

with ``D = E[x0 | y]`` (Tweedie: the score is ``(D - y) / sigma^2``, and the
VP score at level t is ``(a D - x_t) / s^2``) and ``div = sum_i dD_i / dy_i``.
Any model of the posterior mean fits, e.g. a Gaussian mixture's.

The probability-flow ODE in these coordinates is ``dy/dsigma = (y - D) / sigma``,
whose divergence is ``(d - div D) / sigma``; along its solution
``d log p_sigma(y(sigma)) / dsigma = -(d - div D) / sigma``.
"""

import numpy as np


def ancestral_sample(denoiser, Y, sigmas, *, random_state, clean_point=None):
    """Reverse SDE by Gaussian (ancestral / DDPM) steps down ``sigmas``.

    Each step from ``sigma`` to ``sigma' < sigma`` draws from the posterior of
    the forward process given ``y`` and a clean point ``x0``:
    ``y' ~ N(x0 + r (y - x0), sigma'^2 (1 - r) I)`` with ``r = sigma'^2 / sigma^2``.
    With ``x0 = D(y)`` (the DDPM step) the step's mean is exact but its
    covariance lacks ``(1 - r)^2 Cov[x0 | y]``, a first-order error that
    shifts the clusters' masses when steps are long. With ``clean_point``,
    ``x0`` is a draw of mean ``D(y)`` and the covariance of a model of the
    posterior: the step is then exact, at any length, for the law whose
    posterior that is. A final level of 0 returns ``x0``.

    Parameters
    ----------
    denoiser : callable
    Y : ndarray of shape (n_samples, d)
        Points at level ``sigmas[0]``; not modified.
    sigmas : ndarray of shape (n_steps + 1,)
        Decreasing noise levels.
    random_state : RandomState
    clean_point : callable or None, default=None
        ``clean_point(Y, sigma, random_state) -> (n_samples, d)``: a draw of
        ``x0`` given each row, used instead of ``denoiser``; None: ``D(y)``
        (the DDPM step).

    Returns
    -------
    Y : ndarray of shape (n_samples, d)
        Points at level ``sigmas[-1]``.
    """
    Y = np.array(Y, dtype=float)
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
        if clean_point is None:
            X0 = denoiser(Y, sigma)
        else:
            X0 = clean_point(Y, sigma, random_state)
        r = (sigma_next / sigma) ** 2
        Y = X0 + r * (Y - X0)
        if sigma_next > 0:
            Y += sigma_next * np.sqrt(1.0 - r) * random_state.standard_normal(Y.shape)
    return Y


def _heun_step(denoiser, Y, sigma, *, sigma_next, divergence):
    """One Heun step of ``dy/dsigma = (y - D) / sigma`` (Euler when next is 0).

    Heun in sigma is exact while D stays constant over the step. With
    ``divergence``, also returns the change of log density over the step,
    ``integral (d - div D) d(log sigma)``, by the trapezoid rule in log sigma
    at the same two evaluations (in sigma itself the rule is badly off for the
    ``d / sigma`` part when steps are long), shape (n,).
    """
    d = Y.shape[1]
    h = sigma_next - sigma
    if divergence:
        if sigma_next <= 0:
            raise ValueError("The likelihood needs positive noise levels.")
        D, div = denoiser(Y, sigma, divergence=True)
    else:
        D = denoiser(Y, sigma)
    slope = (Y - D) / sigma
    Y_euler = Y + h * slope
    if sigma_next == 0:
        return Y_euler
    if divergence:
        D2, div2 = denoiser(Y_euler, sigma_next, divergence=True)
    else:
        D2 = denoiser(Y_euler, sigma_next)
    Y_next = Y + 0.5 * h * (slope + (Y_euler - D2) / sigma_next)
    if not divergence:
        return Y_next
    return Y_next, 0.5 * np.log(sigma_next / sigma) * ((d - div) + (d - div2))


def ode_sample(denoiser, Y, sigmas):
    """Deterministic samples: Heun's method on the probability-flow ODE.

    Parameters
    ----------
    denoiser : callable
    Y : ndarray of shape (n_samples, d)
        Points at level ``sigmas[0]``; not modified.
    sigmas : ndarray of shape (n_steps + 1,)
        Decreasing levels; a final 0 ends with an Euler step, which returns ``D``.

    Returns
    -------
    Y : ndarray of shape (n_samples, d)
    """
    Y = np.array(Y, dtype=float)
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
        Y = _heun_step(denoiser, Y, sigma, sigma_next=sigma_next, divergence=False)
    return Y


def ode_log_likelihood(denoiser, Y, sigmas, log_prior):
    """Log density at level ``sigmas[0]`` through the probability-flow ODE.

    The points are carried up the ODE by Heun steps, and the change of the log
    density, ``integral (d - div D) / sigma dsigma``, is integrated by the
    trapezoid rule at the same evaluations (exact divergence, no random probes),
    so the result is deterministic and each row's value depends only on that row.

    Parameters
    ----------
    denoiser : callable
    Y : ndarray of shape (n_samples, d)
        Points at level ``sigmas[0]``.
    sigmas : ndarray of shape (n_steps + 1,)
        Increasing positive levels.
    log_prior : callable
        ``log_prior(Y_top) -> (n_samples,)``: log density of the noised law at
        ``sigmas[-1]``.

    Returns
    -------
    log_density : ndarray of shape (n_samples,)
        ``log p_{sigmas[0]}(Y)``.
    """
    Y = np.array(Y, dtype=float)
    change = np.zeros(len(Y))
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
        Y, delta = _heun_step(denoiser, Y, sigma, sigma_next=sigma_next, divergence=True)
        change += delta
    return log_prior(Y) + change


def gaussian_log_density(Y, mean, eigvals, *, eigvecs, sigma):
    """Log density of ``N(mean, S + sigma^2 I)``, ``S = V diag(eigvals) V^T``.

    Parameters
    ----------
    Y : ndarray of shape (n_samples, d)
    mean : ndarray of shape (d,)
    eigvals : ndarray of shape (d,)
    eigvecs : ndarray of shape (d, d)
    sigma : float

    Returns
    -------
    log_density : ndarray of shape (n_samples,)
    """
    var = eigvals + sigma * sigma
    proj = (Y - mean) @ eigvecs
    return -0.5 * (np.sum(proj**2 / var, axis=1)
                   + np.sum(np.log(2.0 * np.pi * var)))
