"""Span noise: noised points in the coordinates of the means' span (spherical models).

In a spherical (or identity) model a noised point enters the Stein-form
objective only through its products with the means, its squared norm, and
sums of points weighted by functions of those scalars. Split the clean point
``x0 = Q q0 + p`` (Q an orthonormal basis containing the means, p orthogonal
to it, ``e = p / |p|``) and the noise ``z = Q zeta + g e + z''``; then
``x_t . mu_i`` needs only zeta, ``|x_t|^2 = |a q0 + s zeta|^2 + (a |p| + s g)^2
+ s^2 |z''|^2`` needs g and the chi-square ``|z''|^2`` (d - r - 1 degrees of
freedom), and the direction of z'' is independent of all the scalars, so its
conditional mean, zero, can replace it in the weighted sums. Drawing
``(zeta, g, |z''|^2)``, r + 2 numbers a point instead of d, gives the same
objective in expectation with lower variance (Rao-Blackwell); the antithetic
partner flips zeta and g.

:class:`SpanPoints` keeps the noised points in that form, ``(r + 2)`` numbers
a point, and answers the two questions the spherical geometry asks of them
(products with the means, weighted sums of the points) without forming the
(2 n, d) stand-ins: a pass then does no element-wise work on (n, d) arrays.
``tests/test_score_model.py`` checks the expectation, the variance, and that
the answers equal those of the materialised stand-ins.
"""

import numpy as np

from ._fastops import row_dots
from ._forward import noise_coefficients


def uses_span_noise(covariance_type, n_components, n_features):
    """Whether a pass draws span noise: spherical types with fewer means than
    dimensions (otherwise the span is everything and nothing is saved)."""
    return covariance_type in ("spherical", "identity") and n_components < n_features


class SpanPoints:
    """Antithetic noised points ``Q y_n + c_n p_n`` (n clean points, 2 n noised).

    Attributes
    ----------
    basis : ndarray of shape (d, r)
        Q, orthonormal, containing the means.
    coords : ndarray of shape (2 n, r)
        y: ``a q0 + s zeta`` stacked on ``a q0 - s zeta``.
    offsets : ndarray of shape (n, d)
        p: the clean points' parts orthogonal to Q, shared by both halves.
    offset_scales : ndarray of shape (2 n,)
        c: ``(a |p| +- s g) / |p|`` (0 where p is 0).
    sq_norms : ndarray of shape (2 n,)
        The noised points' squared norms, chi-square part included.
    """

    def __init__(self, basis, coords, offsets, offset_scales, sq_norms):
        self.basis, self.coords, self.offsets = basis, coords, offsets
        self.offset_scales, self.sq_norms = offset_scales, sq_norms

    @property
    def shape(self):
        return (self.coords.shape[0], self.basis.shape[0])

    @property
    def dtype(self):
        return self.coords.dtype

    def dot(self, M):
        """Products with the rows of M, shape (K, d) in the span: (2 n, K)."""
        return self.coords @ (M @ self.basis).T

    def weighted_sum(self, B):
        """``B.T @ X`` for coefficients B of shape (2 n, K): shape (K, d)."""
        n = self.offsets.shape[0]
        scaled = B * self.offset_scales[:, np.newaxis]
        # Both halves share the offsets: one product with (n, d), not (2 n, d).
        return (B.T @ self.coords) @ self.basis.T + (scaled[:n] + scaled[n:]).T @ self.offsets

    def to_array(self):
        """The stand-ins themselves, shape (2 n, d)."""
        p = np.concatenate([self.offsets, self.offsets])
        return self.coords @ self.basis.T + self.offset_scales[:, np.newaxis] * p


def span_noised(X0, means, t, rng):
    """Noise X0 to level t in antithetic pairs, as span noise.

    Parameters
    ----------
    X0 : ndarray of shape (n, d)
        Clean points; the result has their dtype (the draws do not depend on
        it, so float32 and float64 data get the same noise).
    means : ndarray of shape (K, d)
        The model's means, K < d.
    t : float
        Noise level.
    rng : numpy.random.Generator

    Returns
    -------
    SpanPoints
        Equal to the noised points in every product with the means and in
        squared norm, with the part of the noise orthogonal to both the means
        and p replaced by its conditional mean.
    """
    a, s2 = noise_coefficients(t)
    s = np.sqrt(s2)
    n, d = X0.shape
    dtype = X0.dtype
    Q = np.linalg.qr(means.T)[0].astype(dtype)  # (d, K): contains the span of the means
    r = Q.shape[1]
    q0 = X0 @ Q
    p = X0 - q0 @ Q.T
    # Projecting out twice keeps p orthogonal to the means in floating point;
    # a p at rounding level has no reliable direction and counts as zero (then
    # the orthogonal noise is all z'', whose conditional mean is zero).
    correction = p @ Q
    q0 += correction
    p -= correction @ Q.T
    p_norm = np.sqrt(row_dots(p, p))
    rounding = max(1e-9, 100 * np.finfo(dtype).eps)
    p_norm[p_norm <= rounding * np.sqrt(row_dots(X0, X0))] = 0.0
    zeta = (s * rng.standard_normal((n, r))).astype(dtype, copy=False)
    g = (s * rng.standard_normal(n)).astype(dtype, copy=False)
    rest = s2 * rng.chisquare(d - r - 1, n) if d - r > 1 else np.zeros(n)
    rest = rest.astype(dtype, copy=False)
    q0 *= a
    coords = np.concatenate([q0 + zeta, q0 - zeta])
    along = np.concatenate([a * p_norm + g, a * p_norm - g])
    p_norm2 = np.concatenate([p_norm, p_norm])
    scales = np.divide(along, p_norm2, out=np.zeros(2 * n, dtype=dtype), where=p_norm2 > 0)
    sq_norms = row_dots(coords, coords) + along**2 + np.concatenate([rest, rest])
    return SpanPoints(Q, coords, p, scales, sq_norms)
