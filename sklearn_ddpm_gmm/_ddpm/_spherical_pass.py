"""The Stein-form loss and gradient of a spherical model, laid out for speed.

:func:`._score_model.stein_loss_grad` evaluates every covariance type through
one set of formulas on (n, K) arrays. For one variance per component the same
formulas reduce to products of the points with the means and element-wise
work on (n, K) arrays, and that element-wise work decides a pass's time. With
the components along the rows, (K, n), an operation that broadcasts a
per-point or per-component vector runs along the long axis: on a block's
16 384 noised rows (``_objective.BLOCK_ROWS`` = 8 192 clean rows, in
antithetic pairs) it costs 3-5x less than in (n, K) order at K = 4 (numpy's
inner loops would run over K). The three weighted sums of the points the gradient
needs are also folded into one product. ``tests/test_score_model.py`` checks
this pass against the general one to rounding.
"""

import numpy as np

from ._coordinates import coordinate_gradient
from .._numerics._fastops import log_softmax, posteriors_in_place, row_dots, row_sums
from ._forward import noise_coefficients
from ._score_model import Curvature, MixtureParams
from ._span_noise import SpanPoints


def _products(X, means):
    """``means @ x_n`` and ``|x_n|^2``: shapes (K, n) and (n,)."""
    if isinstance(X, SpanPoints):
        return (means @ X.basis) @ X.coords.T, X.sq_norms
    return means @ X.T, row_dots(X, X)


def _points_weighted(X, B):
    """``B @ X`` for coefficients B of shape (K, n): shape (K, d)."""
    if isinstance(X, SpanPoints):
        return X.weighted_sum(B.T)
    return B @ X


def spherical_stein_loss_grad(Xt, params, t, model):
    """:func:`._score_model.stein_loss_grad` for the spherical and identity types.

    Parameters
    ----------
    Xt : ndarray of shape (n_samples, n_features) or SpanPoints
    params : MixtureParams
    t : float
    model : CovarianceType
        Spherical or identity (``model.is_spherical``), with its ``reg_covar``.

    Returns
    -------
    loss, grad, curvature
        As :func:`._score_model.stein_loss_grad` returns them.
    """
    a, s2 = noise_coefficients(t)
    n_samples, d = Xt.shape
    # Computed in the points' precision (float32 data: float32 passes);
    # what is returned is float64.
    dtype = Xt.dtype
    means = params.means.astype(dtype, copy=False)
    noised_covariances = model.noised(model.from_coordinates(params.covariance),
                                      a, s2)  # (K,)
    tau = noised_covariances.astype(dtype, copy=False)
    # Products with reciprocals: a division costs twice a product on (K, n).
    inv_tau_col = (1.0 / tau)[:, np.newaxis]
    x_dot_means, x_sq = _products(Xt, means)  # (K, n), (n,)
    gram = means @ means.T
    # (K, n) arrays are reused in place once their value is spent: fewer of
    # them live at once (partial_fit's memory is counted in chunks) and fewer
    # fresh pages to fault in, which cost ~40% of a pass at d = 10, K = 4.

    # Posteriors under the noised mixture.
    u_sq = x_dot_means * (-2.0 * a)
    u_sq += x_sq
    u_sq += (a * a) * np.diag(gram)[:, np.newaxis]
    # |x - a mu_i|^2, negative only by rounding: its absolute value is as
    # close to the truth as zero, and np.abs costs a sixth of np.maximum.
    np.abs(u_sq, out=u_sq)
    log_norms = (log_softmax(params.weight_logits)
                 - 0.5 * d * (np.log(2.0 * np.pi) + np.log(noised_covariances)))
    w = u_sq * (-0.5 * inv_tau_col)
    w += log_norms.astype(dtype)[:, np.newaxis]
    w = posteriors_in_place(w)
    u_sq *= inv_tau_col * inv_tau_col  # |u_i|^2

    # The score S = -sum_i w_i u_i in the span of x and the means (see
    # _covariance._SphericalGeometry.score_statistics).
    c = w * inv_tau_col
    c_total = c.sum(axis=0)
    w_c = w @ c.T  # (K, K)
    along_x = c_total * x_sq - a * np.einsum("kn,kn->n", c, x_dot_means)
    p = x_dot_means  # becomes S . mu_i, then S . u_i
    p *= c_total
    p -= (a * gram) @ c
    S_sq = np.abs(c_total * along_x - a * np.einsum("kn,kn->n", c, p))  # as u_sq
    del c
    p *= a
    p -= along_x
    p *= inv_tau_col  # S . u_i

    trace_precision = (d / tau)[:, np.newaxis]
    g_mean = np.einsum("kn,kn->n", w, u_sq) - trace_precision[:, 0] @ w
    coef = u_sq - trace_precision  # g_i = |u_i|^2 - tr T_i^{-1}, then c_i
    coef -= g_mean
    coef += p
    coef += S_sq  # c_i of the general pass
    alpha = w * coef
    resp_mass = row_sums(w)
    alpha_mass = row_sums(alpha)
    alpha_u = np.einsum("kn,kn->k", alpha, u_sq)
    del alpha
    w_u = np.einsum("kn,kn->k", w, u_sq)
    w_p = np.einsum("kn,kn->k", w, p)

    # d/dmu_i = 2a/n [sum alpha u + (sum beta u + gamma_V) / tau] with beta = -2 w,
    # gamma_V = sum (w c_total) x - a (w c^T) mu: one product with the points.
    point_coef = coef  # w (c_i - 2 / tau_i + c_total) / tau_i
    point_coef -= 2.0 * inv_tau_col
    point_coef += c_total
    point_coef *= w
    point_coef *= inv_tau_col
    mean_coef = (alpha_mass - 2.0 * resp_mass / tau) / tau
    g_means = (2.0 * a / n_samples) * (
        _points_weighted(Xt, point_coef)
        - a * (mean_coef[:, np.newaxis] * means + (w_c @ means) * inv_tau_col)
    )
    del point_coef, coef
    # d/dtau_i (see _SphericalGeometry.covariance_gradient), with beta = -2 w,
    # gamma = -w and V_inner = p.
    grad_noised = (2.0 / n_samples) * (
        0.5 * (alpha_u - d * alpha_mass / tau) - (2.0 * w_u + w_p) / tau
        + d * resp_mass / tau**2
    )
    g_means, grad_noised = g_means.astype(np.float64), grad_noised.astype(np.float64)
    g_cov = coordinate_gradient(params.covariance, a * a * grad_noised, model)
    g_logits = (2.0 / n_samples) * alpha_mass.astype(np.float64)

    # numpy sums pairwise: in float32 within ~1e-7 of the float64 mean,
    # the loss's own rounding, at half the cost.
    loss = float((2.0 * g_mean - S_sq).sum()) / n_samples
    if s2 > 0:
        loss += d / s2
    w_u_plus_S_sq = p  # w_i |u_i + S|^2 = w_i (|u_i|^2 + 2 S . u_i + |S|^2)
    w_u_plus_S_sq *= 2.0
    w_u_plus_S_sq += u_sq
    w_u_plus_S_sq += S_sq
    w_u_plus_S_sq *= w  # einsum over three operands costs 3x two
    curvature = Curvature(
        noised_covariances=noised_covariances,
        noised_gradient=grad_noised,
        mean_resp=resp_mass.astype(np.float64) / n_samples,
        weight_logits=(2.0 / n_samples)
        * np.einsum("kn,kn->k", w, w_u_plus_S_sq).astype(np.float64),
    )
    return loss, MixtureParams(g_means, g_cov, g_logits), curvature
