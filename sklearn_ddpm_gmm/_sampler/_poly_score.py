"""The piecewise polynomial denoiser of Gatmiry, Kelner & Lee (2024).

Everything here works in the variance-exploding (VE) coordinates of the forward
process: a clean point ``x0`` noised to level ``sigma`` is ``y = x0 + sigma z``
with ``z ~ N(0, I)``. The package's variance-preserving level ``t`` maps to
``sigma = sqrt(exp(2 t) - 1)`` and its noised point ``x_t = a x0 + s z`` to
``y = x_t / a`` (see :mod:`._reverse`), so the two forms describe the same
model and convert at the estimator's boundary.

The model of the posterior mean ``D(y, sigma) = E[x0 | y]`` (the denoiser) at
one trained level is

    D(y) = clip_box(G_sigma(y) + sum_j w_j(y) R_j(y)),

- ``G_sigma``: the exact posterior mean under a Gaussian mixture with full
  covariances (the warm-start mixture refreshed by EM on all the data, or,
  with cells finer than the components, one Gaussian per cell refreshed the
  same way when held-out rows prefer it; with one component, the best linear
  denoiser). It is the baseline that the
  ridge penalty shrinks towards and the whole model in cells too small to fit
  anything; at large noise, where the mixture's weights decide which cluster a
  reverse trajectory joins, it carries the data's cluster masses exactly.
- ``R_j(y) = B_j^T phi(clip(u))``: a ridge regression, fitted in cell j, of the
  residual ``x0 - G_sigma(y)`` on the monomials ``phi`` of degree <= p (in
  scikit-learn's PolynomialFeatures order) of the cell's standardised offset
  ``u = W_j (y - o_j)``: the offset from the cell's centre less its mean over
  the cell (so ``o_j`` is the mean of the cell's noised points), whitened by
  the cell's covariance. Standardising changes the conditioning, not the span
  of the polynomials. At evaluation each ``u`` coordinate is clamped to the
  range seen in training for that cell and level (its central 99%, see
  ``CLAMP_QUANTILE``).
- ``w_j(y)``: soft memberships of the cells, ``softmax_j(-|y - c_j|^2 /
  (2 tau^2))`` with ``tau`` a fraction (``BLEND_WIDTH``) of the distance
  between neighbouring centres: the corrections are fitted in hard Voronoi
  cells, and blended across their boundaries so that the field is continuous.
- ``clip_box``: the clamp to the training data's bounding box widened by
  ``BOX_MARGIN`` standard deviations on each side. The posterior mean of the
  sample lies in its convex hull; the margin leaves room for the tails of the
  law it came from (with the plain box, held-out Gaussian points just outside
  it got log-densities hundreds of nats too low), while a far-away point
  still cannot be sent further out by the fitted function.

Cells: in VE coordinates the paper's centre ``a mu`` at VP level t is ``mu``
itself, so a point has the same nearest centre (Voronoi cell) at every level.
Between trained levels the corrections R are interpolated linearly in
``log sigma`` while ``G_sigma`` is exact at every sigma. The divergence of D
in y is exact for this piecewise function (the clamps contribute zero
derivative where active) and includes the derivative of the memberships. The
field is still not an exact gradient, and the probability-flow ODE is
integrated numerically, so the density it implies is normalised only
approximately.
"""

import functools
import itertools
import math
from numbers import Integral
from typing import NamedTuple

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from scipy.spatial.distance import cdist

# A cell fits degree p only with this many (noised) pairs per polynomial term.
PAIRS_PER_FEATURE = 10
# degree="auto" takes a higher degree only if it lowers the held-out loss by
# this many standard errors of the paired difference (a one-sided test at
# about 2%): a relative threshold on the loss, which at large noise is almost
# all irreducible, kept the mixture's denoiser alone where corrections helped.
SIGNIFICANCE = 2.0
# degree="auto" stops raising the degree once the held-out loss has not
# improved for this many degrees in a row (counted from degree 1). With 1, a
# ring in 4 cells kept degree 0 at 26 of 40 levels (held-out log-likelihood
# -0.58); with 2, -0.27.
PATIENCE = 2
# Feature inputs are clamped to the [q, 1 - q] quantiles of the cell's training
# offsets at that level, not to their full range: high-degree fits swing near
# the few extreme points, and one such swing gave a 2-D density of mass 3119
# (log-density 15.7 in an empty region; two moons, 4 cells, degree 10). With
# q = 0.005 the grid mass was 0.99-1.01 on rings and moons at 4 and 8 cells,
# for 0.005-0.01 nats of held-out log-likelihood.
CLAMP_QUANTILE = 0.005
# Width, in standard deviations of the data, added on each side of its bounding
# box before clamping denoised points.
BOX_MARGIN = 1.0
# Soft cells at evaluation: the boundary between two neighbouring cells is
# blended over about BLEND_WIDTH^2 of their distance. Hard Voronoi cells make
# the field jump, and the probability-flow density, whose divergence misses
# the jumps, then integrated to 1.1-1.5 on rings and moons with 24-48 cells.
# Tuned on bench_sampler's ring, moons and 10-D curve (5 seeds): 0.25 rather
# than 0.5 puts the 10-D curve's samples at 0.72x instead of 1.22x the tuned
# KDE's energy distance, for 0.04-0.07 nats of held-out log-likelihood in 2-D.
BLEND_WIDTH = 0.25
# Memberships below this share of a row's largest are dropped.
BLEND_CUTOFF = 1e-3


