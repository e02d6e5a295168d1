"""The exact denoiser of a Gaussian mixture with full covariances, and its posterior draws.

In the variance-exploding coordinates of :mod:`._noise_schedule` (``y = x0 +
sigma z``), a mixture prior's posterior given ``y`` is again a mixture of
Gaussians: its mean is the baseline that the cells' polynomial corrections
are added to, and a draw from it gives the ancestral steps their spread.
``nearest_centre`` gives the Voronoi cell of a point among the centres.
"""

from typing import NamedTuple

import numpy as np
from scipy.spatial.distance import cdist

from .._core._covariance import FullCovariance
from .._core._mixture import make_mixture


class MixtureBaseline(NamedTuple):
    """A full-covariance Gaussian mixture in its covariances' eigenbases,
    ``C_k = V_k diag(lam_k) V_k^T``: the view of a core :class:`Mixture` that
    the denoiser's noised posteriors use (``C_k + sigma^2 I`` shares ``V_k``)."""

    weights: np.ndarray  # (K,)
    means: np.ndarray  # (K, d)
    eigvals: np.ndarray  # (K, d)
    eigvecs: np.ndarray  # (K, d, d)

    @classmethod
    def from_mixture(cls, mixture):
        """The eigenbasis view of a full-covariance :class:`Mixture`."""
        eigvals, eigvecs = np.linalg.eigh(mixture.covariances)
        return cls(mixture.weights, mixture.means, np.maximum(eigvals, 1e-12), eigvecs)

    def to_mixture(self, model):
        """The :class:`Mixture` (``model``: the full covariance type)."""
        covariances = np.stack([(V * lam) @ V.T for lam, V in zip(self.eigvals,
                                                                     self.eigvecs)])
        return make_mixture(self.weights, self.means, covariances, model)


def fit_mixture_baseline(X, resp, reg=1e-6):
    """One M-step with full covariances (the core's): the mixture that
    ``resp`` describes.

    Parameters
    ----------
    X : ndarray of shape (n_samples, d)
    resp : ndarray of shape (n_samples, K)
        Posterior of each component for each point (rows sum to 1), times
        the rows' weights where they are weighted.
    reg : float
        Added to every covariance's diagonal (X is standardised).

    Returns
    -------
    baseline : MixtureBaseline
        Components with no responsibility get weight 0, the data's mean and
        covariance (an empty component's M-step would put a covariance of
        ``reg`` at the origin: a spike of the density there).
    """
    model = FullCovariance(reg)
    stats = model.statistics(X, resp, None)
    weights, means, covariances = model.m_step(stats)
    empty = stats.mass <= 1e-12 * len(X)
    if np.any(empty):
        weights = np.where(empty, 0.0, weights)
        weights /= weights.sum()
        means[empty] = X.mean(axis=0)
        overall = np.atleast_2d(np.cov(X, rowvar=False, bias=True))
        covariances[empty] = overall + reg * np.eye(X.shape[1])
    eigvals, eigvecs = np.linalg.eigh(covariances)
    return MixtureBaseline(weights, means, np.maximum(eigvals, reg), eigvecs)


def _noised_posteriors(baseline, Y, sigma):
    """Offsets in each component's eigenbasis and posteriors of the noised mixture.

    Returns
    -------
    P : ndarray of shape (n, K d)
        ``P[:, k d: (k + 1) d] = (y - mu_k) V_k``.
    var : ndarray of shape (K, d)
        Eigenvalues of the noised components' covariances, ``lam_k + sigma^2``.
    w : ndarray of shape (n, K)
        Posterior of each component of ``N(mu_k, C_k + sigma^2 I)`` at each row.
    """
    d = Y.shape[1]
    K = len(baseline.weights)
    with np.errstate(divide="ignore"):
        log_w = np.log(baseline.weights)
    var = baseline.eigvals + sigma * sigma  # (K, d)
    V_all = np.concatenate(list(baseline.eigvecs), axis=1)  # (d, K d)
    shift = np.einsum("kd,kdj->kj", baseline.means, baseline.eigvecs).ravel()
    P = Y @ V_all - shift  # (n, K d)
    block = np.kron(np.eye(K), np.ones((d, 1)))  # (K d, K): sums each component's d
    log_prob = log_w - 0.5 * ((P * P) @ (block / var.ravel()[:, np.newaxis])
                              + np.sum(np.log(var), axis=1))
    log_prob -= log_prob.max(axis=1, keepdims=True)
    w = np.exp(log_prob)
    w /= w.sum(axis=1, keepdims=True)
    return P, var, w


def _posterior_mean(baseline, P, var, w):
    """``D = sum_k w_k m_k`` from :func:`_noised_posteriors`' output, shape (n, d)."""
    d = baseline.means.shape[1]
    V_stack = np.concatenate([V.T for V in baseline.eigvecs], axis=0)  # (K d, d)
    shrink = (baseline.eigvals / var).ravel()
    return w @ baseline.means + (P * shrink * np.repeat(w, d, axis=1)) @ V_stack


