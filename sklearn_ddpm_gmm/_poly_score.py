"""The piecewise polynomial denoiser of Gatmiry, Kelner & Lee (2024).

Everything here works in the variance-exploding (VE) coordinates of the forward
process: a clean point ``x0`` noised to level ``sigma`` is ``y = x0 + sigma z``
with ``z ~ N(0, I)``. The package's variance-preserving level ``t`` maps to
``sigma = sqrt(exp(2 t) - 1)`` and its noised point ``x_t = a x0 + s z`` to
``y = x_t / a`` (see :mod:`._reverse`), so the two forms describe the same
model and convert at the estimator's boundary.

The model of the posterior mean ``D(y, sigma) = E[x0 | y]`` (the denoiser) at
one trained level is

    D(y) = clip_box(G_sigma(y) + R_j(y)),   j = the Voronoi cell of y,

- ``G_sigma(y) = m + A_sigma (y - m)``, ``A_sigma = S (S + sigma^2 I)^-1``: the
  posterior mean for Gaussian data with the training data's mean m and covariance
  S (the best linear denoiser). It is the baseline that the ridge penalty
  shrinks towards, and the whole model in cells too small to fit anything.
- ``R_j(y) = B_j^T phi(clip(u))``: a ridge regression, fitted in cell j, of the
  residual ``x0 - G_sigma(y)`` on the monomials ``phi`` of degree <= p (in
  scikit-learn's PolynomialFeatures order) of the cell's standardised offset
  ``u = W_j (y - c_j - shift_j)`` from the centre ``c_j``: the offset less its
  mean over the cell, whitened by the cell's covariance (this changes the
  conditioning, not the span of the polynomials). At evaluation each ``u``
  coordinate is clamped to the range seen in training for that cell and level.
- ``clip_box``: the clamp to the training data's bounding box, where every
  posterior mean lies.

Centres are fixed across levels: in VE coordinates the paper's centre
``a mu`` at VP level t is ``mu`` itself, so a point's cell does not depend on
the level. Between trained levels the corrections R are interpolated linearly
in ``log sigma`` while ``G_sigma`` is exact at every sigma. The divergence of D
in y is exact (the clamps contribute zero derivative where active).
"""

import functools
import itertools
import math
from typing import NamedTuple

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from scipy.spatial.distance import cdist

# A cell fits degree p only with this many (noised) pairs per polynomial term.
PAIRS_PER_FEATURE = 10
# Rows of the feature matrix built at once when accumulating normal equations.
_CHUNK_ROWS = 8192


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


def gaussian_denoiser_matrix(eigvals, eigvecs, sigma):
    """``A_sigma = S (S + sigma^2 I)^-1`` for ``S = V diag(eigvals) V^T``, shape (d, d)."""
    shrink = eigvals / (eigvals + sigma * sigma)
    return (eigvecs * shrink) @ eigvecs.T


def nearest_centre(Y, centres):
    """Voronoi cell (index of the nearest centre) of each row of Y, shape (n,)."""
    return np.argmin(cdist(Y, centres, "sqeuclidean"), axis=1)


class PolyDenoiser(NamedTuple):
    """A fitted piecewise polynomial denoiser (see the module docstring).

    L trained levels, K cells, d features, m = n_poly_features(d, max degree).
    """

    centres: np.ndarray  # (K, d)
    sigmas: np.ndarray  # (L,) increasing
    mean: np.ndarray  # (d,) data mean
    eigvals: np.ndarray  # (d,) data covariance spectrum
    eigvecs: np.ndarray  # (d, d)
    box_low: np.ndarray  # (d,) data bounding box
    box_high: np.ndarray  # (d,)
    degrees: np.ndarray  # (L, K) int; -1: no correction (baseline only)
    shift: np.ndarray  # (L, K, d) mean offset of the cell's noised points
    whiten: np.ndarray  # (L, K, d, d) W: u = W (y - c - shift)
    u_low: np.ndarray  # (L, K, d) training range of u
    u_high: np.ndarray  # (L, K, d)
    coef: np.ndarray  # (L, K, m, d) ridge coefficients (zero beyond the cell's degree)

    @property
    def max_degree(self):
        return int(max(self.degrees.max(), 0))


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