def n_poly_features(n_features, degree):
    """Number of monomials of degree <= ``degree`` in ``n_features`` variables."""
    return math.comb(n_features + degree, degree)


class _Monomials(NamedTuple):
    """Index tables for the monomials of degree <= D in d variables.

    Monomials are ordered as scikit-learn's PolynomialFeatures (graded; within a
    degree, ``itertools.combinations_with_replacement`` order), so the terms of
    degree <= p are the first ``n_poly_features(d, p)`` ones.
    """

    starts: np.ndarray  # (D + 2,) index where each degree's block starts
    parent: np.ndarray  # (m,) the monomial with its last factor removed
    var: np.ndarray  # (m,) that last factor's variable
    lower: np.ndarray  # (d, m) the monomial divided by u_j (0 where it has no u_j)
    powers: np.ndarray  # (d, m) the exponent of u_j


@functools.lru_cache(maxsize=64)
def _monomials(n_features, degree):
    combos = [()]
    for k in range(1, degree + 1):
        combos += list(itertools.combinations_with_replacement(range(n_features), k))
    index = {c: i for i, c in enumerate(combos)}
    m = len(combos)
    parent = np.zeros(m, dtype=np.intp)
    var = np.zeros(m, dtype=np.intp)
    lower = np.zeros((n_features, m), dtype=np.intp)
    powers = np.zeros((n_features, m))
    for i, c in enumerate(combos):
        if c:
            parent[i] = index[c[:-1]]
            var[i] = c[-1]
        for j in set(c):
            reduced = list(c)
            reduced.remove(j)
            lower[j, i] = index[tuple(reduced)]
            powers[j, i] = c.count(j)
    starts = np.array([n_poly_features(n_features, k - 1) if k else 0
                       for k in range(degree + 2)])
    return _Monomials(starts, parent, var, lower, powers)


def polynomial_features(U, degree):
    """Monomials of degree <= ``degree`` of the rows of U, bias first.

    Parameters
    ----------
    U : ndarray of shape (n_samples, n_features)
    degree : int

    Returns
    -------
    F : ndarray of shape (n_samples, n_poly_features(n_features, degree))
        The columns of ``PolynomialFeatures(degree).fit_transform(U)``, each
        degree's block built from the previous one with one product.
    """
    n_samples, n_features = U.shape
    mono = _monomials(n_features, degree)
    F = np.empty((n_samples, mono.starts[-1]))
    F[:, 0] = 1.0
    for k in range(1, degree + 1):
        lo, hi = mono.starts[k], mono.starts[k + 1]
        np.multiply(F[:, mono.parent[lo:hi]], U[:, mono.var[lo:hi]], out=F[:, lo:hi])
    return F


def polynomial_feature_derivative(F, j, n_features, degree):
    """Derivative of the monomials in ``u_j``, from the features themselves.

    Parameters
    ----------
    F : ndarray of shape (n_samples, m)
        ``polynomial_features(U, degree)``.
    j : int
        Variable to differentiate in.
    n_features, degree : int

    Returns
    -------
    dF : ndarray of shape (n_samples, m)
        ``d phi_i / d u_j = e_ij u^(e_i - 1_j)``, zero for the terms free of u_j.
    """
    mono = _monomials(n_features, degree)
    return F[:, mono.lower[j]] * mono.powers[j]