def _posterior_draw(baseline, P, var, *, w, sigma, random_state):
    """One draw of x0 from the mixture's posterior, from :func:`_noised_posteriors`' output.

    A component is drawn from ``w``, then a point from its Gaussian posterior
    ``N(m_k(y), sigma^2 A_k)``; shape (n, d).
    """
    n, d = P.shape[0], baseline.means.shape[1]
    cumulative = np.cumsum(w, axis=1)
    u = random_state.random_sample((n, 1)) * cumulative[:, -1:]
    k = np.minimum(np.sum(cumulative < u, axis=1), w.shape[1] - 1)
    offsets = P.reshape(n, -1, d)[np.arange(n), k]  # (n, d): (y - mu_k) V_k
    shrink = baseline.eigvals[k] / var[k]  # (n, d)
    coords = offsets * shrink + sigma * np.sqrt(shrink) * random_state.standard_normal((n, d))
    return baseline.means[k] + np.einsum("nij,nj->ni", baseline.eigvecs[k], coords)


def mixture_posterior_deviation(baseline, Y, sigma, random_state):
    """A draw of x0 from the mixture's posterior given ``y``, less its posterior mean.

    With ``y = x0 + sigma z`` and the prior ``sum_k pi_k N(mu_k, C_k)``, the
    posterior is the mixture of ``N(m_k(y), sigma^2 A_k)`` weighted by ``w(y)``
    (see :func:`mixture_denoise`): a component is drawn from ``w``, then a
    point from it.

    Parameters
    ----------
    baseline : MixtureBaseline
    Y : ndarray of shape (n_samples, d)
    sigma : float
    random_state : RandomState

    Returns
    -------
    deviation : ndarray of shape (n_samples, d)
        Mean zero given ``y``, covariance ``Cov[x0 | y]`` under the mixture.
    """
    P, var, w = _noised_posteriors(baseline, Y, sigma)
    return (_posterior_draw(baseline, P, var, w=w, sigma=sigma, random_state=random_state)
            - _posterior_mean(baseline, P, var, w))


def mixture_denoise(baseline, Y, sigma, divergence=False):
    """Posterior mean of x0 under a Gaussian mixture prior, at VE level sigma.

    With ``y = x0 + sigma z`` and ``x0 ~ sum_k pi_k N(mu_k, C_k)``:
    ``D(y) = sum_k w_k(y) m_k(y)``, ``m_k = mu_k + A_k (y - mu_k)``,
    ``A_k = C_k (C_k + sigma^2 I)^-1`` and ``w`` the posterior of the components
    of the noised mixture ``N(mu_k, C_k + sigma^2 I)``.

    Parameters
    ----------
    baseline : MixtureBaseline
    Y : ndarray of shape (n_samples, d)
    sigma : float
    divergence : bool, default=False

    Returns
    -------
    D : ndarray of shape (n_samples, d)
    diag : ndarray of shape (n_samples, d)
        Only when ``divergence``: the diagonal of the Jacobian,
        ``dD_i/dy_i = sum_k w_k ((A_k)_ii + m_ki g_ki) - D_i gbar_i``, with
        ``g_k = -(C_k + sigma^2 I)^-1 (y - mu_k)`` the gradient of the log
        density of noised component k and ``gbar`` its posterior mean (the
        posterior weights move as ``dw_k = w_k (g_k - gbar)``).
    """
    d = Y.shape[1]
    K = len(baseline.weights)
    P, var, w = _noised_posteriors(baseline, Y, sigma)
    D = _posterior_mean(baseline, P, var, w)
    if not divergence:
        return D
    w_rep = np.repeat(w, d, axis=1)  # (n, K d): each component's weight, repeated d times
    V_stack = np.concatenate([V.T for V in baseline.eigvecs], axis=0)  # (K d, d)
    # (A_k)_ii = sum_j V_ij^2 lam_j / (lam_j + sigma^2), shape (K, d).
    A_diag = np.einsum("kij,kj->ki", baseline.eigvecs**2, baseline.eigvals / var)
    diag = w @ A_diag
    gbar = -(P / var.ravel() * w_rep) @ V_stack
    for k in range(K):
        cols = slice(k * d, (k + 1) * d)
        V = baseline.eigvecs[k]
        m_k = baseline.means[k] + (P[:, cols] * (baseline.eigvals[k] / var[k])) @ V.T
        g_k = -(P[:, cols] / var[k]) @ V.T
        diag += w[:, k:k + 1] * m_k * g_k
    return D, diag - D * gbar


def nearest_centre(Y, centres):
    """Voronoi cell (index of the nearest centre) of each row of Y, shape (n,)."""
    return np.argmin(cdist(Y, centres, "sqeuclidean"), axis=1)


def centre_distances(Z, centres):
    """Euclidean distances, shape (n, K), finite for rows far beyond 1e154.

    Rows whose squared distances overflow are divided by their largest entry
    first (the distance scales back linearly).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        dist = cdist(Z, centres)
    for i in np.flatnonzero(~np.all(np.isfinite(dist), axis=1)):
        r = np.max(np.abs(Z[i]))
        dist[i] = r * np.linalg.norm(Z[i] / r - centres / r, axis=1)
    return dist
