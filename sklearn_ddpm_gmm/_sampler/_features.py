"""Polynomial features of a cell's offsets: monomials, their derivatives, whitening, ridge.

The monomials of degree <= p are ordered as scikit-learn's PolynomialFeatures
(graded; within a degree, ``itertools.combinations_with_replacement`` order),
so the terms of degree <= p are a prefix of those of any higher degree; each
degree's block is one product of the previous block with a variable.
"""

import functools
import itertools
import math
from typing import NamedTuple

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve


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
    columns, dF_columns = polynomial_feature_derivative_columns(F, j, n_features, degree)
    dF = np.zeros_like(F)
    dF[:, columns] = dF_columns
    return dF


def polynomial_feature_derivative_columns(F, j, n_features, degree):
    """The columns of :func:`polynomial_feature_derivative` that are not zero.

    Only the monomials with a factor ``u_j`` have a derivative in it (11 of
    66 at degree 2 in 10-D), so a product with the derivative needs only
    those columns.

    Returns
    -------
    columns : ndarray of int
        The monomials with a factor ``u_j``.
    dF : ndarray of shape (n_samples, len(columns))
    """
    mono = _monomials(n_features, degree)
    columns = np.flatnonzero(mono.powers[j])
    return columns, F[:, mono.lower[j, columns]] * mono.powers[j, columns]


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


def whitening(Y):
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


def fill_features(F, U, degree_from, degree):
    """Fill the columns of degrees ``degree_from + 1 .. degree`` of F in place.

    F has at least ``n_poly_features(d, degree)`` columns, those of degree
    <= ``degree_from`` already filled; each new degree's block is built from
    the one before it, as in :func:`polynomial_features`.
    """
    mono = _monomials(U.shape[1], degree)
    for k in range(degree_from + 1, degree + 1):
        lo, hi = mono.starts[k], mono.starts[k + 1]
        np.multiply(F[:, mono.parent[lo:hi]], U[:, mono.var[lo:hi]], out=F[:, lo:hi])