def ridge_solve(gram, cross, alpha, n_rows):
    """Ridge coefficients from the normal equations, intercept not penalised.

    Parameters
    ----------
    gram : ndarray of shape (m, m)
        ``F^T F`` for features F whose first column is the constant 1.
    cross : ndarray of shape (m, n_targets)
        ``F^T T``.
    alpha : float
        Penalty per row: the non-constant coefficients are penalised by
        ``alpha * n_rows |b|^2``, i.e. ``Ridge(alpha=alpha * n_rows)``.
    n_rows : int

    Returns
    -------
    coef : ndarray of shape (m, n_targets)
        Minimiser of ``|T - F B|^2 + alpha n_rows |B[1:]|^2``: the intercept
        and coefficients of ``Ridge(alpha * n_rows, fit_intercept=True)`` fitted
        on ``F[:, 1:]``.
    """
    lhs = gram.copy()
    idx = np.arange(1, lhs.shape[0])
    lhs[idx, idx] += alpha * n_rows
    try:
        return cho_solve(cho_factor(lhs), cross)
    except LinAlgError:
        return np.linalg.lstsq(lhs, cross, rcond=None)[0]


class MixtureBaseline(NamedTuple):
    """A Gaussian mixture with full covariances, ``C_k = V_k diag(lam_k) V_k^T``."""

    weights: np.ndarray  # (K,)
    means: np.ndarray  # (K, d)
    eigvals: np.ndarray  # (K, d)
    eigvecs: np.ndarray  # (K, d, d)


def fit_mixture_baseline(X, resp, reg=1e-6):
    """One M-step with full covariances: the mixture that ``resp`` describes.

    Parameters
    ----------
    X : ndarray of shape (n_samples, d)
    resp : ndarray of shape (n_samples, K)
        Posterior of each component for each point (rows sum to 1).
    reg : float
        Added to every covariance's eigenvalues (X is standardised).

    Returns
    -------
    baseline : MixtureBaseline
        Components with no responsibility get weight 0, the data's mean and
        covariance.
    """
    n_samples, n_features = X.shape
    mass = resp.sum(axis=0)
    K = resp.shape[1]
    means = np.empty((K, n_features))
    eigvals = np.empty((K, n_features))
    eigvecs = np.empty((K, n_features, n_features))
    overall_mean = X.mean(axis=0)
    overall_cov = np.atleast_2d(np.cov(X, rowvar=False, bias=True))
    for k in range(K):
        if mass[k] > 1e-12 * n_samples:
            means[k] = resp[:, k] @ X / mass[k]
            offsets = X - means[k]
            cov = (resp[:, k] * offsets.T) @ offsets / mass[k]
        else:
            means[k], cov = overall_mean, overall_cov
        vals, vecs = np.linalg.eigh(cov)
        eigvals[k], eigvecs[k] = np.maximum(vals, 0.0) + reg, vecs
    return MixtureBaseline(mass / mass.sum(), means, eigvals, eigvecs)


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


