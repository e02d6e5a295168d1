"""The DDPM phases' view of each covariance type: noised geometry and
preconditioned steps on the unconstrained coordinates.

The coordinates and every per-type quantity of a Gaussian mixture are the
covariance type's (:mod:`.._core._covariance`: ``to_coordinates``,
``from_coordinates``, ``noised``, ``from_spherical``, ...); the functions here
take that type object, ``model`` (its ``reg_covar`` in standardised units), and
choose by its attributes (``is_fixed``, ``is_spherical``, ``is_elementwise``,
``is_shared``), never by its name.

Each type is learned in unconstrained coordinates ``c`` that keep every covariance
positive definite, plus ``reg_covar`` on the diagonal:

============  ====================  =============================================
type          ``c`` shape           covariance
============  ====================  =============================================
spherical     (K,)                  ``exp(c_i) + reg``, one variance per component
diag          (K, d)                ``diag(exp(c_i)) + reg``
full          (K, d, d)             ``L_i L_i^T + reg I``, ``L_i`` lower triangular
                                    with strictly-lower part and log-diagonal in ``c_i``
tied          (d, d)                ``L L^T + reg I``, shared by all components
identity      (K,)                  fixed (the paper's model): not learned
============  ====================  =============================================

At noise level t the noised covariance is ``T_i = a^2 Sigma_i + s^2 I`` (same
shapes). The geometry classes below evaluate, for the offsets
``u_ni = T_i^{-1} (x_n - a mu_i)``, the quantities the score model needs without
forming an (n, K, d) array where the structure allows (spherical, diag).
"""

from typing import NamedTuple

import numpy as np

from .._core._covariance import (
    FLOOR_OF_REG,
    CovarianceType,
    cholesky_coordinates,
    cholesky_factor,
    floored_cholesky,
)
from .._numerics._fastops import TINY, column_sums, row_dots, row_sums
from ._span_noise import SpanPoints

# Trust region of one covariance step: an eigenvalue of Sigma - reg moves by at most this in log.
_MAX_LOG_VARIANCE_STEP = 0.5


# ----------------------------------------------------------- parametrisation
def coordinate_gradient(c, grad_cov, model: CovarianceType):
    """Chain rule from a gradient in the covariances (symmetric) to one in ``c``
    (none for a fixed type)."""
    if model.is_fixed:
        return np.zeros_like(c)
    if model.is_elementwise:
        return grad_cov * np.exp(c)
    # d tr(G dSigma) = 2 tr(L^T G dL): the factor's gradient is 2 G L, restricted
    # to the lower triangle; the log-diagonal adds the factor L_kk.
    L = cholesky_factor(c)
    grad_L = np.tril(2.0 * grad_cov @ L)
    idx = np.arange(c.shape[-1])
    grad_L[..., idx, idx] *= L[..., idx, idx]
    return grad_L


