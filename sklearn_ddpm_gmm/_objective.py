"""The DDPM objective over a whole data set, evaluated in blocks of rows.

A pass draws the noise of each block from that block's own seed, noises the
block's clean points in antithetic pairs, and adds up the block's Stein-form
loss, gradient and curvature (all of them row averages). Blocks keep the
(rows, K) and (rows, d) temporaries in cache and the memory of a pass bounded
by the block, not by the data: no (n, d) noise array is ever formed, and the
same seeds give the same noise, so a phase can minimise one fixed Monte Carlo
version of the objective without storing it.

Span noise (spherical and identity models). There a noised point enters the
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
partner flips zeta and g. ``tests/test_score_model.py`` checks both.
"""

import numpy as np

from ._fastops import row_dots
from ._forward import noise_antithetic, noise_coefficients
from ._score_model import Curvature, MixtureParams, stein_loss_grad

# Rows per block: ~ 8k rows keep a block's temporaries (a few (2 x rows, K)
# and (2 x rows, d) arrays) within a few MB; benchmarks/bench_scaling.py
# ("passes") measures the pass against its matrix-product floor.
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


def uses_span_noise(covariance_type, n_components, n_features):
    """Whether a pass draws span noise: spherical types with fewer means than
    dimensions (otherwise the span is everything and nothing is saved)."""
    return covariance_type in ("spherical", "identity") and n_components < n_features


def span_noised(X0, means, t, rng):
    """Antithetic stand-ins for noised points and their squared norms (span noise).

    Parameters
    ----------
    X0 : ndarray of shape (n, d)
        Clean points.
    means : ndarray of shape (K, d)
        The model's means, K < d.
    t : float
        Noise level.
    rng : numpy.random.Generator

    Returns
    -------
    X_stand_in : ndarray of shape (2 n, d)
        ``Q (a q0 +- s zeta) + (a +- s g / |p|) p``: equal to the noised point
        in every product with the means, with the part of the noise
        orthogonal to both the means and p replaced by its conditional mean.
    x_sq : ndarray of shape (2 n,)
        The noised points' squared norms.
    """
    a, s2 = noise_coefficients(t)
    s = np.sqrt(s2)
    n, d = X0.shape
    Q = np.linalg.qr(means.T)[0]  # (d, K): contains the span of the means
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
    p_norm[p_norm <= 1e-9 * np.sqrt(row_dots(X0, X0))] = 0.0
    zeta = rng.standard_normal((n, r))
    g = rng.standard_normal(n)
    rest = rng.chisquare(d - r - 1, n) if d - r > 1 else np.zeros(n)
    stand_ins, sq_norms = [], []
    for sign in (1.0, -1.0):
        inside = a * q0 + sign * s * zeta
        along = a * p_norm + sign * s * g
        p_scale = np.divide(along, p_norm, out=np.zeros(n), where=p_norm > 0)
        stand_ins.append(inside @ Q.T + p_scale[:, np.newaxis] * p)
        sq_norms.append(row_dots(inside, inside) + along**2 + s2 * rest)
    return np.concatenate(stand_ins), np.concatenate(sq_norms)


def stein_objective(X, params, t, seeds, reg_covar, covariance_type="spherical"):
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
    reg_covar : float
    covariance_type : str

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
    span = uses_span_noise(covariance_type, len(params.means), n_features)
    total = None
    for block, start in enumerate(range(0, n_samples, BLOCK_ROWS)):
        X0 = X[start:start + BLOCK_ROWS]
        x_sq = None
        if t == 0:
            Xt = X0
        elif span:
            Xt, x_sq = span_noised(X0, params.means, t, np.random.default_rng(seeds[block]))
        else:
            Xt = noise_antithetic(X0, block_noise(seeds[block], X0.shape), t)
        loss, grad, curvature = stein_loss_grad(Xt, params, t, reg_covar, covariance_type,
                                                x_sq)
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