def _posterior_draw(baseline, P, var, w, sigma, random_state):
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
    return (_posterior_draw(baseline, P, var, w, sigma, random_state)
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


class PolyDenoiser(NamedTuple):
    """A fitted piecewise polynomial denoiser (see the module docstring).

    L trained levels, K cells, d features, m = n_poly_features(d, max degree).
    """

    centres: np.ndarray  # (K, d)
    blend_var: float  # width^2 of the soft cell boundaries (inf with one cell)
    sigmas: np.ndarray  # (L,) increasing
    baseline: MixtureBaseline  # the denoiser the corrections are added to
    mean: np.ndarray  # (d,) data mean
    eigvals: np.ndarray  # (d,) data covariance spectrum (the prior at the top level)
    eigvecs: np.ndarray  # (d, d)
    box_low: np.ndarray  # (d,) data bounding box, widened by BOX_MARGIN sd
    box_high: np.ndarray  # (d,)
    degrees: np.ndarray  # (L, K) int, per cell (cells beyond the level's count
    #                      and cells too small to fit: -1, the baseline alone)
    origin: np.ndarray  # (L, K, d) mean of the cell's noised points
    whiten: np.ndarray  # (L, K, d, d) W: u = W (y - origin)
    u_low: np.ndarray  # (L, K, d) training range of u
    u_high: np.ndarray  # (L, K, d)
    coef: np.ndarray  # (L, K, m, d) ridge coefficients (zero beyond the cell's degree)


def _cell_degree_cap(n_rows, n_features, degree):
    """Largest degree <= ``degree`` that ``n_rows`` pairs can fit; -1 if none.

    Degree p needs ``PAIRS_PER_FEATURE * n_poly_features(d, p)`` pairs; a
    constant (degree 0) needs two.
    """
    if n_rows < 2:
        return -1
    cap = 0
    for p in range(1, degree + 1):
        if n_rows >= PAIRS_PER_FEATURE * n_poly_features(n_features, p):
            cap = p
    return cap


def _whitening(Y):
    """Origin and whitening matrix of one cell's noised points Y, shape (n, d).

    Returns the mean ``origin`` (d,) and ``W`` (d, d) with ``W cov W^T = I`` on
    the principal axes; eigenvalues are floored at 1e-6 of their mean (plus a
    tiny absolute floor) so that degenerate cells stay finite.
    """
    origin = Y.mean(axis=0)
    centred = Y - origin
    cov = centred.T @ centred / max(len(Y) - 1, 1)
    vals, vecs = np.linalg.eigh(cov)
    floor = 1e-6 * max(vals.mean(), 0.0) + 1e-300
    vals = np.maximum(vals, floor)
    return origin, vecs.T / np.sqrt(vals)[:, np.newaxis]


def _fill_features(F, U, degree_from, degree):
    """Fill the columns of degrees ``degree_from + 1 .. degree`` of F in place.

    F has at least ``n_poly_features(d, degree)`` columns, those of degree
    <= ``degree_from`` already filled; each new degree's block is built from
    the one before it, as in :func:`polynomial_features`.
    """
    mono = _monomials(U.shape[1], degree)
    for k in range(degree_from + 1, degree + 1):
        lo, hi = mono.starts[k], mono.starts[k + 1]
        np.multiply(F[:, mono.parent[lo:hi]], U[:, mono.var[lo:hi]], out=F[:, lo:hi])


class _CellRegression:
    """One cell's ridge regression at one level, its degree raised a step at a time.

    Rows are split into train and held-out parts (stored train first, so each
    part is a slice). Each step adds only the new monomials' columns to the
    features and the new blocks to the normal sums; the held-out rows'
    features give their per-row errors, and the sums of both parts the final
    fit on all rows.
    """

    def __init__(self, U, T, is_val, group, cap, weight=None):
        order = np.argsort(is_val, kind="stable")
        self.U, self.T, self.cap = U[order], T[order], cap
        self.n_train = int(np.sum(~is_val))
        self.group_val = group[order][self.n_train:]
        # Row weights (None: all 1); the normal sums and the held-out errors
        # are weighted, the ridge penalty scales with the weights' sum.
        self.w = None if weight is None else weight[order]
        # Column-major: each degree's new columns are contiguous.
        self.F = np.empty((len(U), n_poly_features(U.shape[1], cap)), order="F")
        self.F[:, 0] = 1.0
        self.degree = 0
        if self.w is None:
            self.gram = [np.array([[float(len(part))]]) for part in self._parts(self.T)]
            self.cross = [part.sum(axis=0, keepdims=True) for part in self._parts(self.T)]
            self.mass = [float(len(part)) for part in self._parts(self.T)]
        else:
            self.gram = [np.array([[float(w.sum())]]) for w in self._parts(self.w)]
            self.cross = [(w @ T)[np.newaxis] for w, T in zip(self._parts(self.w),
                                                               self._parts(self.T))]
            self.mass = [float(w.sum()) for w in self._parts(self.w)]

    def _parts(self, A):
        return A[:self.n_train], A[self.n_train:]

    def grow(self, degree):
        """Extend features and sums to ``min(degree, cap)``."""
        degree = min(degree, self.cap)
        if degree <= self.degree:
            return
        d = self.U.shape[1]
        m_old, m = n_poly_features(d, self.degree), n_poly_features(d, degree)
        _fill_features(self.F, self.U, self.degree, degree)
        for part, (F, T) in enumerate(zip(self._parts(self.F[:, :m]), self._parts(self.T))):
            gram = np.empty((m, m))
            gram[:m_old, :m_old] = self.gram[part]
            new = F[:, m_old:]
            if self.w is not None:
                new = new * self._parts(self.w)[part][:, np.newaxis]
            block = F.T @ new  # (m, m - m_old)
            gram[:, m_old:] = block
            gram[m_old:, :m_old] = block[:m_old].T
            cross = np.empty((m, T.shape[1]))
            cross[:m_old] = self.cross[part]
            cross[m_old:] = new.T @ T
            self.gram[part], self.cross[part] = gram, cross
        self.degree = degree

    def heldout_errors(self, degree, alpha):
        """Squared error of each held-out row, fitted on the train rows at ``min(degree, cap)``."""
        T_val = self.T[self.n_train:]
        if degree < 0 or self.n_train < 2:
            errors = np.sum(T_val ** 2, axis=1)
        else:
            self.grow(degree)
            m = n_poly_features(self.U.shape[1], min(degree, self.cap))
            B = ridge_solve(self.gram[0][:m, :m], self.cross[0][:m], alpha, self.mass[0])
            errors = np.sum((T_val - self.F[self.n_train:, :m] @ B) ** 2, axis=1)
        return errors if self.w is None else errors * self.w[self.n_train:]

    def solve(self, degree, alpha):
        """Ridge coefficients on all rows at ``min(degree, cap)``, shape (m, d)."""
        self.grow(degree)
        m = n_poly_features(self.U.shape[1], min(degree, self.cap))
        return ridge_solve(self.gram[0][:m, :m] + self.gram[1][:m, :m],
                           self.cross[0][:m] + self.cross[1][:m], alpha,
                           self.mass[0] + self.mass[1])


def _significant_gain(errors_best, errors_new, groups, n_groups):
    """Whether ``errors_new`` is lower than ``errors_best`` by two standard errors.

    The held-out rows of one clean point share it (and antithetic noise), so
    the paired differences are summed per clean point before the t-statistic.
    """
    diff = np.bincount(groups, errors_best - errors_new, minlength=n_groups)
    used = np.bincount(groups, minlength=n_groups) > 0
    diff = diff[used]
    if len(diff) < 2:
        return False
    spread = diff.std(ddof=1)
    return bool(diff.mean() > SIGNIFICANCE * spread / np.sqrt(len(diff)))


def fit_level(X0, Y, cells, n_cells, G, degrees, alpha, is_val, groups=None,
              weights=None):
    """Fit the cells' corrections at one noise level.

    Parameters
    ----------
    X0 : ndarray of shape (n_pairs, d)
        Clean points.
    Y : ndarray of shape (n_pairs, d)
        Their noised versions ``X0 + sigma z``.
    cells : ndarray of shape (n_pairs,)
        Cell of each row of Y at this level, in ``range(n_cells)``.
    n_cells : int
        Number of cell slots (at least the number of cells).
    G : ndarray of shape (n_pairs, d)
        The baseline denoiser at the rows of Y.
    degrees : int or range
        A degree used as given, or ``range(-1, top + 1)``: the degree is then
        raised from -1 (no correction: the baseline alone) and a higher one
        kept only when it lowers the held-out squared error by more than
        ``SIGNIFICANCE`` standard errors of the paired difference (summed per
        clean point); the search stops after ``PATIENCE`` degrees beyond 1
        without such a gain.
    alpha : float
        Ridge penalty per row (see :func:`ridge_solve`).
    is_val : ndarray of shape (n_pairs,) bool
        Held-out rows for choosing the degree (ignored for a given degree). The
        final coefficients are fitted on all rows.
    groups : ndarray of shape (n_pairs,) of int or None
        Clean point of each row (rows of one point are not independent); None:
        every row its own.
    weights : ndarray of shape (n_pairs,) or None
        Positive weight of each row (frequency weights: a row of weight 2
        counts as two rows in the sums, the held-out errors and the pairs a
        degree needs); None: all 1.

    Returns
    -------
    level : dict
        ``degree`` (the level's degree), ``degrees`` (n_cells,), ``origin``
        (n_cells, d), ``whiten`` (n_cells, d, d), ``u_low``, ``u_high``
        (n_cells, d), ``coef`` (n_cells, m_max, d) and ``heldout``
        (top + 2,) held-out losses at degrees -1, 0, ..., top (NaN where not
        evaluated, and for a given degree).
    """
    n_features = Y.shape[1]
    select = not isinstance(degrees, Integral)
    top = max(degrees) if select else int(degrees)
    m_max = n_poly_features(n_features, top)
    if groups is None:
        groups = np.arange(len(Y))
    T = X0 - G
    out = {
        "degrees": np.full(n_cells, -1, dtype=np.intp),
        "origin": np.zeros((n_cells, n_features)),
        "whiten": np.tile(np.eye(n_features), (n_cells, 1, 1)),
        "u_low": np.zeros((n_cells, n_features)),
        "u_high": np.zeros((n_cells, n_features)),
        "coef": np.zeros((n_cells, m_max, n_features)),
    }
    order = np.argsort(cells, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(cells, minlength=n_cells))])
    fits, lone = {}, []
    for j in range(n_cells):
        rows = order[bounds[j]:bounds[j + 1]]
        # A weighted cell needs the pairs by weight and by distinct rows.
        n_eff = len(rows) if weights is None else min(len(rows), weights[rows].sum())
        cap = _cell_degree_cap(n_eff, n_features, top)
        val = is_val[rows] if select else np.zeros(len(rows), dtype=bool)
        if cap < 0:
            # Too few pairs: the baseline alone, whose held-out error is |T|^2.
            lone.append(rows[val])
            continue
        origin, W = _whitening(Y[rows])
        U = (Y[rows] - origin) @ W.T
        out["origin"][j], out["whiten"][j] = origin, W
        out["u_low"][j] = np.quantile(U, CLAMP_QUANTILE, axis=0)
        out["u_high"][j] = np.quantile(U, 1.0 - CLAMP_QUANTILE, axis=0)
        fits[j] = _CellRegression(U, T[rows], val, groups[rows], cap,
                                  None if weights is None else weights[rows])
    # heldout[p + 1]: the loss at degree p; p = -1 is the baseline alone.
    heldout = np.full(top + 2, np.nan)
    degree = top
    if select:
        lone = np.concatenate(lone + [np.zeros(0, dtype=np.intp)])
        val_groups = np.concatenate([groups[lone]] + [f.group_val for f in fits.values()])
        lone_errors = np.sum(T[lone] ** 2, axis=1)
        if weights is not None:
            lone_errors *= weights[lone]
        n_groups = int(groups.max()) + 1
        best, best_errors = None, None
        for p in degrees:
            errors = np.concatenate(
                [lone_errors] + [f.heldout_errors(p, alpha) for f in fits.values()])
            heldout[p + 1] = errors.sum()
            if best is None or _significant_gain(best_errors, errors, val_groups, n_groups):
                best, best_errors = p, errors
            elif p - max(best, 1) >= PATIENCE:
                # Degrees <= 1 are not judged by patience: the baseline is
                # (close to) the best linear denoiser, so constant and linear
                # terms add ~nothing even where quadratic ones help a lot.
                break
        degree = best
    if degree >= 0:
        for j, f in fits.items():
            B = f.solve(degree, alpha)
            out["coef"][j, :len(B)] = B
            out["degrees"][j] = min(degree, f.cap)
    out["degree"] = degree
    out["heldout"] = heldout
    return out


