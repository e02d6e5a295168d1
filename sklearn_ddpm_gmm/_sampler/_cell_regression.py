"""One noise level's regression of the denoising residual in each cell, and the degree test.

In each Voronoi cell the residual ``x0 - G(y)`` (Tweedie's label less the
baseline mixture's denoiser) is ridge-regressed on the monomials of the noised
point's whitened offset. With ``degree="auto"`` the degree is raised a step at
a time while a paired test on held-out clean points says it helps; a cell with
too few pairs for a degree falls back to a lower one.
"""

from numbers import Integral

import numpy as np

from ._features import fill_features, n_poly_features, ridge_solve, whitening

# A cell fits degree p only with this many (noised) pairs per polynomial term.
PAIRS_PER_FEATURE = 10
# degree="auto" takes a higher degree only if it lowers the held-out loss by
# this many standard errors of the paired difference (a one-sided test at
# about 2%): a relative threshold on the loss, which at large noise is almost
# all irreducible, kept the mixture's denoiser alone where corrections helped.
SIGNIFICANCE = 2.0
# degree="auto" stops raising the degree once the held-out loss has not
# improved for this many degrees in a row (counted from degree 1).
# Ring, 4 cells: held-out log-likelihood -0.58 with 1, -0.27 with 2.
PATIENCE = 2
# Feature inputs are clamped to the [q, 1 - q] quantiles of the cell's training
# offsets at that level, not to their full range: high-degree fits swing near
# the few extreme points. Two moons: density mass 3119 with the full range, 0.99-1.01 here.
CLAMP_QUANTILE = 0.005
# degree="auto" chooses, at each level, among 0..p where p is the largest degree
# <= _AUTO_MAX_DEGREE whose monomials number at most _AUTO_MAX_TERMS (2-D: 10,
# 3-D: 7, 5-D: 4, 10-D: 2, 15-D and up: 1): the normal equations cost
# n_pairs * n_terms^2 per level.
# Two moons: held-out log-likelihood -0.50 with a cap of 6, -0.42 with 10.
_AUTO_MAX_DEGREE = 10
_AUTO_MAX_TERMS = 128
# Entries (rows x monomials) of one block of a cell's features: 16 MB; a
# cell of up to ~31 000 pairs at 66 monomials is one block.
_FEATURE_BLOCK_ELEMENTS = 1 << 21


def auto_max_degree(n_features):
    """Highest degree that ``degree="auto"`` considers for ``n_features`` features.

    Examples
    --------
    >>> from sklearn_ddpm_gmm._sampler._cell_regression import auto_max_degree
    >>> auto_max_degree(2), auto_max_degree(5), auto_max_degree(10), auto_max_degree(20)
    (10, 4, 2, 1)
    """
    top = 1
    for p in range(2, _AUTO_MAX_DEGREE + 1):
        if n_poly_features(n_features, p) <= _AUTO_MAX_TERMS:
            top = p
    return top


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


class _CellRegression:
    """One cell's ridge regression at one level, its degree raised a step at a time.

    Rows are split into train and held-out parts (stored train first, so each
    part is a slice). Each step adds only the new monomials' blocks to the
    normal sums; the held-out rows' features give their per-row errors, and
    the sums of both parts the final fit on all rows. The features are built
    from the offsets block by block of rows when needed, never held whole
    (a million rows of a 2-D ring: 66 monomials, 2 GB).
    """

    def __init__(self, U, T, is_val, *, group, cap, weight=None):
        order = np.argsort(is_val, kind="stable")
        self.U, self.T, self.cap = U[order], T[order], cap
        self.n_train = int(np.sum(~is_val))
        self.group_val = group[order][self.n_train:]
        # Row weights (None: all 1); the normal sums and the held-out errors
        # are weighted, the ridge penalty scales with the weights' sum.
        self.w = None if weight is None else weight[order]
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

    def _blocks(self, part, degree):
        """``(rows, F)``: slices of a part's rows and their monomials of degree
        <= ``degree`` (column-major: each degree's columns contiguous)."""
        lo, hi = (0, self.n_train) if part == 0 else (self.n_train, len(self.U))
        m = n_poly_features(self.U.shape[1], degree)
        step = max(1, _FEATURE_BLOCK_ELEMENTS // m)
        for start in range(lo, hi, step):
            rows = slice(start, min(start + step, hi))
            F = np.empty((rows.stop - rows.start, m), order="F")
            F[:, 0] = 1.0
            fill_features(F, self.U[rows], 0, degree)
            yield rows, F

    def grow(self, degree):
        """Extend the normal sums to ``min(degree, cap)``."""
        degree = min(degree, self.cap)
        if degree <= self.degree:
            return
        d = self.U.shape[1]
        m_old, m = n_poly_features(d, self.degree), n_poly_features(d, degree)
        for part in (0, 1):
            block = np.zeros((m, m - m_old))
            cross_new = np.zeros((m - m_old, self.T.shape[1]))
            for i, (rows, F) in enumerate(self._blocks(part, degree)):
                new = F[:, m_old:]
                if self.w is not None:
                    new = new * self.w[rows][:, np.newaxis]
                # The first block's products as they are (one block: the
                # unblocked sums, to the bit).
                products = F.T @ new, new.T @ self.T[rows]
                if i == 0:
                    block, cross_new = products
                else:
                    block += products[0]
                    cross_new += products[1]
            gram = np.empty((m, m))
            gram[:m_old, :m_old] = self.gram[part]
            gram[:, m_old:] = block
            gram[m_old:, :m_old] = block[:m_old].T
            cross = np.empty((m, self.T.shape[1]))
            cross[:m_old] = self.cross[part]
            cross[m_old:] = cross_new
            self.gram[part], self.cross[part] = gram, cross
        self.degree = degree

    def heldout_errors(self, degree, alpha):
        """Squared error of each held-out row, fitted on the train rows at ``min(degree, cap)``."""
        T_val = self.T[self.n_train:]
        if degree < 0 or self.n_train < 2:
            errors = np.sum(T_val ** 2, axis=1)
        else:
            self.grow(degree)
            degree = min(degree, self.cap)
            m = n_poly_features(self.U.shape[1], degree)
            B = ridge_solve(self.gram[0][:m, :m], self.cross[0][:m], alpha, self.mass[0])
            errors = np.empty(len(T_val))
            for rows, F in self._blocks(1, degree):
                errors[rows.start - self.n_train:rows.stop - self.n_train] = np.sum(
                    (self.T[rows] - F @ B) ** 2, axis=1)
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


def fit_level(X0, Y, cells, *, n_cells, G, degrees, alpha, is_val, groups=None,
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
        origin, W = whitening(Y[rows])
        U = (Y[rows] - origin) @ W.T
        out["origin"][j], out["whiten"][j] = origin, W
        out["u_low"][j] = np.quantile(U, CLAMP_QUANTILE, axis=0)
        out["u_high"][j] = np.quantile(U, 1.0 - CLAMP_QUANTILE, axis=0)
        fits[j] = _CellRegression(U, T[rows], val, group=groups[rows], cap=cap,
                                  weight=None if weights is None else weights[rows])
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
