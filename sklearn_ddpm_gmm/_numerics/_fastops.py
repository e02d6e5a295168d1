"""Reductions on tall (n, K) arrays, the element-wise work that dominates a pass.

numpy's axis reductions over a short axis (``A.sum(axis=1)`` with K = 4) and
scipy's ``logsumexp`` (array-API dispatch, NaN handling) cost 5-40x a matrix
product with a vector of ones on the same (n, K) array; a pass makes a dozen
of them, so they decide its time (``benchmarks/bench_scaling.py passes``).

The project's log-sum-exp lives here: :func:`log_normalise` for (n, K)
log-probabilities, its in-place (K, n) variant :func:`posteriors_in_place`,
and :func:`log_softmax` for the (K,) weight logits.
"""

import numpy as np

# Smallest positive value put under a log or a division: far above float64's
# smallest normal number (2.2e-308), far below any quantity a fit computes.
TINY = 1e-300
# exp(x) below the smallest normal number (x < -708.4 in float64, -87.3 in
# float32) takes numpy's slow path, and its subnormal results slow every
# later product with them: posteriors of 10^5 rows of well-separated
# components cost 3x. Exponents are clipped at the next integer up and the
# clipped value's exponential taken off: such a posterior is 0, none moves
# by more than e times the smallest normal number (6e-308 in float64), and
# those above 2^53 times that (2e-291) are unchanged.
_LOWEST_EXPONENTS = {np.dtype(t): float(np.ceil(np.log(np.finfo(t).tiny)))
                     for t in (np.float32, np.float64)}


def row_sums(A):
    """``A.sum(axis=1)`` for A of shape (n, m), as a matrix-vector product."""
    return A @ np.ones(A.shape[1], dtype=A.dtype)


def column_sums(A):
    """``A.sum(axis=0)`` for A of shape (n, m), as a vector-matrix product."""
    return np.ones(A.shape[0], dtype=A.dtype) @ A


# Widest rows for which row_dots multiplies and then sums with a product.
_NARROW_ROWS = 16


def row_dots(A, B):
    """``(A * B).sum(axis=1)`` for A, B of shape (n, m).

    einsum's inner loop runs over the m entries of a row: for narrow rows
    (m <= 16) the element-wise product followed by a product with a vector
    of ones costs 0.2-0.7x as much (8192 rows, m = 2..16); for wide rows
    einsum avoids the (n, m) temporary and is faster.
    """
    if A.shape[1] <= _NARROW_ROWS:
        return np.multiply(A, B) @ np.ones(A.shape[1], dtype=np.result_type(A, B))
    return np.einsum("ij,ij->i", A, B)


def log_normalise(log_prob, *, overwrite=False):
    """Row-wise log-sum-exp and posteriors of unnormalised log-probabilities.

    Parameters
    ----------
    log_prob : ndarray of shape (n, K)
    overwrite : bool, default=False
        Whether the posteriors may be computed in log_prob's memory (a
        caller's temporary), the same numbers without a fresh array.

    Returns
    -------
    log_norm : ndarray of shape (n,)
        ``log sum_k exp(log_prob[:, k])``.
    resp : ndarray of shape (n, K)
        ``exp(log_prob - log_norm)``; the exponentials are computed once and
        serve both outputs.
    """
    top = log_prob[:, 0].copy()
    for k in range(1, log_prob.shape[1]):  # K strided maxima beat max(axis=1)
        np.maximum(top, log_prob[:, k], out=top)
    # A row of -inf (no component can explain it) must not become NaN here.
    top[~np.isfinite(top)] = 0.0
    # In place where the memory is already ours: a fresh (n, K) array for
    # the exponentials took up to two thirds of this function's time (page
    # faults, 10^5 rows; none once the allocator reuses freed memory).
    if overwrite:
        resp = log_prob
        resp -= top[:, np.newaxis]
    else:
        resp = log_prob - top[:, np.newaxis]
    _exp_flushed(resp)
    total = row_sums(resp)
    resp /= total[:, np.newaxis]
    with np.errstate(divide="ignore"):
        np.log(total, out=total)
    total += top
    return total, resp


def _exp_flushed(a):
    """``exp(a)`` in place for ``a <= 0``, with results below the smallest
    normal number flushed to 0 (see ``_LOWEST_EXPONENTS``)."""
    lowest = _LOWEST_EXPONENTS.get(a.dtype)
    if lowest is None:  # another floating type: as numpy computes it
        np.exp(a, out=a)
        return
    np.maximum(a, lowest, out=a)
    np.exp(a, out=a)
    a -= np.exp(a.dtype.type(lowest))


def posteriors_in_place(log_prob):
    """:func:`log_normalise`'s posteriors for log-probabilities laid out
    (K, n), computed in log_prob's memory, which is returned.

    A variant, not a call: the spherical pass reuses its (K, n) arrays to
    bound its memory, and multiplies by reciprocals (a division costs twice a
    product there), so it rounds differently from :func:`log_normalise`.
    """
    top = log_prob.max(axis=0)
    top[~np.isfinite(top)] = 0.0  # a row no component explains stays finite
    log_prob -= top
    _exp_flushed(log_prob)
    log_prob *= 1.0 / log_prob.sum(axis=0)
    return log_prob


def log_softmax(logits):
    """``logits - logsumexp(logits)`` for a short vector, shape (K,): the log
    weights of a mixture, rounded as scipy's ``logsumexp`` rounds them (the
    largest terms are summed apart, ``log1p`` of the rest), without its
    array-API dispatch (~0.5 ms a call, once per block of a pass)."""
    top = logits.max()
    is_top = logits == top
    n_top = logits.dtype.type(np.count_nonzero(is_top))
    rest = np.exp(np.where(is_top, -np.inf, logits) - top).sum()
    if rest != 0:
        rest = rest / n_top
    return logits - (np.log1p(rest) + np.log(n_top) + top)


# Rows folded into one when reducing over rows (see _column_reduce).
_FOLD = 256


def _column_reduce(ufunc, X):
    """``ufunc.reduce(X, axis=0)`` for X of shape (n, d), C-contiguous.

    Reducing over rows of a narrow array runs numpy's inner loop over d
    elements only (4x slower than a contiguous reduction at d = 10): rows are
    first folded ``_FOLD`` at a time into wide rows, reduced, then unfolded.
    """
    n, d = X.shape
    m = (n // _FOLD) * _FOLD
    if m == 0 or not X.flags.c_contiguous:
        return ufunc.reduce(X, axis=0)
    folded = ufunc.reduce(X[:m].reshape(m // _FOLD, _FOLD * d), axis=0)
    result = ufunc.reduce(folded.reshape(_FOLD, d), axis=0)
    return ufunc(result, ufunc.reduce(X[m:], axis=0)) if m < n else result


def column_min_max(X):
    """Smallest and largest entry of each column of X, shape (n, d): two (d,)."""
    return _column_reduce(np.minimum, X), _column_reduce(np.maximum, X)


def column_means(X):
    """``X.mean(axis=0)`` in float64 for X of shape (n, d)."""
    if X.dtype != np.float64:
        return X.mean(axis=0, dtype=np.float64)
    return _column_reduce(np.add, X) / X.shape[0]
