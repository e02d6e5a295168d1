"""The Gaussian-mixture score model and the DDPM objective, for every covariance type.

Parameters of a K-component mixture in d dimensions (:class:`MixtureParams`):
``means`` (K, d), ``covariance`` (the unconstrained coordinates of
:mod:`.._core._covariance`) and ``weight_logits`` (K,), with ``pi = softmax(beta)``.

At noise level t (``a = exp(-t)``, ``s^2 = 1 - a^2``) component i of the noised
law is ``N(a mu_i, T_i)``, ``T_i = a^2 Sigma_i + s^2 I``. With
``u_i = T_i^{-1} (x - a mu_i)`` and posteriors ``w(x)`` under the noised mixture,
the model's score is ``S(x) = -sum_i w_i(x) u_i``.

The DDPM objective at level t is ``L_t = E ||S(a x0 + s z) + z / s||^2``. By
Stein's identity it equals, for every clean point, the expectation over z of
``J(x_t) + d / s^2`` with ``J = |S|^2 + 2 div S = 2 sum_i w_i g_i - |S|^2`` and
``g_i = |u_i|^2 - tr T_i^{-1}``; the Stein form needs no ``z / s`` term, so its
gradient's noise shrinks with s.

Both forms' gradients share one shape. Differentiating through ``w``, ``u`` and
``g`` gives, for coefficient arrays ``alpha, beta, gamma`` (n, K), a vector field
``V`` (n, d) and masses ``zeta`` (K,) that depend on the form::

    dL/dmu_i = 2a/n [sum_n alpha_ni u_ni + T_i^{-1} sum_n (beta_ni u_ni + gamma_ni V_n)]
    dL/dT_i  = 2/n  [1/2 (sum_n alpha_ni u_ni u_ni^T - (sum_n alpha_ni) T_i^{-1}
                     + sym2(T_i^{-1} sum_n (beta_ni u_ni + gamma_ni V_n) u_ni^T))
                     + zeta_i T_i^{-2}]

with ``sym2(M) = M + M^T``; the covariance geometry (:mod:`._coordinates`)
evaluates them per type, and the chain rule through ``T = a^2 Sigma + s^2 I``
reaches the coordinates. ``tests/test_score_model.py`` checks every block
against finite differences.
"""

from typing import NamedTuple

import numpy as np

from ._coordinates import coordinate_gradient, geometry, reduce_tied
from .._core._mixture import MixtureParams
from .._numerics._fastops import column_sums, log_normalise, log_softmax, row_dots
from ._forward import noise_coefficients


class _NoisedTerms(NamedTuple):
    log_norm: np.ndarray  # (n,) log density of each point under the noised mixture
    resp: np.ndarray  # (n, K) posteriors w
    geometry: object  # the offsets u_ni, see _covariance
    noised_covariances: np.ndarray  # T, shape set by the covariance type


def _noised_terms(X, params, t, model):
    """Posteriors and score of the noised mixture at the points X, shape (n, d)
    (or :class:`._span_noise.SpanPoints`, see :func:`stein_loss_grad`), for
    the covariance type ``model`` (a CovarianceType)."""
    a, s2 = noise_coefficients(t)
    n_features = X.shape[1]
    T = model.noised(model.from_coordinates(params.covariance), a, s2)
    geo = geometry(X, params.means, T, a=a, model=model)
    log_weights = log_softmax(params.weight_logits)
    log_prob = (
        log_weights
        - 0.5 * (n_features * np.log(2.0 * np.pi) + geo.log_det)
        - 0.5 * geo.mahalanobis
    )
    log_norm, resp = log_normalise(log_prob)
    return _NoisedTerms(log_norm, resp, geo, T)


def log_prob_and_resp(X, params, t, model):
    """Log density and posteriors of X under the (noised) mixture of
    covariance type ``model`` (a CovarianceType with its ``reg_covar``).

    Returns
    -------
    log_prob : ndarray of shape (n_samples,)
    resp : ndarray of shape (n_samples, n_components)
    """
    terms = _noised_terms(X, params, t, model)
    return terms.log_norm, terms.resp


def score(X, params, t, model):
    """Score ``grad_x log q_t(x)`` of the noised mixture of covariance type
    ``model``, shape (n_samples, n_features)."""
    terms = _noised_terms(X, params, t, model)
    return -terms.geometry.combine(terms.resp)


