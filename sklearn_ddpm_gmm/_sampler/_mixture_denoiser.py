"""The exact denoiser of a Gaussian mixture with full covariances, and its posterior draws.

In the variance-exploding coordinates of :mod:`._noise_schedule` (``y = x0 +
sigma z``), a mixture prior's posterior given ``y`` is again a mixture of
Gaussians: its mean is the baseline that the cells' polynomial corrections
are added to, and a draw from it gives the ancestral steps their spread.
``nearest_centre`` gives the Voronoi cell of a point among the centres.
"""

import functools
from typing import NamedTuple

import numpy as np
from scipy.spatial.distance import cdist

from .._core._covariance import FullCovariance
from .._core._mixture import make_mixture
from ._near_cells import MIN_GROUP_ROWS, TRUNCATION_TOL, groups

# Entries (rows x cells x features) of the arrays of one block of rows.
_BLOCK_ELEMENTS = 1 << 18
_LOG_TOL = float(np.log(TRUNCATION_TOL))


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
    return _baseline_from_statistics(X, model.statistics(X, resp, None), model)


def hard_mixture_baseline(X, labels, n_components, sample_weight=None, reg=1e-6):
    """:func:`fit_mixture_baseline` of hard assignments ``labels`` (shape
    (n_samples,), in ``range(n_components)``), its statistics summed over
    blocks of rows (the core's merge) so that memory stays bounded."""
    model = FullCovariance(reg)
    eye = np.eye(n_components)
    stats = None
    for rows in _blocks(np.arange(len(X)), n_components * X.shape[1]):
        part = model.statistics(X[rows], eye[labels[rows]], None,
                                None if sample_weight is None else sample_weight[rows])
        stats = part if stats is None else model.merged(stats, part)
    return _baseline_from_statistics(X, stats, model)


def _baseline_from_statistics(X, stats, model):
    """The M-step of ``stats``, empty components as in :func:`fit_mixture_baseline`."""
    reg = model.reg_covar
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


class Posterior(NamedTuple):
    """The noised mixture's posterior at rows that share a list of cells.

    n rows, k listed cells (all K where nothing is truncated), d features.
    """

    cells: np.ndarray  # (k,) the listed cells
    Q: np.ndarray  # (n, k, d) offsets (y - mu_j) in cell j's eigenbasis, over sqrt(var)
    var: np.ndarray  # (k, d) eigenvalues of the noised covariances, lam_j + sigma^2
    w: np.ndarray  # (n, k) posterior of each listed cell
    log_density: np.ndarray  # (n,) log of the listed cells' density


def _posterior(baseline, Y, sigma, cells):
    """:class:`Posterior` of the rows of Y on ``cells`` (two matrix products)."""
    n, d = Y.shape
    k = len(cells)
    V = baseline.eigvecs[cells]  # (k, d, d)
    with np.errstate(divide="ignore"):
        log_w = np.log(baseline.weights[cells])
    var = baseline.eigvals[cells] + sigma * sigma
    sd = np.sqrt(var).reshape(k * d)
    # Column j d + e of V_all is V_j[:, e] / sd_je: the standardised offsets.
    V_all = V.transpose(1, 0, 2).reshape(d, k * d) / sd
    shift = np.einsum("kd,kde->ke", baseline.means[cells], V).reshape(k * d) / sd
    Q = Y @ V_all
    Q -= shift
    log_prob = (Q * Q) @ _half_block_sums(k, d)  # (n, k)
    log_prob += log_w - 0.5 * np.sum(np.log(2.0 * np.pi * var), axis=1)
    top = log_prob.max(axis=1, keepdims=True)
    log_prob -= top
    w = np.exp(log_prob, out=log_prob)
    total = w.sum(axis=1, keepdims=True)
    w /= total
    return Posterior(cells, Q.reshape(n, k, d), var, w, (top + np.log(total))[:, 0])


@functools.lru_cache(maxsize=16)
def _half_block_sums(k, d):
    """(k d, k) matrix that sums each cell's d columns, times -1/2."""
    return np.kron(np.eye(k), np.full((d, 1), -0.5))


def _excluded_log_density(baseline, sigma, floor):
    """Bound on the log-density of the cells off a row's list, shape (n,).

    ``c_max - floor^2 / (2 Lam)`` over the cells of positive weight (see
    :mod:`._near_cells`).
    """
    live = baseline.weights > 0
    var = baseline.eigvals[live] + sigma * sigma
    c_max = np.max(-0.5 * np.sum(np.log(2.0 * np.pi * var), axis=1))
    return c_max - np.maximum(floor, 0.0) ** 2 / (2.0 * var.max())