def _whitening(offsets):
    """Mean, whitening matrix and eigen-floor for one cell's offsets, shape (n, d).

    Returns ``shift`` (d,) and ``W`` (d, d) with ``W cov W^T = I`` on the
    principal axes; eigenvalues are floored at 1e-6 of their mean (plus a tiny
    absolute floor) so that degenerate cells stay finite.
    """
    shift = offsets.mean(axis=0)
    centred = offsets - shift
    cov = centred.T @ centred / max(len(offsets) - 1, 1)
    vals, vecs = np.linalg.eigh(cov)
    floor = 1e-6 * max(vals.mean(), 0.0) + 1e-300
    vals = np.maximum(vals, floor)
    return shift, vecs.T / np.sqrt(vals)[:, np.newaxis]


class _CellStats(NamedTuple):
    """Normal-equation sums of one cell at one level (train and held-out rows)."""

    cap: int
    n_train: int
    n_all: int
    gram_train: np.ndarray  # (m, m)
    cross_train: np.ndarray  # (m, d)
    gram_val: np.ndarray
    cross_val: np.ndarray
    tt_val: float  # sum of squared held-out targets


def _accumulate(U, T, is_val, degree):
    """Normal-equation sums over the rows of one cell, in chunks of rows.

    Parameters
    ----------
    U : ndarray of shape (n, d)
        Standardised offsets.
    T : ndarray of shape (n, d)
        Regression targets.
    is_val : ndarray of shape (n,) bool
        Held-out rows (excluded from the train sums).
    degree : int

    Returns
    -------
    gram_train, cross_train, gram_val, cross_val, tt_val
    """
    m = n_poly_features(U.shape[1], degree)
    sums = [np.zeros((m, m)), np.zeros((m, T.shape[1])),
            np.zeros((m, m)), np.zeros((m, T.shape[1]))]
    for start in range(0, len(U), _CHUNK_ROWS):
        sl = slice(start, start + _CHUNK_ROWS)
        F = polynomial_features(U[sl], degree)
        Tc, val = T[sl], is_val[sl]
        for part, mask in ((0, ~val), (2, val)):
            if mask.any():
                Fm = F[mask]
                sums[part] += Fm.T @ Fm
                sums[part + 1] += Fm.T @ Tc[mask]
    tt_val = float(np.sum(T[is_val] ** 2))
    return (*sums, tt_val)


def _heldout_loss(stats, degree, alpha, n_features):
    """Held-out squared error of one cell fitted at ``min(degree, cap)``."""
    p = min(degree, stats.cap)
    if stats.n_train < 2 or stats.tt_val == 0.0 or p < 0:
        # Nothing to fit on: the held-out rows keep the baseline's error.
        return stats.tt_val
    m = n_poly_features(n_features, p)
    B = ridge_solve(stats.gram_train[:m, :m], stats.cross_train[:m], alpha, stats.n_train)
    # |T - F B|^2 summed over the held-out rows, from their normal-equation sums.
    loss = (stats.tt_val - 2.0 * np.sum(B * stats.cross_val[:m])
            + np.sum(B * (stats.gram_val[:m, :m] @ B)))
    return max(float(loss), 0.0)