# ---------------------------------------------------- geometry of the model
class _SphericalGeometry:
    """Offsets ``u_ni = (x_n - a mu_i) / tau_i`` for noised variances tau (K,).

    X is an (n, d) array or :class:`._span_noise.SpanPoints`, which answer
    the only questions asked of the points here (products with the means,
    weighted sums, squared norms) from the coordinates of the means' span;
    ``combine`` and ``inner`` need an array.
    """

    def __init__(self, X, means, tau, a):
        self.X, self.means, self.tau, self.a = X, means, tau, a
        n_features = X.shape[1]
        self.span = isinstance(X, SpanPoints)
        if self.span:
            self.x_sq, self.x_dot_means = X.sq_norms, X.dot(means)  # (n,), (n, K)
        else:
            self.x_sq, self.x_dot_means = row_dots(X, X), X @ means.T
        self.gram = means @ means.T  # (K, K)
        # Squared distances through one product; clipped because cancellation
        # can make them slightly negative.
        sq_dist = (
            self.x_sq[:, np.newaxis]
            - 2.0 * a * self.x_dot_means
            + (a * a) * np.diag(self.gram)
        )
        np.maximum(sq_dist, 0.0, out=sq_dist)
        self.log_det = n_features * np.log(tau)  # (K,)
        self.trace_precision = n_features / tau  # (K,)
        self.mahalanobis = sq_dist / tau  # (n, K)
        self.sq_norm = sq_dist / tau / tau  # (n, K) |u_ni|^2 (tau**2 can underflow)

    def _points_weighted(self, B):
        """``B.T @ X``, shape (K, d), for B of shape (n, K)."""
        return self.X.weighted_sum(B) if self.span else B.T @ self.X

    def combine(self, w):
        """``sum_i w_ni u_ni``, shape (n, d), for weights w of shape (n, K)."""
        w_over_tau = w / self.tau
        return (self.X * row_sums(w_over_tau)[:, np.newaxis]
                - self.a * (w_over_tau @ self.means))

    def inner(self, V):
        """``V_n . u_ni``, shape (n, K), for V of shape (n, d)."""
        return (row_dots(V, self.X)[:, np.newaxis]
                - self.a * (V @ self.means.T)) / self.tau

    def weighted_sum(self, alpha):
        """``sum_n alpha_ni u_ni``, shape (K, d)."""
        return (self._points_weighted(alpha)
                - self.a * column_sums(alpha)[:, np.newaxis] * self.means
                ) / self.tau[:, np.newaxis]

    def precision_times(self, M):
        """``T_i^{-1} M_i``, shape (K, d)."""
        return M / self.tau[:, np.newaxis]

    def score_statistics(self, w):
        """What the Stein form needs of the score ``S = -combine(w)``, without
        forming it: S lies in the span of x_n and the means, so its norms and
        inner products follow from the (n, K) products already made, and the
        pass does no (n, d) element-wise work beyond them."""
        a, tau = self.a, self.tau
        c = w / tau  # (n, K)
        c_total = row_sums(c)
        # combine(w) . x_n and combine(w) . mu_i
        along_x = c_total * self.x_sq - a * row_dots(c, self.x_dot_means)
        along_means = c_total[:, np.newaxis] * self.x_dot_means - a * (c @ self.gram)
        sq_norm = np.maximum(c_total * along_x - a * row_dots(c, along_means), 0.0)
        inner = -(along_x[:, np.newaxis] - a * along_means) / tau
        resp_sum = (a * ((w.T @ c) @ self.means)
                    - self._points_weighted(w * c_total[:, np.newaxis]))
        return ScoreStatistics(sq_norm, inner, None, resp_sum)

    def covariance_gradient(self, alpha, beta, gamma, *, V, V_inner, zeta):
        """The bracket of ``dL/dT_i`` in the :mod:`._score_model` module
        docstring (without its 2/n) for ``T_i = tau_i I``, as a derivative in
        tau_i: shape (K,)."""
        d = self.X.shape[1]
        usq = self.sq_norm
        return (
            0.5 * (column_sums(alpha * usq) - d * column_sums(alpha) / self.tau)
            + (column_sums(beta * usq) + column_sums(gamma * V_inner)) / self.tau
            + d * zeta / self.tau**2
        )


class ScoreStatistics(NamedTuple):
    """The model score ``S = -sum_i w_i u_i`` at the points, as the Stein form uses it."""

    sq_norm: np.ndarray  # (n,) |S_n|^2
    inner: np.ndarray  # (n, K) S_n . u_ni
    field: object  # (n, d) S itself, or None where the geometry does without it
    resp_sum: np.ndarray  # (K, d) sum_n w_ni S_n


class _FieldScoreStatistics:
    """score_statistics for geometries that form the score (n, d) anyway."""

    def score_statistics(self, w):
        S = -self.combine(w)
        return ScoreStatistics(row_dots(S, S), self.inner(S), S, w.T @ S)


class _DiagGeometry(_FieldScoreStatistics):
    """Offsets ``u_ni = (x_n - a mu_i) / tau_i`` elementwise, tau of shape (K, d)."""

    def __init__(self, X, means, tau, a):
        self.X, self.means, self.tau, self.a = X, means, tau, a
        self.precision = 1.0 / tau
        self.X_sq = X * X
        self.log_det = np.log(tau).sum(axis=1)
        self.trace_precision = self.precision.sum(axis=1)
        self.mahalanobis = self._quadratic(self.precision)
        self.sq_norm = self._quadratic(self.precision**2)

    def _quadratic(self, D):
        """``sum_k D_ik (x_nk - a mu_ik)^2``, shape (n, K), clipped at zero."""
        a, means = self.a, self.means
        q = self.X_sq @ D.T - 2.0 * a * (self.X @ (means * D).T) + a * a * (means**2 * D).sum(1)
        return np.maximum(q, 0.0, out=q)

    def combine(self, w):
        return self.X * (w @ self.precision) - self.a * (w @ (self.means * self.precision))

    def inner(self, V):
        return ((V * self.X) @ self.precision.T
                - self.a * (V @ (self.means * self.precision).T))

    def weighted_sum(self, alpha):
        return (alpha.T @ self.X
                - self.a * column_sums(alpha)[:, np.newaxis] * self.means) * self.precision

    def precision_times(self, M):
        return M * self.precision

    def _weighted_squares(self, alpha):
        """``sum_n alpha_ni u_nik^2``, shape (K, d)."""
        a, means, X = self.a, self.means, self.X
        col = column_sums(alpha)[:, np.newaxis]
        raw = alpha.T @ self.X_sq - 2.0 * a * means * (alpha.T @ X) + a * a * means**2 * col
        return raw * self.precision**2

    def covariance_gradient(self, alpha, beta, gamma, *, V, V_inner, zeta):
        P = self.precision
        cross = (gamma.T @ (V * self.X) - self.a * self.means * (gamma.T @ V)) * P
        return (
            0.5 * (self._weighted_squares(alpha) - column_sums(alpha)[:, np.newaxis] * P)
            + P * (self._weighted_squares(beta) + cross)
            + zeta[:, np.newaxis] * P**2
        )


