"""The spherical Gaussian-mixture score model and the DDPM objective.

Parameters of a K-component spherical mixture in d dimensions:

- ``means``, shape (K, d): the component means ``mu_i``;
- ``log_variances``, shape (K,): ``rho_i``, with variance ``v_i = exp(rho_i) + reg``;
- ``weight_logits``, shape (K,): ``beta_i``, with weights ``pi = softmax(beta)``.

At noise level t (``a = exp(-t)``, ``s^2 = 1 - a^2``) component i of the noised law
is ``N(a mu_i, tau_i I)`` with ``tau_i = a^2 v_i + s^2``. With ``e_i = x - a mu_i``,
``u_i = e_i / tau_i`` and posteriors ``w(x) = softmax_i(log pi_i - d/2 log tau_i -
|e_i|^2 / (2 tau_i))``, the model's score is ``S(x) = -sum_i w_i(x) u_i``.

The DDPM objective at level t is ``L_t = E ||S(a x0 + s z) + z / s||^2``. By
Stein's identity it equals, for every clean point, the expectation over z of
``J(x_t) + d / s^2`` with ``J = |S|^2 + 2 div S
= 2 sum_i w_i (|e_i|^2 / tau_i^2 - d / tau_i) - |S|^2``; the Stein form needs no
``z / s`` term, so its gradient's noise shrinks with s. Both gradients are derived
in closed form below (see ``tests/test_score_model.py`` for the finite-difference
checks); they share the posterior terms computed in :func:`_noised_terms`.
"""

from typing import NamedTuple

import numpy as np
from scipy.special import logsumexp, softmax

from ._forward import noise_coefficients, noise_points


class SphericalParams(NamedTuple):
    """Unconstrained parameters of a spherical mixture (see module docstring)."""

    means: np.ndarray  # (K, d)
    log_variances: np.ndarray  # (K,)
    weight_logits: np.ndarray  # (K,)

    def variances(self, reg_covar):
        """Component variances ``exp(rho) + reg_covar``, shape (K,)."""
        return np.exp(self.log_variances) + reg_covar

    def weights(self):
        """Mixing weights ``softmax(beta)``, shape (K,)."""
        return softmax(self.weight_logits)


class _NoisedTerms(NamedTuple):
    log_norm: np.ndarray  # (n,) log density of each point under the noised mixture
    resp: np.ndarray  # (n, K) posteriors w
    sq_dist: np.ndarray  # (n, K) |x - a mu_i|^2
    tau: np.ndarray  # (K,) noised variances
    score: np.ndarray  # (n, d) S(x)


def _noised_terms(X, params, t, reg_covar):
    """Posteriors and score of the noised mixture at the points X, shape (n, d)."""
    a, s2 = noise_coefficients(t)
    means = params.means
    n_features = X.shape[1]
    tau = a * a * params.variances(reg_covar) + s2
    # Squared distances through one product; clipped because cancellation can
    # make them slightly negative.
    sq_dist = (
        np.einsum("ij,ij->i", X, X)[:, np.newaxis]
        - 2.0 * a * (X @ means.T)
        + (a * a) * np.einsum("ij,ij->i", means, means)
    )
    np.maximum(sq_dist, 0.0, out=sq_dist)
    log_weights = params.weight_logits - logsumexp(params.weight_logits)
    log_prob = (
        log_weights
        - 0.5 * n_features * np.log(2.0 * np.pi * tau)
        - sq_dist / (2.0 * tau)
    )
    log_norm = logsumexp(log_prob, axis=1)
    resp = np.exp(log_prob - log_norm[:, np.newaxis])
    resp_over_tau = resp / tau
    score = a * (resp_over_tau @ means) - X * resp_over_tau.sum(axis=1)[:, np.newaxis]
    return _NoisedTerms(log_norm, resp, sq_dist, tau, score)


def log_prob_and_resp(X, params, reg_covar, t=0.0):
    """Log density and posteriors of X under the (noised) mixture.

    Returns
    -------
    log_prob : ndarray of shape (n_samples,)
    resp : ndarray of shape (n_samples, n_components)
    """
    terms = _noised_terms(X, params, t, reg_covar)
    return terms.log_norm, terms.resp


def score(X, params, t, reg_covar):
    """Score ``grad_x log q_t(x)`` of the noised mixture, shape (n_samples, n_features)."""
    return _noised_terms(X, params, t, reg_covar).score


def _inner_with_offsets(V, X, means, a, tau):
    """``V_n . (x_n - a mu_i) / tau_i`` for every row n and component i, shape (n, K)."""
    return (np.einsum("ij,ij->i", V, X)[:, np.newaxis] - a * (V @ means.T)) / tau


def _assemble_gradient(X, params, t, coef_offset, coef_vector, vector,
                       coef_log_var, coef_logit):
    """Turn per-point coefficients into parameter gradients (means over rows).

    The mean gradient is ``2 a / n * sum_n [coef_offset_nj (x_n - a mu_j)
    + coef_vector_nj vector_n]``; the others are ``2 / n`` times column sums.
    """
    a, _ = noise_coefficients(t)
    n_samples = X.shape[0]
    g_means = (2.0 * a / n_samples) * (
        coef_offset.T @ X
        - a * coef_offset.sum(axis=0)[:, np.newaxis] * params.means
        + coef_vector.T @ vector
    )
    g_log_var = (2.0 / n_samples) * coef_log_var.sum(axis=0)
    g_logits = (2.0 / n_samples) * coef_logit.sum(axis=0)
    return SphericalParams(g_means, g_log_var, g_logits)