def fit_level(X0, Y, cells, centres, A, mean, degree_candidates, alpha, is_val):
    """Fit the cells' corrections at one noise level.

    Parameters
    ----------
    X0 : ndarray of shape (n_pairs, d)
        Clean points.
    Y : ndarray of shape (n_pairs, d)
        Their noised versions ``X0 + sigma z``.
    cells : ndarray of shape (n_pairs,)
        Voronoi cell of each row of Y.
    centres : ndarray of shape (K, d)
    A : ndarray of shape (d, d)
        The Gaussian baseline's matrix at this level.
    mean : ndarray of shape (d,)
        Data mean (the baseline's centre).
    degree_candidates : sequence of int
        One degree (used as given) or several, of which the one with the least
        held-out squared error summed over cells is kept.
    alpha : float
        Ridge penalty per row (see :func:`ridge_solve`).
    is_val : ndarray of shape (n_pairs,) bool
        Held-out rows; used only when there are several candidates. The final
        coefficients are fitted on all rows.

    Returns
    -------
    level : dict
        ``degree`` (the level's degree), ``degrees`` (K,), ``shift`` (K, d),
        ``whiten`` (K, d, d), ``u_low``, ``u_high`` (K, d), ``coef``
        (K, m_max, d) and ``heldout`` (len(degree_candidates),) held-out losses
        (NaN when a single degree is given).
    """
    n_features = Y.shape[1]
    K = centres.shape[0]
    top = max(degree_candidates)
    m_max = n_poly_features(n_features, top)
    select = len(degree_candidates) > 1
    T = X0 - (mean + (Y - mean) @ A.T)
    out = {
        "degrees": np.full(K, -1, dtype=np.intp),
        "shift": np.zeros((K, n_features)),
        "whiten": np.tile(np.eye(n_features), (K, 1, 1)),
        "u_low": np.zeros((K, n_features)),
        "u_high": np.zeros((K, n_features)),
        "coef": np.zeros((K, m_max, n_features)),
    }
    order = np.argsort(cells, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(cells, minlength=K))])
    stats = []
    for j in range(K):
        rows = order[bounds[j]:bounds[j + 1]]
        n_all = len(rows)
        val = is_val[rows] if select else np.zeros(n_all, dtype=bool)
        cap = _cell_degree_cap(n_all, n_features, top)
        if cap < 0:
            # Too few pairs: the baseline alone, whose held-out error is tt.
            stats.append(float(np.sum(T[rows][val] ** 2)))
            continue
        shift, W = _whitening(Y[rows] - centres[j])
        U = (Y[rows] - centres[j] - shift) @ W.T
        out["shift"][j], out["whiten"][j] = shift, W
        out["u_low"][j], out["u_high"][j] = U.min(axis=0), U.max(axis=0)
        sums = _accumulate(U, T[rows], val, cap)
        stats.append(_CellStats(cap, int(n_all - val.sum()), n_all, *sums))
    if select:
        heldout = np.array([
            sum(_heldout_loss(s, p, alpha, n_features) if isinstance(s, _CellStats)
                else s for s in stats)
            for p in degree_candidates
        ])
        degree = degree_candidates[int(np.argmin(heldout))]
    else:
        heldout = np.full(len(degree_candidates), np.nan)
        degree = degree_candidates[0]
    for j, s in enumerate(stats):
        if not isinstance(s, _CellStats):
            continue
        p = min(degree, s.cap)
        m = n_poly_features(n_features, p)
        gram = s.gram_train[:m, :m] + s.gram_val[:m, :m]
        cross = s.cross_train[:m] + s.cross_val[:m]
        out["coef"][j, :m] = ridge_solve(gram, cross, alpha, s.n_all)
        out["degrees"][j] = p
    out["degree"] = degree
    out["heldout"] = heldout
    return out


def fit_poly_denoiser(X0, centres, sigmas, degree_candidates, alpha, n_noise_draws,
                      random_state, val_fraction=0.2):
    """Fit the piecewise polynomial denoiser at every level.

    Parameters
    ----------
    X0 : ndarray of shape (n_samples, d)
        Standardised training data.
    centres : ndarray of shape (K, d)
    sigmas : ndarray of shape (L,)
        Increasing VE noise levels.
    degree_candidates : sequence of int
        A single degree, or candidates chosen from per level by held-out loss.
    alpha : float
        Ridge penalty per row.
    n_noise_draws : int
        Noised copies of each point per level; drawn in antithetic pairs
        ``(z, -z)`` (plus one unpaired draw when odd).
    random_state : RandomState
    val_fraction : float
        Share of the clean points held out (with all their noised copies) to
        choose the degree.

    Returns
    -------
    model : PolyDenoiser
    level_degrees : ndarray of shape (L,)
    heldout : ndarray of shape (L, len(degree_candidates))
        Held-out squared denoising error per pair, for each level and candidate.
    """
    n_samples, n_features = X0.shape
    mean = X0.mean(axis=0)
    cov = np.atleast_2d(np.cov(X0, rowvar=False, bias=True))
    eigvals, eigvecs = np.linalg.eigh(cov)
    eigvals = np.maximum(eigvals, 0.0)
    X0_rep = np.tile(X0, (n_noise_draws, 1))
    is_val = np.zeros(n_samples, dtype=bool)
    if len(degree_candidates) > 1:
        n_val = min(max(1, int(round(val_fraction * n_samples))), n_samples - 1)
        is_val[random_state.permutation(n_samples)[:n_val]] = True
    is_val = np.tile(is_val, n_noise_draws)
    n_pairs = n_noise_draws // 2
    levels = []
    for sigma in sigmas:
        z = random_state.standard_normal((n_samples * (n_noise_draws - n_pairs), n_features))
        z = np.concatenate([z[:n_samples * n_pairs], -z[:n_samples * n_pairs],
                            z[n_samples * n_pairs:]])
        Y = X0_rep + sigma * z
        cells = nearest_centre(Y, centres)
        A = gaussian_denoiser_matrix(eigvals, eigvecs, sigma)
        levels.append(fit_level(X0_rep, Y, cells, centres, A, mean,
                                degree_candidates, alpha, is_val))
    m_max = n_poly_features(n_features, max(degree_candidates))
    model = PolyDenoiser(
        centres=np.array(centres, dtype=float),
        sigmas=np.asarray(sigmas, dtype=float),
        mean=mean,
        eigvals=eigvals,
        eigvecs=eigvecs,
        box_low=X0.min(axis=0),
        box_high=X0.max(axis=0),
        degrees=np.stack([lev["degrees"] for lev in levels]),
        shift=np.stack([lev["shift"] for lev in levels]),
        whiten=np.stack([lev["whiten"] for lev in levels]),
        u_low=np.stack([lev["u_low"] for lev in levels]),
        u_high=np.stack([lev["u_high"] for lev in levels]),
        coef=np.stack([lev["coef"] for lev in levels]).reshape(
            len(sigmas), centres.shape[0], m_max, n_features),
    )
    n_val_pairs = max(int(is_val.sum()), 1)
    heldout = np.stack([lev["heldout"] for lev in levels]) / n_val_pairs
    return model, np.array([lev["degree"] for lev in levels]), heldout