class _FullGeometry(_FieldScoreStatistics):
    """Offsets ``u_ni = T_i^{-1} (x_n - a mu_i)`` for T of shape (K, d, d)."""

    def __init__(self, X, means, T, a):
        self.X, self.means, self.a = X, means, a
        chol = np.linalg.cholesky(T)
        inv_chol = np.linalg.inv(chol)
        self.precision = np.swapaxes(inv_chol, -1, -2) @ inv_chol  # (K, d, d)
        self.log_det = 2.0 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(axis=1)
        self.trace_precision = np.trace(self.precision, axis1=-2, axis2=-1)
        offsets = X[np.newaxis] - a * means[:, np.newaxis, :]  # (K, n, d)
        self.U = offsets @ self.precision  # (K, n, d); precision is symmetric
        self.mahalanobis = np.einsum("knd,knd->nk", offsets, self.U)
        np.maximum(self.mahalanobis, 0.0, out=self.mahalanobis)
        self.sq_norm = np.einsum("knd,knd->nk", self.U, self.U)

    def combine(self, w):
        return np.einsum("nk,knd->nd", w, self.U)

    def inner(self, V):
        return np.einsum("nd,knd->nk", V, self.U)

    def weighted_sum(self, alpha):
        return np.einsum("nk,knd->kd", alpha, self.U)

    def precision_times(self, M):
        return np.einsum("kde,ke->kd", self.precision, M)

    def covariance_gradient(self, alpha, beta, gamma, *, V, V_inner, zeta):
        grads = []
        for i, (U, P) in enumerate(zip(self.U, self.precision)):
            A = (alpha[:, i, np.newaxis] * U).T @ U
            Y = (beta[:, i, np.newaxis] * U + gamma[:, i, np.newaxis] * V).T @ U
            PY = P @ Y
            grads.append(0.5 * (A - alpha[:, i].sum() * P + PY + PY.T) + zeta[i] * P @ P)
        return np.asarray(grads)


def geometry(X, means, T, *, a, model: CovarianceType):
    """The geometry object for the noised covariances T of the given type
    (X may be :class:`._span_noise.SpanPoints` for the spherical types)."""
    if model.is_spherical:
        return _SphericalGeometry(X, means, T, a)
    if isinstance(X, SpanPoints):
        raise ValueError("span noise stands in for the points only in spherical geometry")
    if model.is_elementwise:
        return _DiagGeometry(X, means, T, a)
    if model.is_shared:
        T = np.broadcast_to(T, (means.shape[0],) + T.shape)
    return _FullGeometry(X, means, T, a)


def reduce_tied(grad_T, model: CovarianceType):
    """A shared (tied) covariance's gradient is the sum of its components' gradients."""
    return grad_T.sum(axis=0) if model.is_shared else grad_T


# ------------------------------------------------------- preconditioned steps
def noised_square_times(T, M, model: CovarianceType):
    """``T_i^2 M_i``, shape (K, d): the means' Gauss-Newton step up to a scalar."""
    if model.is_spherical:
        return M * (T**2)[:, np.newaxis]
    if model.is_elementwise:
        return M * T**2
    if model.is_shared:
        return M @ (T @ T)
    return np.einsum("kde,ke->kd", T @ T, M)


def noised_norms(T, M, model: CovarianceType):
    """``sqrt(M_i^T T_i^{-1} M_i)``, shape (K,): a step in noised standard deviations."""
    if model.is_spherical:
        return np.linalg.norm(M, axis=1) / np.sqrt(T)
    if model.is_elementwise:
        return np.sqrt(np.sum(M**2 / T, axis=1))
    if model.is_shared:
        T = np.broadcast_to(T, (M.shape[0],) + T.shape)
    solved = np.linalg.solve(T, M[..., np.newaxis])[..., 0]
    return np.sqrt(np.maximum(np.einsum("kd,kd->k", M, solved), 0.0))