def _parameter_gradient(terms, params, t, *, model, alpha, beta, gamma, V,
                        gamma_V, V_inner, zeta, logit_coef):
    """Gradients of every block from the coefficients of the module docstring.

    ``gamma_V = gamma.T @ V``, shape (K, d), is passed in because the Stein
    form gets it without forming V (spherical), where V is None.

    Returns
    -------
    grad : MixtureParams
    grad_noised : ndarray
        Gradient in the noised covariances T (summed over components if tied).
    """
    a, _ = noise_coefficients(t)
    n_samples = alpha.shape[0]
    geo = terms.geometry
    g_means = (2.0 * a / n_samples) * (
        geo.weighted_sum(alpha) + geo.precision_times(geo.weighted_sum(beta) + gamma_V)
    )
    grad_noised = (2.0 / n_samples) * reduce_tied(
        geo.covariance_gradient(alpha, beta, gamma, V=V, V_inner=V_inner, zeta=zeta),
        model,
    )
    g_cov = coordinate_gradient(params.covariance, a * a * grad_noised, model)
    g_logits = (2.0 / n_samples) * column_sums(logit_coef)
    return MixtureParams(g_means, g_cov, g_logits), grad_noised


class Curvature(NamedTuple):
    """What the preconditioned step needs besides the gradient."""

    noised_covariances: np.ndarray  # T at the current parameters
    noised_gradient: np.ndarray  # gradient of the loss in T
    mean_resp: np.ndarray  # (K,) mean posterior of each component at the points
    weight_logits: np.ndarray  # (K,) Gauss-Newton curvature in the logits


def stein_loss_grad(Xt, params, t, model):
    """The DDPM loss in its Stein form at noised points, gradient and curvature.

    Parameters
    ----------
    Xt : ndarray of shape (n_samples, n_features) or SpanPoints
        Noised points ``a x0 + s z`` (``t = 0``: the clean points themselves);
        spherical types also take :class:`._span_noise.SpanPoints`, which
        stand in for them in every product the model makes.
    params : MixtureParams
    t : float
        Noise level, ``t >= 0``.
    model : CovarianceType
        The covariance type, with its ``reg_covar`` (standardised units).

    Returns
    -------
    loss : float
        ``mean_n J(x_t) + d / s^2``; its expectation over z is the plain DDPM loss.
        At ``t = 0`` the constant is dropped (Hyvarinen score matching).
    grad : MixtureParams
        Gradient of ``loss``.
    curvature : Curvature
        Used to precondition steps so that a unit step acts like an EM step.
    """
    _, s2 = noise_coefficients(t)
    terms = _noised_terms(Xt, params, t, model)
    w, geo = terms.resp, terms.geometry
    n_samples, n_features = Xt.shape
    g = geo.sq_norm - geo.trace_precision
    stats = geo.score_statistics(w)
    p, S_sq = stats.inner, stats.sq_norm  # S . u_i and |S|^2
    g_mean = row_dots(w, g)
    # c_i = (g_i - sum_k w_k g_k) + (p_i - sum_k w_k p_k), using sum_k w_k p_k = -|S|^2.
    c = g - g_mean[:, np.newaxis] + p + S_sq[:, np.newaxis]
    resp_mass = column_sums(w)
    grad, grad_noised = _parameter_gradient(
        terms, params, t, model=model,
        alpha=w * c, beta=-2.0 * w, gamma=-w, V=stats.field, gamma_V=-stats.resp_sum,
        V_inner=p, zeta=resp_mass,
        logit_coef=w * c,
    )
    loss = float(np.mean(2.0 * g_mean - S_sq))
    if s2 > 0:
        loss += n_features / s2
    # Gauss-Newton in the logits, 2 E|dS/dbeta|^2, whose only effect on S is
    # through the posteriors: |u_i + S|^2 = |u_i|^2 + 2 p_i + |S|^2.
    u_plus_S_sq = geo.sq_norm + 2.0 * p + S_sq[:, np.newaxis]
    curvature = Curvature(
        noised_covariances=terms.noised_covariances,
        noised_gradient=grad_noised,
        mean_resp=resp_mass / n_samples,
        weight_logits=2.0 * column_sums(w * w * u_plus_S_sq) / n_samples,
    )
    return loss, grad, curvature