def fit_poly_denoiser(X0, centres, baseline, sigmas, degrees, alpha, n_noise_draws,
                      random_state, val_fraction=0.2, sample_weight=None):
    """Fit the piecewise polynomial denoiser at every level.

    Parameters
    ----------
    X0 : ndarray of shape (n_samples, d)
        Standardised training data.
    centres : ndarray of shape (K, d)
    baseline : MixtureBaseline
        Mixture whose exact denoiser the corrections are added to (a single
        component gives the best linear denoiser).
    sigmas : ndarray of shape (L,)
        Increasing VE noise levels.
    degrees : int or range
        A degree, or the range ``-1..top`` chosen from per level (see
        :func:`fit_level`).
    alpha : float
        Ridge penalty per row.
    n_noise_draws : int
        Noised copies of each point per level, drawn in antithetic pairs
        ``(z, -z)`` (the last one unpaired when odd).
    random_state : RandomState
    val_fraction : float
        Share of the clean points held out (with all their noised copies) to
        choose the degree.
    sample_weight : ndarray of shape (n_samples,) or None
        Positive frequency weight of each clean point, given to each of its
        noised copies (see :func:`fit_level`), and used in the data's mean,
        covariance and spread; None: all 1.

    Returns
    -------
    model : PolyDenoiser
    level_degrees : ndarray of shape (L,)
    heldout : ndarray of shape (L, top + 2)
        Held-out squared denoising error per pair, for each level and degree
        -1, 0, ..., top (NaN where not evaluated).
    """
    n_samples, n_features = X0.shape
    K = len(centres)
    w = sample_weight
    if w is None:
        mean = X0.mean(axis=0)
        cov = np.atleast_2d(np.cov(X0, rowvar=False, bias=True))
        spread = X0.std(axis=0)
    else:
        mean = np.average(X0, axis=0, weights=w)
        cov = np.atleast_2d(np.cov(X0, rowvar=False, bias=True, aweights=w))
        spread = np.sqrt(np.average((X0 - mean) ** 2, axis=0, weights=w))
    eigvals, eigvecs = np.linalg.eigh(cov)
    eigvals = np.maximum(eigvals, 0.0)
    X0_rep = np.tile(X0, (n_noise_draws, 1))
    val_point = np.zeros(n_samples, dtype=bool)
    if not isinstance(degrees, Integral):
        n_val = min(max(1, int(round(val_fraction * n_samples))), n_samples - 1)
        val_point[random_state.permutation(n_samples)[:n_val]] = True
    is_val = np.tile(val_point, n_noise_draws)
    groups = np.tile(np.arange(n_samples), n_noise_draws)
    row_weights = None if w is None else np.tile(w, n_noise_draws)
    levels = []
    for sigma in sigmas:
        # Draw 2i + 1 is the mirror image of draw 2i.
        z = np.empty((n_noise_draws, n_samples, n_features))
        z[0::2] = random_state.standard_normal((len(z[0::2]), n_samples, n_features))
        z[1::2] = -z[0:n_noise_draws - 1:2]
        Y = X0_rep + sigma * z.reshape(-1, n_features)
        cells = nearest_centre(Y, centres)
        G = mixture_denoise(baseline, Y, sigma)
        levels.append(fit_level(X0_rep, Y, cells, K, G, degrees, alpha, is_val, groups,
                                row_weights))
    model = PolyDenoiser(
        centres=np.array(centres, dtype=float),
        blend_var=blend_variance(centres),
        sigmas=np.asarray(sigmas, dtype=float),
        baseline=baseline,
        mean=mean,
        eigvals=eigvals,
        eigvecs=eigvecs,
        box_low=X0.min(axis=0) - BOX_MARGIN * spread,
        box_high=X0.max(axis=0) + BOX_MARGIN * spread,
        degrees=np.stack([lev["degrees"] for lev in levels]),
        origin=np.stack([lev["origin"] for lev in levels]),
        whiten=np.stack([lev["whiten"] for lev in levels]),
        u_low=np.stack([lev["u_low"] for lev in levels]),
        u_high=np.stack([lev["u_high"] for lev in levels]),
        coef=np.stack([lev["coef"] for lev in levels]),
    )
    if w is None:
        n_val_pairs = max(int(is_val.sum()), 1)
    else:
        n_val_pairs = float(row_weights[is_val].sum()) or 1.0
    heldout = np.stack([lev["heldout"] for lev in levels]) / n_val_pairs
    return model, np.array([lev["degree"] for lev in levels]), heldout


