"""The DDPM objective over a whole data set, evaluated in blocks of rows.

A pass draws the noise of each block from that block's own seed, noises the
block's clean points in antithetic pairs, and adds up the block's Stein-form
loss, gradient and curvature (all of them row averages). Blocks keep the
(rows, K) and (rows, d) temporaries in cache and the memory of a pass bounded
by the block, not by the data: no (n, d) noise array is ever formed, and the
same seeds give the same noise, so a phase can minimise one fixed Monte Carlo
version of the objective without storing it.

Spherical models draw span noise (:mod:`._span_noise`): r + 2 numbers a
point instead of d, and no (n, d) arrays.
"""

import numpy as np

from .._numerics._fastops import row_dots
from ._forward import noise_antithetic
from ._score_model import Curvature, MixtureParams, stein_loss_grad
from ._span_noise import span_basis, span_draws, span_noised, uses_span_noise
from ._spherical_pass import spherical_stein_loss_grad

# Clean rows per block: keeps a block's temporaries within a few MB (docs/design.rst).
BLOCK_ROWS = 8192


def n_blocks(n_samples):
    """Number of blocks a pass over ``n_samples`` rows uses."""
    return max(1, -(-n_samples // BLOCK_ROWS))


def draw_seeds(random_state, n_samples):
    """One seed per block, from a RandomState: the noise of one pass."""
    return random_state.randint(np.iinfo(np.int32).max, size=n_blocks(n_samples))


def block_noise(seed, shape):
    """The standard normal draws of one block."""
    return np.random.default_rng(seed).standard_normal(shape)


class NoiseCache:
    """The draws of one fixed noise, kept between a phase's evaluations.

    A phase that holds its seeds fixed redraws the same numbers at every
    evaluation; on a cold start's subsample drawing them cost as much as the
    rest of the noising. Draws are kept up to ``max_numbers`` numbers in all
    (those beyond are redrawn), so that a phase over a large data set holds no
    copy of its noise.
    """

    def __init__(self, max_numbers=2**21):
        self._draws = {}
        self._room = max_numbers

    def get(self, key, draw):
        """The draws stored under key, or ``draw()``'s (stored if they fit)."""
        if key in self._draws:
            return self._draws[key]
        draws = draw()
        size = sum(np.size(part) for part in draws) if isinstance(draws, tuple) else draws.size
        if size <= self._room:
            self._draws[key] = draws
            self._room -= size
        return draws


def row_sq_norms(X):
    """``|x|^2`` of each row of X, shape (n_samples,), block by block (no
    temporary the size of X)."""
    blocks = (X[start:start + BLOCK_ROWS] for start in range(0, X.shape[0], BLOCK_ROWS))
    return np.concatenate([row_dots(block, block) for block in blocks])


def stein_objective(X, params, t, *, seeds, model, noise_cache=None, dealt=None,
                    sq_norms=None):
    """Stein-form DDPM loss, gradient and curvature over all rows of X.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Clean (standardised) points.
    params : MixtureParams
    t : float
        Noise level; at ``t = 0`` the clean points are used and no noise drawn.
    seeds : ndarray of shape (n_blocks(n_samples),)
        Seeds of the blocks' noise (:func:`draw_seeds`).
    model : CovarianceType
        The covariance type, with its ``reg_covar`` (standardised units).
    noise_cache : NoiseCache, default=None
        Where the draws of fixed seeds are kept between calls (the same
        result as drawing them anew).
    dealt : DealtSpanNoise, default=None
        Span draws dealt from a pool (:class:`._span_noise.SpanNoisePool`),
        used instead of the seeds' when the span's rank is the pool's.
    sq_norms : ndarray of shape (n_samples,), default=None
        :func:`row_sq_norms` of X, if known (span noise needs them; a phase
        of many passes over the same rows computes them once).

    Returns
    -------
    loss : float
    grad : MixtureParams
    curvature : Curvature
        As :func:`._score_model.stein_loss_grad` returns them for the stacked
        antithetic points of every block (span noise where
        :func:`uses_span_noise`): row averages, so each block enters
        in proportion to its rows.
    """
    n_samples, n_features = X.shape
    span = uses_span_noise(model, len(params.means), n_features)
    loss_grad = spherical_stein_loss_grad if model.is_spherical else stein_loss_grad
    if noise_cache is None:
        noise_cache = NoiseCache(max_numbers=0)
    if span:
        basis = span_basis(params.means)  # (d, r)
        rank = basis.shape[1]
    total = None
    for block, start in enumerate(range(0, n_samples, BLOCK_ROWS)):
        X0 = X[start:start + BLOCK_ROWS]
        seed = seeds[block]
        if t == 0:
            Xt = X0
        elif span:
            if dealt is not None and dealt.rank == rank:
                draws = dealt.block(start, start + len(X0))
            else:
                draws = noise_cache.get(
                    ("span", seed, len(X0), rank),
                    lambda: span_draws(np.random.default_rng(seed), len(X0), rank,
                                       n_features=n_features, dtype=X0.dtype),
                )
            Xt = span_noised(X0, basis, t, draws=draws,
                             sq_norms=(None if sq_norms is None
                                       else sq_norms[start:start + len(X0)]))
        else:
            z = noise_cache.get(("dense", seed, X0.shape),
                                lambda: block_noise(seed, X0.shape).astype(X0.dtype,
                                                                          copy=False))
            Xt = noise_antithetic(X0, z, t)
        loss, grad, curvature = loss_grad(Xt, params, t, model)
        share = X0.shape[0] / n_samples
        terms = (loss, *grad, curvature.noised_gradient, curvature.mean_resp,
                 curvature.weight_logits)
        if total is None:
            total = [share * term for term in terms]
            noised_covariances = curvature.noised_covariances
        else:
            total = [acc + share * term for acc, term in zip(total, terms)]
    loss, g_means, g_cov, g_logits, noised_gradient, mean_resp, logit_curvature = total
    return (
        float(loss),
        MixtureParams(g_means, g_cov, g_logits),
        Curvature(noised_covariances, noised_gradient, mean_resp, logit_curvature),
    )