def level_weights(sigmas, sigma):
    """Trained levels and weights that interpolate at ``sigma`` in log(sigma).

    Returns a list of ``(level_index, weight)`` with positive weights summing
    to 1; outside the trained range the end level is used alone.
    """
    if sigma <= sigmas[0]:
        return [(0, 1.0)]
    if sigma >= sigmas[-1]:
        return [(len(sigmas) - 1, 1.0)]
    hi = int(np.searchsorted(sigmas, sigma))
    if np.isclose(sigma, sigmas[hi], rtol=1e-12, atol=0.0):
        return [(hi, 1.0)]
    lo = hi - 1
    w = (np.log(sigma) - np.log(sigmas[lo])) / (np.log(sigmas[hi]) - np.log(sigmas[lo]))
    return [(lo, 1.0 - w), (hi, w)]


def _level_correction(model, level, Y, bounds, divergence):
    """Corrections R and the diagonal of dR/dy at one level.

    Parameters
    ----------
    model : PolyDenoiser
    level : int
    Y : ndarray of shape (n, d)
        Points sorted by cell; cell j's rows are ``bounds[j]:bounds[j + 1]``.
    bounds : ndarray of shape (K + 1,)
    divergence : bool

    Returns
    -------
    R : ndarray of shape (n, d)
    diag : ndarray of shape (n, d) or None
        ``dR_i / dy_i`` (clamped inputs contribute nothing).
    """
    n, d = Y.shape
    R = np.zeros((n, d))
    diag = np.zeros((n, d)) if divergence else None
    for j in range(len(bounds) - 1):
        lo, hi = bounds[j], bounds[j + 1]
        p = model.degrees[level, j]
        if hi == lo or p < 0:
            continue
        m = n_poly_features(d, p)
        W = model.whiten[level, j]
        U = (Y[lo:hi] - model.centres[j] - model.shift[level, j]) @ W.T
        U_low, U_high = model.u_low[level, j], model.u_high[level, j]
        Uc = np.clip(U, U_low, U_high)
        F = polynomial_features(Uc, p)
        B = model.coef[level, j, :m]
        R[lo:hi] = F @ B
        if divergence and p > 0:
            inside = (U >= U_low) & (U <= U_high)
            for k in range(d):
                dF = polynomial_feature_derivative(F, k, d, p)
                # dR_i/dy_i gets dR_i/du_k * du_k/dy_i = (dF B)_i W_ki.
                diag[lo:hi] += inside[:, k:k + 1] * (dF @ (B * W[k]))
    return R, diag


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
        Denoised points, inside the data's bounding box.
    div : ndarray of shape (n_samples,)
        Only when ``divergence``; exact for the fitted (clamped) function.
    """
    n, d = Y.shape
    cells = nearest_centre(Y, model.centres)
    order = np.argsort(cells, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(cells, minlength=len(model.centres)))])
    Ys = Y[order]
    A = gaussian_denoiser_matrix(model.eigvals, model.eigvecs, sigma)
    D = model.mean + (Ys - model.mean) @ A.T
    diag = np.tile(np.diag(A), (n, 1)) if divergence else None
    for level, weight in level_weights(model.sigmas, sigma):
        R, dR = _level_correction(model, level, Ys, bounds, divergence)
        D += weight * R
        if divergence:
            diag += weight * dR
    inside = (D >= model.box_low) & (D <= model.box_high)
    np.clip(D, model.box_low, model.box_high, out=D)
    out = np.empty_like(D)
    out[order] = D
    if not divergence:
        return out
    div = np.empty(n)
    div[order] = np.sum(diag * inside, axis=1)
    return out, div