def level_weights(sigmas, sigma):
    """Trained levels and weights that interpolate at ``sigma`` in log(sigma).

    Returns a list of ``(level_index, weight)`` with positive weights summing
    to 1; outside the trained range the end level is used alone.

    Examples
    --------
    >>> from sklearn_ddpm_gmm._sampler._poly_score import level_weights
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


def cell_weights(Y, centres, blend_var):
    """Soft cell memberships: ``softmax_j(-|y - c_j|^2 / (2 blend_var))``.

    Weights below ``BLEND_CUTOFF`` times the row's largest are set to zero, so
    each row is evaluated in its nearest cell and those close to a boundary.

    Returns
    -------
    weights : ndarray of shape (n, K)
    """
    dist = cdist(Y, centres, "sqeuclidean")
    logits = -(dist - dist.min(axis=1, keepdims=True)) / (2.0 * blend_var)
    weights = np.exp(logits)
    weights[weights < BLEND_CUTOFF] = 0.0
    return weights / weights.sum(axis=1, keepdims=True)


def blend_variance(centres):
    """``(BLEND_WIDTH * median distance from a centre to its nearest other)^2``; inf for one."""
    if len(centres) < 2:
        return np.inf
    dist = cdist(centres, centres)
    np.fill_diagonal(dist, np.inf)
    return float((BLEND_WIDTH * np.median(dist.min(axis=1))) ** 2) or np.inf


def _level_correction(model, level, Y, weights, divergence):
    """Blended corrections ``R = sum_j w_j R_j`` and their derivatives at one level.

    Parameters
    ----------
    model : PolyDenoiser
    level : int
    Y : ndarray of shape (n, d)
    weights : ndarray of shape (n, K)
        Soft cell memberships (:func:`cell_weights`).
    divergence : bool

    Returns
    -------
    R : ndarray of shape (n, d)
    diag : ndarray of shape (n, d) or None
        ``sum_j w_j dR_ji / dy_i`` (clamped inputs contribute nothing).
    RH : ndarray of shape (n, d) or None
        ``sum_j w_j R_ji h_ji`` with ``h_j = -(y - c_j) / blend_var``, for the
        derivative of the weights (see :func:`denoise`).
    """
    n, d = Y.shape
    R = np.zeros((n, d))
    diag = np.zeros((n, d)) if divergence else None
    RH = np.zeros((n, d)) if divergence else None
    for j in range(len(model.centres)):
        p = model.degrees[level, j]
        rows = np.flatnonzero(weights[:, j])
        if len(rows) == 0 or p < 0:
            continue
        w = weights[rows, j][:, np.newaxis]
        m = n_poly_features(d, p)
        W = model.whiten[level, j]
        U = (Y[rows] - model.origin[level, j]) @ W.T
        U_low, U_high = model.u_low[level, j], model.u_high[level, j]
        Uc = np.clip(U, U_low, U_high)
        F = polynomial_features(Uc, p)
        B = model.coef[level, j, :m]
        R_j = F @ B
        R[rows] += w * R_j
        if not divergence:
            continue
        RH[rows] -= w * R_j * (Y[rows] - model.centres[j]) / model.blend_var
        if p > 0:
            inside = (U >= U_low) & (U <= U_high)
            cell_diag = np.zeros((len(rows), d))
            for k in range(d):
                dF = polynomial_feature_derivative(F, k, d, p)
                # dR_i/dy_i gets dR_i/du_k * du_k/dy_i = (dF B)_i W_ki.
                cell_diag += inside[:, k:k + 1] * (dF @ (B * W[k]))
            diag[rows] += w * cell_diag
    return R, diag, RH


def denoise(model, Y, sigma, divergence=False):
    """Posterior mean ``E[x0 | y]`` at VE level ``sigma`` and its divergence.

    Parameters
    ----------
    model : PolyDenoiser
    Y : ndarray of shape (n_samples, d)
        Noised points (VE coordinates).
    sigma : float
        Noise level, > 0; interpolated between trained levels in log(sigma).
    divergence : bool, default=False
        Also return ``sum_i dD_i / dy_i``.

    Returns
    -------
    D : ndarray of shape (n_samples, d)
        Denoised points, inside the (widened) bounding box of the data.
    div : ndarray of shape (n_samples,)
        Only when ``divergence``; exact for the fitted (clamped) function.
    """
    if divergence:
        D, diag = mixture_denoise(model.baseline, Y, sigma, divergence=True)
        return _corrected(model, Y, sigma, D, diag)
    return _corrected(model, Y, sigma, mixture_denoise(model.baseline, Y, sigma))


def draw_clean_point(model, Y, sigma, random_state):
    """A draw of x0 given ``y``: the fitted denoiser plus the mixture posterior's spread.

    Its mean is :func:`denoise`'s ``D``; its deviation from ``D`` is that of a
    draw from the baseline mixture's posterior from its mean (see
    :func:`mixture_posterior_deviation`), both from one evaluation of the
    mixture's posteriors. Shape (n_samples, d).
    """
    P, var, w = _noised_posteriors(model.baseline, Y, sigma)
    D = _posterior_mean(model.baseline, P, var, w)
    deviation = _posterior_draw(model.baseline, P, var, w, sigma, random_state) - D
    return _corrected(model, Y, sigma, D) + deviation


def _corrected(model, Y, sigma, D, diag=None):
    """Add the cells' corrections to the mixture's ``D`` (in place) and clamp it to the box.

    ``diag`` (n, d), the mixture's Jacobian diagonal, or None; with it, also
    returns the divergence of the result.
    """
    divergence = diag is not None
    weights = cell_weights(Y, model.centres, model.blend_var)
    if divergence:
        # d w_j / dy_i = w_j (h_ji - hbar_i): hbar, the weights' mean of h.
        hbar = -(Y - weights @ model.centres) / model.blend_var
    for level, weight in level_weights(model.sigmas, sigma):
        R, dR, RH = _level_correction(model, level, Y, weights, divergence)
        D += weight * R
        if divergence:
            diag += weight * (dR + RH - R * hbar)
    inside = (D >= model.box_low) & (D <= model.box_high)
    np.clip(D, model.box_low, model.box_high, out=D)
    if not divergence:
        return D
    return D, np.sum(diag * inside, axis=1)