def elementwise_curvatures(T, mean_resp, a, *, model: CovarianceType, n_features):
    """Gauss-Newton curvature of the Stein loss at one level for the spherical
    and diag types, in the means and in the covariances Sigma themselves.

    ``2 a^2 m / T^2`` per mean coordinate and ``2 a^4 m' / T^3`` per variance,
    with m the responsibility mass (``m' = d m`` for one variance per
    component): the curvature in T is ``2 m' / T^3`` (EM-like), and
    ``T = a^2 Sigma + s^2``.

    Returns
    -------
    means : ndarray of shape (K,) spherical, (K, d) diag
    covariances : ndarray, shape of T
    """
    if model.is_spherical:
        mass, cov_mass = mean_resp, n_features * mean_resp
    else:
        mass = cov_mass = mean_resp[:, np.newaxis]
    return 2.0 * a * a * mass / T**2, 2.0 * a**4 * cov_mass / T**3


def elementwise_covariance_step(c, grad_sigma, curvature, *, scale, reg_covar):
    """Gauss-Newton step on log-variance coordinates c from the gradient and
    curvature in the variances themselves; each log-variance moves by at most
    ``_MAX_LOG_VARIANCE_STEP`` and stays above the floor of ``reg_covar``."""
    floor = max(FLOOR_OF_REG * reg_covar, TINY)
    delta = grad_sigma / np.maximum(curvature, TINY)
    step = np.clip(scale * delta / np.exp(c), -_MAX_LOG_VARIANCE_STEP, _MAX_LOG_VARIANCE_STEP)
    return np.maximum(c - step, np.log(floor))


def covariance_step(c, grad_T, T, *, mean_resp, a, scale, model: CovarianceType,
                    n_features):
    """One Gauss-Newton step on the covariances, applied multiplicatively.

    The Gauss-Newton curvature of the Stein loss in ``T`` is, in the eigenbasis
    ``T = sum_k lambda_k v_k v_k^T`` and for responsibility mass ``m``,
    ``m (lambda_k + lambda_l) / (lambda_k^2 lambda_l^2)`` on the (k, l) entry
    (for one variance: ``2 d m / tau^3``, EM-like). The step ``Delta Sigma =
    H^{-1} grad / a^2`` is taken as ``Sigma0 <- Sigma0^{1/2} exp(-scale X)
    Sigma0^{1/2}`` with ``X = Sigma0^{-1/2} Delta Sigma Sigma0^{-1/2}`` (Sigma0
    the covariance without reg), so it is a log-variance step for the
    elementwise types and stays positive definite for full and tied.

    Parameters
    ----------
    c : ndarray
        Coordinates (see module docstring).
    grad_T : ndarray
        Gradient in the noised covariances, same shape as T.
    T : ndarray
        Noised covariances.
    mean_resp : ndarray of shape (K,)
        Responsibility mass of each component (floored by the caller).
    a : float
    scale : float
        Step size.
    model : CovarianceType
        The type; its ``reg_covar`` sets the floor of the covariances (see
        ``FLOOR_OF_REG``).
    n_features : int

    Returns
    -------
    c : ndarray, same shape.
    """
    if model.is_fixed:
        return c
    if model.is_elementwise:
        _, curvature = elementwise_curvatures(T, mean_resp, a, model=model,
                                              n_features=n_features)
        return elementwise_covariance_step(c, a * a * grad_T, curvature, scale=scale,
                                           reg_covar=model.reg_covar)
    # T shares Sigma's eigenvectors; its eigenvalues are the noised ones.
    noised_eigvals, eigvecs = np.linalg.eigh(T)
    _, curvature = eigen_curvatures(noised_eigvals, mean_resp, a, model)
    return eigen_covariance_step(c, a * a * grad_T, eigvecs, curvature=curvature, scale=scale,
                                 model=model)


def _multiplicative_step(c, delta_sigma, floor):
    """Cholesky coordinates of ``Sigma0^{1/2} exp(-X) Sigma0^{1/2}``, with
    ``X = Sigma0^{-1/2} delta_sigma Sigma0^{-1/2}`` (eigenvalues clipped to
    ``_MAX_LOG_VARIANCE_STEP``): the step ``Sigma0 - delta_sigma`` to first order,
    positive definite whatever its size."""
    L = cholesky_factor(c)
    L_inv = np.linalg.inv(L)
    X = L_inv @ delta_sigma @ L_inv.T
    mu, W = np.linalg.eigh(0.5 * (X + X.T))
    mu = np.clip(mu, -_MAX_LOG_VARIANCE_STEP, _MAX_LOG_VARIANCE_STEP)
    LW = L @ W
    return cholesky_coordinates(floored_cholesky((LW * np.exp(-mu)) @ LW.T, floor))


