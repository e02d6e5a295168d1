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
a point plus a reference to the clean points, and answers the two questions
the spherical geometry asks of them (products with the means, weighted sums
of the points) without forming the (2 n, d) stand-ins, nor even the
orthogonal parts p: ``|p|^2 = |x0|^2 - |q0|^2`` and a weighted sum of the p
is one of the x0 minus its part in the span. A pass then makes two products
with the clean points and no element-wise work on (n, d) arrays.
``tests/test_score_model.py`` checks the expectation, the variance, and that
the answers equal those of the materialised stand-ins.
"""

import functools
from typing import NamedTuple

import numpy as np

from .._numerics._fastops import row_dots
from ._forward import noise_coefficients


# Rows whitened at a time when a pool is drawn.
_POOL_BLOCK = 8192
# Normals drawn at a time (see _standard_normals).
_NORMALS_BLOCK = 2**16


def uses_span_noise(model, n_components, n_features):
    """Whether a pass draws span noise: spherical types (``model.is_spherical``,
    a CovarianceType) with fewer means than dimensions (otherwise the span is
    everything and nothing is saved)."""
    return model.is_spherical and n_components < n_features


class SpanPoints:
    """Antithetic noised points ``Q y_n + c_n p_n`` (n clean points, 2 n noised).

    Attributes
    ----------
    basis : ndarray of shape (d, r)
        Q, orthonormal, containing the means.
    coords : ndarray of shape (2 n, r)
        y: ``a q0 + s zeta`` stacked on ``a q0 - s zeta``.
    clean : ndarray of shape (n, d)
        The clean points x0 (a view, not a copy).
    clean_coords : ndarray of shape (n, r)
        q0 = x0 Q, so that ``p = x0 - q0 Q^T`` is the part orthogonal to Q.
    offset_scales : ndarray of shape (2 n,)
        c: ``(a |p| +- s g) / |p|`` (0 where p is 0).
    sq_norms : ndarray of shape (2 n,)
        The noised points' squared norms, chi-square part included.
    """

    def __init__(self, basis, coords, clean, *, clean_coords, offset_scales, sq_norms):
        self.basis, self.coords = basis, coords
        self.clean, self.clean_coords = clean, clean_coords
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
        n = self.clean.shape[0]
        scaled = B * self.offset_scales[:, np.newaxis]
        # Both halves share the orthogonal parts p = x0 - q0 Q^T: one product
        # with the (n, d) clean points, not with (2 n, d) stand-ins, and
        # C^T q0 = (C^T x0) Q needs no second product over the rows.
        C = scaled[:n] + scaled[n:]
        C_clean = C.T @ self.clean  # (K, d)
        in_span = B.T @ self.coords - C_clean @ self.basis
        return in_span @ self.basis.T + C_clean

    def to_array(self):
        """The stand-ins themselves, shape (2 n, d)."""
        p = self.clean - self.clean_coords @ self.basis.T
        p = np.concatenate([p, p])
        return self.coords @ self.basis.T + self.offset_scales[:, np.newaxis] * p


def span_basis(means):
    """Orthonormal basis of the span of the means, shape (d, r), r their rank,
    that depends only on that span.

    The noise in the span is drawn in this basis, so the basis must not turn
    when the means merely move within their span (which the objective at
    large noise hardly resists): that would redraw the noise and make one
    fixed draw's objective jitter (its span kept turning by 2e-3..1e-2 a
    step after settling, with a basis from QR of the means). Gram-Schmidt on
    the projections of a fixed set of directions onto the span gives such a
    basis. The rank is found by SVD: centred means (the power phase) have
    rank K - 1.

    The result is read-only: the last few are remembered, since a step asks
    for the same means' basis up to three times (its objective, and the power
    phase's span change on both sides of it), each ~0.07 ms of a ~0.8 ms
    step on a cold start's subsample.
    """
    means = np.asarray(means, dtype=np.float64)
    return _span_basis_of(means.tobytes(), means.shape)


@functools.lru_cache(maxsize=8)
def _span_basis_of(means_bytes, shape):
    means = np.frombuffer(means_bytes, dtype=np.float64).reshape(shape)
    n_features = shape[1]
    _, singular, vt = np.linalg.svd(means, full_matrices=False)
    rank = max(1, int(np.sum(singular > singular[0] * 1e-9))) if singular[0] > 0 else 1
    V = vt[:rank].T
    fixed = _fixed_directions(n_features, rank)
    Q, R = np.linalg.qr(V.T @ fixed)
    signs = np.where(np.diagonal(R) < 0, -1.0, 1.0)
    basis = V @ (Q * signs)
    basis.flags.writeable = False
    return basis


@functools.cache
def _fixed_directions(n_features, rank):
    """The fixed directions span_basis projects, shape (d, r), read-only."""
    directions = np.random.default_rng(0).standard_normal((n_features, rank))
    directions.flags.writeable = False
    return directions


class SpanDraws(NamedTuple):
    """The standard draws of span noise for n points, before scaling by s."""

    zeta: np.ndarray  # (n, r) normal: the noise in the span
    along: np.ndarray  # (n,) normal: the noise along p
    # (n,) the squared norm of the noise off p: |zeta|^2 + |z''|^2, with
    # |z''|^2 chi-square with d - r - 1 degrees of freedom.
    off_p_sq: np.ndarray


def span_draws(rng, n_samples, rank, *, n_features, dtype=np.float64):
    """Draw the span noise of ``n_samples`` points for a span of this rank.

    The draws depend only on the generator and the shapes, not on the points
    or the means: a phase that holds its noise fixed can keep them. They are
    drawn in float64 and kept in ``dtype``, the passes' precision (so float32
    and float64 data get the same noise, to rounding; mixed-precision
    arithmetic on them cost a third of span_noised).
    """
    zeta = rng.standard_normal((n_samples, rank))
    along = rng.standard_normal(n_samples)
    dof = n_features - rank - 1
    rest = rng.chisquare(dof, n_samples) if dof > 0 else np.zeros(n_samples)
    return SpanDraws(*(part.astype(dtype, copy=False)
                       for part in (zeta, along, row_dots(zeta, zeta) + rest)))


def span_noised(X0, basis, t, *, draws, sq_norms=None):
    """Noise X0 to level t in antithetic pairs, as span noise.

    Parameters
    ----------
    X0 : ndarray of shape (n, d)
        Clean points; the result has their dtype (the draws do not depend on
        it, so float32 and float64 data get the same noise).
    basis : ndarray of shape (d, r)
        Orthonormal basis containing the means (:func:`span_basis`), r < d.
    t : float
        Noise level.
    draws : SpanDraws
        From :func:`span_draws` for n points and rank r.
    sq_norms : ndarray of shape (n,), default=None
        ``|x0|^2`` of each row, if already known.

    Returns
    -------
    SpanPoints
        Equal to the noised points in every product with the means and in
        squared norm, with the part of the noise orthogonal to both the means
        and p replaced by its conditional mean.
    """
    a, s2 = noise_coefficients(t)
    s = s2**0.5  # a Python float: a numpy scalar would promote float32 arrays
    n, d = X0.shape
    dtype = X0.dtype
    Q = basis.astype(dtype, copy=False)
    r = Q.shape[1]
    q0 = X0 @ Q
    if sq_norms is None:
        sq_norms = row_dots(X0, X0)
    q0_sq = row_dots(q0, q0)
    p_sq = sq_norms - q0_sq
    # |p|^2 comes from a difference that rounds at ~eps |x0|^2: a p below
    # this share of |x0| has no reliable size or direction and counts as zero
    # (the orthogonal noise is then all z'', whose conditional mean is zero).
    negligible = max(1e-12, 1e3 * np.finfo(dtype).eps) * sq_norms
    p_norm = np.sqrt(np.where(p_sq > negligible, p_sq, 0.0)).astype(dtype, copy=False)
    zeta = s * draws.zeta
    g = s * draws.along
    # The two halves, a q0 + s zeta and a q0 - s zeta, written in place.
    coords = np.empty((2 * n, r), dtype=dtype)
    np.multiply(q0, a, out=coords[:n])
    coords[n:] = coords[:n]
    coords[:n] += zeta
    coords[n:] -= zeta
    along = np.empty(2 * n, dtype=dtype)
    np.multiply(p_norm, a, out=along[:n])
    along[n:] = along[:n]
    along[:n] += g
    along[n:] -= g
    scales = np.zeros(2 * n, dtype=dtype)
    p_norms = np.concatenate([p_norm, p_norm])
    np.divide(along, p_norms, out=scales, where=p_norms > 0)
    # |a q0 +- s zeta|^2 + |z''|^2 from |q0|^2, q0 . zeta and the draws'
    # |zeta|^2 + |z''|^2: n-vectors, not a second pass over the (2 n, r) coords.
    cross = (2.0 * a) * row_dots(q0, zeta)
    sq_norms = along * along
    base = (a * a) * q0_sq + s2 * draws.off_p_sq
    sq_norms[:n] += base + cross
    sq_norms[n:] += base - cross
    return SpanPoints(Q, coords, X0, clean_coords=q0, offset_scales=scales, sq_norms=sq_norms)


def _standard_normals(rng, shape, dtype):
    """Standard normal draws of this shape, by the Box-Muller transform of
    uniforms in ``dtype``, ``_NORMALS_BLOCK`` draws at a time (bounded
    temporaries: partial_fit's memory is counted in chunks).

    numpy's ziggurat draws a float32 normal in ~7 ns here, which made two
    thirds of a pool's cost; Box-Muller on float32 uniforms takes ~2 ns. Its
    pairs are exactly independent normals; float32 uniforms cut the tails at
    5.8 standard deviations, beyond which lies 7e-9 of the mass.
    """
    out = np.empty(shape, dtype=dtype)
    flat = out.reshape(-1)
    two_pi = dtype.type(2.0 * np.pi)
    for start in range(0, flat.size, _NORMALS_BLOCK):
        block = flat[start:start + _NORMALS_BLOCK]
        half = -(-block.size // 2)
        uniforms = rng.random(2 * half, dtype=dtype)
        radius = np.log1p(-uniforms[:half])  # 1 - u lies in (0, 1]
        radius *= -2.0
        np.sqrt(radius, out=radius)
        angle = uniforms[half:]
        angle *= two_pi
        np.cos(angle[:block.size - half], out=block[half:])
        block[half:] *= radius[:block.size - half]
        np.sin(angle, out=angle)
        np.multiply(angle, radius, out=block[:half])
    return out


class SpanNoisePool:
    """The span draws of every row, drawn once and dealt anew for each pass.

    Drawing the noise costs about a third of a pass at d = 10, K = 4 (r + 1
    normals and a chi-square a row, ~60 ns). A stage of fresh-noise steps
    instead draws one pool and deals it to the rows differently each pass
    (:meth:`deal`): shifted cyclically by a random offset, zeta turned by a
    random rotation of the span's coordinates, and the sign of the draw
    along p flipped at random. Each of these keeps the law of the draws, so
    each pass is an unbiased draw of the objective given the pool, and the
    pairing of points with draws changes from pass to pass. What passes
    share is the pool's sample moments; they are matched to the law's
    exactly (zeta whitened, ``mean(along^2) = 1``, the chi-square's mean its
    degrees of freedom), so that the noise's scale, which the variances'
    estimates feel, carries no error common to the passes.

    The pool is drawn and kept in ``dtype`` (the passes' precision), and
    whitened block by block in place: partial_fit's memory is counted in
    chunks, and a float64 pool with its whitened copy cost one more chunk.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_rows, rank, n_features : int
        Rows of the data, rank of the means' span, dimension.
    dtype : dtype, default=np.float64
    """

    def __init__(self, rng, n_rows, rank, *, n_features, dtype=np.float64):
        dtype = np.dtype(dtype)
        zeta = _standard_normals(rng, (n_rows, rank), dtype)
        along = _standard_normals(rng, n_rows, dtype)
        dof = n_features - rank - 1
        # A chi-square with dof degrees of freedom is twice a Gamma(dof / 2).
        rest = (rng.standard_gamma(0.5 * dof, n_rows, dtype=dtype) if dof > 0
                else np.zeros(n_rows, dtype=dtype))
        rest *= 2
        blocks = [slice(start, start + _POOL_BLOCK) for start in range(0, n_rows, _POOL_BLOCK)]
        second_moment = sum(zeta[b].T.astype(np.float64) @ zeta[b].astype(np.float64)
                            for b in blocks) / n_rows
        eigvals, eigvecs = np.linalg.eigh(second_moment)
        whitening = ((eigvecs / np.sqrt(eigvals)) @ eigvecs.T).astype(dtype)
        for b in blocks:
            zeta[b] = zeta[b] @ whitening
        along *= dtype.type(1.0 / np.sqrt(np.mean(np.square(along, dtype=np.float64))))
        if dof > 0:
            rest *= dtype.type(dof / np.mean(rest, dtype=np.float64))
        self.rank, self.zeta, self.along = rank, zeta, along
        # Rotations keep |zeta|^2, so each row's squared noise off p is fixed.
        rest += np.concatenate([row_dots(zeta[b], zeta[b]) for b in blocks])
        self.off_p_sq = rest

    def __len__(self):
        return len(self.along)

    def deal(self, rng):
        """One pass's dealing of the pool: a DealtSpanNoise."""
        rotation, upper = np.linalg.qr(rng.standard_normal((self.rank, self.rank)))
        rotation *= np.sign(np.diagonal(upper))  # uniform (Haar) rotation
        return DealtSpanNoise(self, int(rng.integers(len(self))),
                              rotation.astype(self.zeta.dtype),
                              float(rng.choice([-1.0, 1.0])))


class DealtSpanNoise(NamedTuple):
    """The pool's draws for one pass (see :meth:`SpanNoisePool.deal`)."""

    pool: SpanNoisePool
    offset: int
    rotation: np.ndarray  # (r, r)
    sign: float

    @property
    def rank(self):
        return self.pool.rank

    def block(self, start, stop):
        """SpanDraws of rows start..stop - 1 of this pass."""
        n_rows = len(self.pool)
        first = (start + self.offset) % n_rows
        last = first + (stop - start)

        def rows(draws):  # the cyclic slice first..last, copied only if it wraps
            if last <= n_rows:
                return draws[first:last]
            return np.concatenate([draws[first:], draws[:last - n_rows]])

        return SpanDraws(rows(self.pool.zeta) @ self.rotation,
                         self.sign * rows(self.pool.along), rows(self.pool.off_p_sq))