def _blocks(rows, width):
    """Slices of ``rows`` holding at most ``_BLOCK_ELEMENTS / width`` rows each."""
    step = max(1, _BLOCK_ELEMENTS // max(width, 1))
    for start in range(0, len(rows), step):
        yield rows[start:start + step]


def posterior_groups(baseline, Y, sigma, *, near=None, home=None):
    """The noised mixture's posterior at every row of Y, in groups of rows.

    Rows are grouped by their home cell and evaluated on its list of near
    cells (:class:`._near_cells.NearCells`); a row whose cells off the list
    may hold more than ``TRUNCATION_TOL`` of its density (the bound of
    :mod:`._near_cells`) is evaluated on all cells. Every row appears in
    exactly one group; memory is bounded by blocks of rows.

    Parameters
    ----------
    baseline : MixtureBaseline
    Y : ndarray of shape (n_samples, d)
    sigma : float
    near : NearCells or None
        Lists over ``baseline.means``; None: all cells for every row.
    home : ndarray of shape (n_samples,) or None
        Home cell of each row (any cell is valid; the nearest bounds best);
        None: the nearest, from ``near``'s tree.

    Yields
    ------
    rows : ndarray of int
        Rows of Y.
    posterior : Posterior
    """
    n, d = Y.shape
    K = len(baseline.weights)
    everything = np.arange(K)
    if near is None or not near.truncates or n < MIN_GROUP_ROWS * K:
        for rows in _blocks(np.arange(n), K * d):
            yield rows, _posterior(baseline, Y[rows], sigma, everything)
        return
    if home is None:
        home = near.home(Y)
    floor = near.floor(Y, home)
    excluded = _excluded_log_density(baseline, sigma, floor)
    # No density exceeds exp(c_max): rows whose bound is not below
    # TRUNCATION_TOL of it go to all cells at once.
    hopeless = excluded > _excluded_log_density(baseline, sigma, 0.0) + _LOG_TOL
    fallback = [np.flatnonzero(hopeless)]
    k = near.lists.shape[1]
    for g, rows in groups(np.where(hopeless, K, home), K):
        for block in _blocks(rows, k * d):
            post = _posterior(baseline, Y[block], sigma, near.lists[g])
            ok = excluded[block] - post.log_density <= _LOG_TOL
            if not np.all(ok):
                fallback.append(block[~ok])
                block, post = block[ok], _take_rows(post, ok)
            if len(block):
                yield block, post
    fallback = np.sort(np.concatenate(fallback))
    for rows in _blocks(fallback, K * d):
        yield rows, _posterior(baseline, Y[rows], sigma, everything)


def _take_rows(post, rows):
    return post._replace(Q=post.Q[rows], w=post.w[rows], log_density=post.log_density[rows])


def _posterior_mean(baseline, post):
    """``D = sum_j w_j m_j(y)`` over a :class:`Posterior`'s cells, shape (n, d).

    ``m_j = mu_j + V_j (lam_j / var_j) V_j^T (y - mu_j)``: in the
    standardised offsets, ``V_j (lam_j / sqrt(var_j)) Q_j``.
    """
    n, k, d = post.Q.shape
    V = baseline.eigvecs[post.cells]
    gain = (baseline.eigvals[post.cells] / np.sqrt(post.var))[:, :, np.newaxis]
    V_stack = (V.transpose(0, 2, 1) * gain).reshape(k * d, d)  # rows j d + e: gain V_j[:, e]
    C = (post.Q * post.w[:, :, np.newaxis]).reshape(n, k * d)
    return post.w @ baseline.means[post.cells] + C @ V_stack


def _jacobian_diagonal(baseline, post, D):
    """``dD_i / dy_i`` (see :func:`mixture_denoise`), shape (n, d)."""
    V_T = baseline.eigvecs[post.cells].transpose(0, 2, 1)
    lam = baseline.eigvals[post.cells]
    sd = np.sqrt(post.var)
    # (A_j)_ii = sum_e V_ie^2 lam_e / (lam_e + sigma^2), shape (k, d).
    A_diag = np.einsum("kie,ke->ki", V_T.transpose(0, 2, 1) ** 2, lam / post.var)
    diag = post.w @ A_diag
    # Cell by cell (k products of (n, d) by (d, d)): m_j(y), and g_j(y) the
    # gradient of log N_j, shape (k, n, d).
    Q = post.Q.transpose(1, 0, 2)
    m = baseline.means[post.cells][:, np.newaxis] + (Q * (lam / sd)[:, np.newaxis]) @ V_T
    g = -((Q / sd[:, np.newaxis]) @ V_T)
    w = post.w.T[:, :, np.newaxis]
    gbar = np.sum(w * g, axis=0)
    diag += np.sum(w * m * g, axis=0)
    return diag - D * gbar


def _posterior_draw(baseline, post, sigma, *, u, z):
    """One draw of x0 from the mixture's posterior, from a :class:`Posterior`.

    A cell is drawn from ``w`` (by the uniforms ``u``, shape (n, 1)), then a
    point from its Gaussian posterior ``N(m_j(y), sigma^2 A_j)`` (by the
    standard normals ``z``, shape (n, d)); shape (n, d).
    """
    n, k, d = post.Q.shape
    cumulative = np.cumsum(post.w, axis=1)
    pick = np.minimum(np.sum(cumulative < u * cumulative[:, -1:], axis=1), k - 1)
    cell = post.cells[pick]
    lam, var = baseline.eigvals[cell], post.var[pick]
    shrink = lam / var
    coords = post.Q[np.arange(n), pick] * (lam / np.sqrt(var)) + sigma * np.sqrt(shrink) * z
    return baseline.means[cell] + np.einsum("nij,nj->ni", baseline.eigvecs[cell], coords)


def posterior_mean_and_draw(baseline, Y, sigma, random_state, *, near=None):
    """The mixture's posterior mean and one draw from its posterior given ``y``.

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
    near : NearCells or None
        See :func:`posterior_groups`.

    Returns
    -------
    D : ndarray of shape (n_samples, d)
        The posterior mean (:func:`mixture_denoise`).
    draw : ndarray of shape (n_samples, d)
        Of mean ``D`` and covariance ``Cov[x0 | y]`` under the mixture.
    """
    n, d = Y.shape
    u = random_state.random_sample((n, 1))
    z = random_state.standard_normal((n, d))
    D, draw = np.empty((n, d)), np.empty((n, d))
    for rows, post in posterior_groups(baseline, Y, sigma, near=near):
        D[rows] = _posterior_mean(baseline, post)
        draw[rows] = _posterior_draw(baseline, post, sigma, u=u[rows], z=z[rows])
    return D, draw


def mixture_posterior_deviation(baseline, Y, sigma, random_state, *, near=None):
    """A draw of x0 from the mixture's posterior given ``y``, less its posterior mean.

    See :func:`posterior_mean_and_draw`; shape (n_samples, d), mean zero given
    ``y`` and covariance ``Cov[x0 | y]`` under the mixture.
    """
    D, draw = posterior_mean_and_draw(baseline, Y, sigma, random_state, near=near)
    return draw - D


def mixture_log_density(baseline, Y, sigma, *, near=None):
    """Log-density of the noised mixture ``sum_k pi_k N(mu_k, C_k + sigma^2 I)``.

    Parameters
    ----------
    baseline : MixtureBaseline
    Y : ndarray of shape (n_samples, d)
    sigma : float
    near : NearCells or None, default=None
        Each row's sum over its near cells (to ``TRUNCATION_TOL``, see
        :func:`posterior_groups`); None: all cells.

    Returns
    -------
    log_density : ndarray of shape (n_samples,)
    """
    out = np.empty(len(Y))
    for rows, post in posterior_groups(baseline, Y, sigma, near=near):
        out[rows] = post.log_density
    return out


def mixture_denoise(baseline, Y, sigma, divergence=False, *, near=None, home=None):
    """Posterior mean of x0 under a Gaussian mixture prior, at VE level sigma.

    With ``y = x0 + sigma z`` and ``x0 ~ sum_k pi_k N(mu_k, C_k)``:
    ``D(y) = sum_k w_k(y) m_k(y)``, ``m_k = mu_k + A_k (y - mu_k)``,
    ``A_k = C_k (C_k + sigma^2 I)^-1`` and ``w`` the posterior of the components
    of the noised mixture ``N(mu_k, C_k + sigma^2 I)``. With ``near``, each
    row's sum runs over its near cells (to ``TRUNCATION_TOL``, see
    :func:`posterior_groups`).

    Parameters
    ----------
    baseline : MixtureBaseline
    Y : ndarray of shape (n_samples, d)
    sigma : float
    divergence : bool, default=False
    near : NearCells or None, default=None
    home : ndarray of shape (n_samples,) or None, default=None
        See :func:`posterior_groups`.

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
    n, d = Y.shape
    D = np.empty((n, d))
    diag = np.empty((n, d)) if divergence else None
    for rows, post in posterior_groups(baseline, Y, sigma, near=near, home=home):
        D[rows] = _posterior_mean(baseline, post)
        if divergence:
            diag[rows] = _jacobian_diagonal(baseline, post, D[rows])
    return (D, diag) if divergence else D


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