def eigen_curvatures(noised_eigvals, mean_resp, a, model: CovarianceType):
    """Gauss-Newton curvature of the Stein loss at one level for the full and
    tied types, in the eigenbasis of the covariances Sigma.

    ``T = a^2 Sigma + s^2 I`` has Sigma's eigenvectors and eigenvalues
    ``tau = a^2 lambda + s^2``, so the curvatures of every level are diagonal
    in that one basis and can be added up over levels: ``2 a^2 m / tau_k^2``
    per mean coordinate along eigenvector k, and ``a^4 m (tau_k + tau_l) /
    (tau_k^2 tau_l^2)`` per entry (k, l) of the covariance (the curvature in
    T, ``m (tau_k + tau_l) / (tau_k^2 tau_l^2)``, is EM-like; a tied
    covariance carries the total mass).

    Parameters
    ----------
    noised_eigvals : ndarray of shape (K, d) full, (d,) tied
        tau, the eigenvalues of T.
    mean_resp : ndarray of shape (K,)
    a : float
    model : CovarianceType
        Full or tied (``model.is_shared``).

    Returns
    -------
    means : ndarray of shape (K, d)
    covariances : ndarray of shape (K, d, d) full, (d, d) tied
    """
    tau = noised_eigvals
    mass = mean_resp.sum() if model.is_shared else mean_resp[:, None, None]
    means = 2.0 * a * a * mean_resp[:, np.newaxis] / np.atleast_2d(tau) ** 2
    pair = tau[..., :, None] + tau[..., None, :]
    cov = a**4 * mass * pair / (tau[..., :, None] ** 2 * tau[..., None, :] ** 2)
    return means, cov


def eigen_covariance_step(c, grad_sigma, eigvecs, *, curvature, scale,
                          model: CovarianceType):
    """Gauss-Newton step on full or tied Cholesky coordinates from the gradient
    in Sigma and a curvature that is diagonal in Sigma's eigenbasis
    (:func:`eigen_curvatures`, possibly summed over levels); applied
    multiplicatively, so the result stays positive definite above the floor
    of ``model.reg_covar``."""
    floor = max(FLOOR_OF_REG * model.reg_covar, TINY)
    if model.is_shared:
        c, grad_sigma, eigvecs, curvature = (c[None], grad_sigma[None], eigvecs[None],
                                             curvature[None])
    steps = []
    for c_i, g_i, V, h in zip(c, grad_sigma, eigvecs, curvature):
        delta = V @ ((V.T @ g_i @ V) / np.maximum(h, TINY)) @ V.T
        steps.append(_multiplicative_step(c_i, scale * delta, floor))
    return steps[0] if model.is_shared else np.asarray(steps)


def log_covariance_change(old, new, model: CovarianceType):
    """Largest ``|log|`` of an eigenvalue of ``old^{-1} new``, over components."""
    if model.is_elementwise:
        return float(np.max(np.abs(np.log(new / old))))
    L = np.linalg.cholesky(old)
    L_inv = np.linalg.inv(L)
    M = L_inv @ new @ np.swapaxes(L_inv, -1, -2)
    return float(np.max(np.abs(np.log(np.linalg.eigvalsh(M)))))


def capped(c, model: CovarianceType, max_variance):
    """Coordinates whose covariances have no variance above ``max_variance``.

    Maximum likelihood never leaves that bound (a component's covariance is a
    weighted covariance of the data); without it a nearly flat direction of
    the DDPM loss let a component grow to variance 1e15 along a line through
    small 2-D data. Coordinates already within it are returned unchanged.
    """
    if model.is_fixed:  # not learned
        return c
    cov = model.from_coordinates(c)
    max_variance = max_variance + model.reg_covar  # constant data still gets reg_covar
    if model.is_elementwise:
        if np.all(cov <= max_variance):
            return c
        return model.to_coordinates(np.minimum(cov, max_variance))
    eigvals, eigvecs = np.linalg.eigh(cov)
    if np.all(eigvals <= max_variance):
        return c
    clipped = (eigvecs * np.minimum(eigvals, max_variance)[..., np.newaxis, :]
               ) @ np.swapaxes(eigvecs, -1, -2)
    return model.to_coordinates(clipped)