def ddpm_loss_grad(X0, z, params, t, reg_covar):
    """The DDPM loss in its plain (residual) form and its analytic gradient.

    Parameters
    ----------
    X0 : ndarray of shape (n_samples, n_features)
        Clean points.
    z : ndarray of shape (n_samples, n_features)
        Standard normal noise, one draw per clean point.
    params : SphericalParams
    t : float
        Noise level, ``t > 0``.
    reg_covar : float

    Returns
    -------
    loss : float
        ``mean_n ||S(a x0 + s z) + z / s||^2``.
    grad : SphericalParams
        Gradient of ``loss`` with respect to each parameter array.
    """
    a, s2 = noise_coefficients(t)
    Xt = noise_points(X0, z, t)
    terms = _noised_terms(Xt, params, t, reg_covar)
    w, tau, q = terms.resp, terms.tau, terms.sq_dist
    n_features = X0.shape[1]
    residual = terms.score + z / np.sqrt(s2)
    h = _inner_with_offsets(residual, Xt, params.means, a, tau)  # r . u_i
    h_centred = h - np.einsum("ij,ij->i", w, h)[:, np.newaxis]
    scaled_var = a * a * np.exp(params.log_variances)  # d tau / d rho
    grad = _assemble_gradient(
        Xt, params, t,
        coef_offset=-w * h_centred / tau,
        coef_vector=w / tau,
        vector=residual,
        coef_log_var=w * scaled_var / tau
        * (h - 0.5 * h_centred * (q / tau - n_features)),
        coef_logit=-w * h_centred,
    )
    loss = float(np.mean(np.einsum("ij,ij->i", residual, residual)))
    return loss, grad


class Curvature(NamedTuple):
    """Diagonal Gauss-Newton curvature of the DDPM loss, one value per block entry."""

    means: np.ndarray  # (K,), the same for each coordinate of mu_i
    log_variances: np.ndarray  # (K,)
    weight_logits: np.ndarray  # (K,)
    mean_resp: np.ndarray  # (K,) mean posterior of each component at the points


def stein_loss_grad(Xt, params, t, reg_covar):
    """The DDPM loss in its Stein form at noised points, gradient and curvature.

    Parameters
    ----------
    Xt : ndarray of shape (n_samples, n_features)
        Noised points ``a x0 + s z`` (``t = 0``: the clean points themselves).
    params : SphericalParams
    t : float
        Noise level, ``t >= 0``.
    reg_covar : float

    Returns
    -------
    loss : float
        ``mean_n J(x_t) + d / s^2``; its expectation over z is the plain DDPM loss.
        At ``t = 0`` the constant is dropped (Hyvarinen score matching).
    grad : SphericalParams
        Gradient of ``loss``.
    curvature : Curvature
        Diagonal Gauss-Newton curvature, exact for one component at its optimum;
        used to precondition steps so that a unit step acts like an EM step.
    """
    a, s2 = noise_coefficients(t)
    terms = _noised_terms(Xt, params, t, reg_covar)
    w, tau, q, S = terms.resp, terms.tau, terms.sq_dist, terms.score
    n_samples, n_features = Xt.shape
    g = q / tau**2 - n_features / tau
    p = _inner_with_offsets(S, Xt, params.means, a, tau)  # S . u_i
    S_sq = np.einsum("ij,ij->i", S, S)
    # c_i = (g_i - sum_k w_k g_k) + (p_i - sum_k w_k p_k), using sum_k w_k p_k = -|S|^2.
    c = g - np.einsum("ij,ij->i", w, g)[:, np.newaxis] + p + S_sq[:, np.newaxis]
    scaled_var = a * a * np.exp(params.log_variances)
    grad = _assemble_gradient(
        Xt, params, t,
        coef_offset=w * (c - 2.0 / tau) / tau,
        coef_vector=-w / tau,
        vector=S,
        coef_log_var=w * scaled_var * (
            c * (q / tau - n_features) / (2.0 * tau)
            + n_features / tau**2 - 2.0 * q / tau**3 - p / tau
        ),
        coef_logit=w * c,
    )
    loss = float(np.mean(2.0 * np.einsum("ij,ij->i", w, g) - S_sq))
    if s2 > 0:
        loss += n_features / s2
    # Gauss-Newton 2 E|dS/dtheta|^2, dropping the terms from moving posteriors
    # except for the logits, whose only effect on S is through the posteriors.
    mean_resp = w.sum(axis=0) / n_samples
    u_plus_S_sq = q / tau**2 + 2.0 * p + S_sq[:, np.newaxis]  # |u_i + S|^2
    curvature = Curvature(
        means=2.0 * a * a * mean_resp / tau**2,
        log_variances=2.0 * scaled_var**2 * n_features * mean_resp / tau**3,
        weight_logits=2.0 * np.einsum("ij,ij->j", w * w, u_plus_S_sq) / n_samples,
        mean_resp=mean_resp,
    )
    return loss, grad, curvature
