"""Reference computations that only the tests use (test oracles).

Nothing in the package calls them: the plain (residual) form of the DDPM
loss and its gradient, the Monte Carlo estimate of the DDPM objective
integrated over all noise levels, and the exact gradient of the mean
log-likelihood, which the integrated objective's gradient equals.
``tests/test_score_model.py`` and ``tests/test_likelihood.py`` check the
package's Stein-form passes and the exact final phase against them. A test
imports them with ``from _reference import ...`` (pytest's default import
mode puts ``tests/`` on ``sys.path``).
"""

import functools
from typing import NamedTuple

import numpy as np

from sklearn_ddpm_gmm._core._covariance import covariance_model
from sklearn_ddpm_gmm._core._em import posteriors
from sklearn_ddpm_gmm._ddpm._coordinates import (
    eigen_curvatures,
    elementwise_curvatures,
)
from sklearn_ddpm_gmm._ddpm._forward import noise_coefficients
from sklearn_ddpm_gmm._ddpm._loss import n_blocks, stein_objective
from sklearn_ddpm_gmm._ddpm._score_model import _noised_terms, _parameter_gradient
from sklearn_ddpm_gmm._numerics._fastops import row_dots


# ------------------------------------------------ the plain form of the loss
def noise_points(X0, z, t):
    """``a X0 + s z``: the clean points X0, shape (n, d), noised to level t."""
    a, s2 = noise_coefficients(t)
    return a * X0 + s2**0.5 * z


def ddpm_loss_grad(X0, z, params, *, t, model):
    """The DDPM loss in its plain (residual) form and its analytic gradient.

    Parameters
    ----------
    X0 : ndarray of shape (n_samples, n_features)
        Clean points.
    z : ndarray of shape (n_samples, n_features)
        Standard normal noise, one draw per clean point.
    params : MixtureParams
    t : float
        Noise level, ``t > 0``.
    model : CovarianceType
        The covariance type, with its ``reg_covar``.

    Returns
    -------
    loss : float
        ``mean_n ||S(a x0 + s z) + z / s||^2``.
    grad : MixtureParams
        Gradient of ``loss`` with respect to each parameter array.
    """
    _, s2 = noise_coefficients(t)
    terms = _noised_terms(noise_points(X0, z, t), params, t, model)
    w = terms.resp
    residual = z / np.sqrt(s2) - terms.geometry.combine(w)
    h = terms.geometry.inner(residual)  # r . u_i
    h_centred = h - row_dots(w, h)[:, np.newaxis]
    grad, _ = _parameter_gradient(
        terms, params, t, model=model,
        alpha=-w * h_centred, beta=np.zeros_like(w), gamma=w, V=residual,
        gamma_V=w.T @ residual, V_inner=h,
        zeta=np.zeros(w.shape[1]), logit_coef=-w * h_centred,
    )
    loss = float(np.mean(row_dots(residual, residual)))
    return loss, grad


# ------------------------------------------------- all levels, likelihood weighted
# Lowest level of the integrated objective: below it the integrand is its t = 0 value.
INTEGRATED_T_MIN = 1e-4
# Highest level: above it the integrand has decayed like exp(-4 t) (to ~4e-11).
INTEGRATED_T_MAX = 6.0
# Strata a pass is split into: every N_STRATA-th row, each its own level.
N_STRATA = 64
# Log-uniform share of the levels' law (the rest exponential); tuned on wine (docs/design.rst).
LOG_UNIFORM_SHARE = 0.5
# Rate of the exponential part: the integrand decays like exp(-2 t) once the noise dominates.
EXPONENTIAL_RATE = 2.0


@functools.cache
def _level_law():
    """The levels' cumulative distribution on a log grid over [T_MIN, T_MAX].

    Levels are drawn by inverting it linearly between grid points, so the law
    actually sampled has, in each grid cell, the constant density
    ``(F[i+1] - F[i]) / (t[i+1] - t[i])``: its reciprocal is the level's
    exact importance weight.

    Returns
    -------
    grid, cdf : ndarrays of shape (4097,)
    """
    grid = np.geomspace(INTEGRATED_T_MIN, INTEGRATED_T_MAX, 4097)
    log_uniform = np.log(grid / INTEGRATED_T_MIN) / np.log(INTEGRATED_T_MAX / INTEGRATED_T_MIN)
    decay = np.exp(-EXPONENTIAL_RATE * INTEGRATED_T_MIN) - np.exp(-EXPONENTIAL_RATE * grid)
    exponential = decay / decay[-1]
    cdf = LOG_UNIFORM_SHARE * log_uniform + (1.0 - LOG_UNIFORM_SHARE) * exponential
    cdf[-1] = 1.0
    return grid, cdf


def integrated_level(u):
    """The level at quantile u of the levels' law, and its importance weight
    (the reciprocal of the law's density there)."""
    grid, cdf = _level_law()
    t = float(np.interp(u, cdf, grid))
    cell = min(max(int(np.searchsorted(grid, t)) - 1, 0), len(grid) - 2)
    density = (cdf[cell + 1] - cdf[cell]) / (grid[cell + 1] - grid[cell])
    return t, 1.0 / density


class IntegratedTerms(NamedTuple):
    """Gradient and Gauss-Newton curvature of the integrated objective in the
    parameters themselves (means, covariances Sigma, logits). The curvature is
    diagonal: coordinate by coordinate for spherical, diag and identity, in
    the eigenbasis of Sigma (``eigenbasis``) for full and tied."""

    loss: float
    means: np.ndarray  # (K, d) gradient
    means_curvature: np.ndarray  # (K,) spherical/identity, (K, d) diag, full, tied
    covariance: np.ndarray  # gradient in Sigma, shape of the covariances
    covariance_curvature: np.ndarray
    logits: np.ndarray  # (K,)
    logits_curvature: np.ndarray  # (K,)
    eigenbasis: np.ndarray = None  # Sigma's eigenvectors (full, tied)


def integrated_objective(X, params, rng, *, model):
    """The DDPM objective integrated over all noise levels with the likelihood
    weighting, one Monte Carlo pass: gradient and curvature.

    For the OU process the Fisher divergence between the noised data and the
    noised model, integrated over t in (0, inf) with unit weight, is the KL
    divergence of the data from the model (its derivative in t is minus the
    Fisher divergence; both processes reach N(0, I)); the Stein-form loss at
    level t is that Fisher divergence up to a constant. So the integral of the
    Stein-form gradients over t is the gradient of the mean negative
    log-likelihood, and its minimiser is maximum likelihood
    (``tests/test_score_model.py`` checks the identity against the
    log-likelihood's gradient). The integral is estimated by stratified
    sampling: every ``N_STRATA``-th row (a systematic subsample, whatever the
    rows' order) is noised at a level drawn from its own stratum of a
    law on ``[INTEGRATED_T_MIN, INTEGRATED_T_MAX]`` (:func:`integrated_level`:
    half log-uniform, half exponential), strata assigned at random, weighted
    by the reciprocal of the law's density. The curvature
    is each level's Gauss-Newton curvature, mapped to the parameters and
    integrated the same way: for the means ``2 a^2 m / T^2``, whose integral
    over t is EM's ``m / Sigma`` on separated components.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    params : MixtureParams
    rng : numpy.random.Generator
        Levels and noise seeds of this pass.
    model : CovarianceType
        The covariance type, with its ``reg_covar``.

    Returns
    -------
    IntegratedTerms
    """
    n_samples, n_features = X.shape
    n_strata = min(N_STRATA, n_samples)
    strata = rng.permutation(n_strata)
    matrix = not model.is_elementwise
    if matrix:
        # Every level's curvature is diagonal in Sigma's eigenbasis.
        sigma_eigvals, eigenbasis = np.linalg.eigh(model.from_coordinates(params.covariance))
    total = None
    for index, stratum in enumerate(strata):
        rows = X[index::n_strata]
        t, inverse_density = integrated_level((stratum + rng.random()) / n_strata)
        weight = inverse_density * rows.shape[0] / n_samples
        seeds = rng.integers(np.iinfo(np.int32).max, size=n_blocks(rows.shape[0]))
        loss, grad, curvature = stein_objective(rows, params, t, seeds=seeds, model=model)
        a, s2 = noise_coefficients(t)
        if matrix:
            means_curvature, covariance_curvature = eigen_curvatures(
                a * a * sigma_eigvals + s2, curvature.mean_resp, a, model)
        else:
            means_curvature, covariance_curvature = elementwise_curvatures(
                curvature.noised_covariances, curvature.mean_resp, a,
                model=model, n_features=n_features,
            )
        terms = (
            loss, grad.means, means_curvature,
            a * a * curvature.noised_gradient, covariance_curvature,
            grad.weight_logits, curvature.weight_logits,
        )
        if total is None:
            total = [weight * term for term in terms]
        else:
            total = [acc + weight * term for acc, term in zip(total, terms)]
    return IntegratedTerms(float(total[0]), *total[1:],
                           eigenbasis=eigenbasis if matrix else None)


# ------------------------------------- the exact gradient the integral estimates
def log_likelihood_gradient(X, params, covariance_type):
    """Gradient of the mean log-likelihood: of the integrated DDPM objective's
    negative, exactly (see the module docstring).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    params : Mixture
    covariance_type : {"full", "tied", "diag", "spherical"}

    Returns
    -------
    grad_means : ndarray of shape (n_components, n_features)
    grad_covariances : ndarray, shape of ``params.covariances``
        With respect to the covariance entries (symmetric matrices for
        full and tied; the variances for diag and spherical).
    grad_logits : ndarray of shape (n_components,)
        With respect to ``beta`` in ``pi = softmax(beta)``.
    """
    n_samples, n_features = X.shape
    resp = posteriors(X, params, covariance_model(covariance_type, 0.0))[1]  # (n, K)
    nk = resp.sum(axis=0)
    offsets = X[:, np.newaxis, :] - params.means  # (n, K, d)
    cov = params.covariances
    if covariance_type in ("full", "tied"):
        full = cov if covariance_type == "full" else np.broadcast_to(cov, (len(nk),) + cov.shape)
        precisions = np.linalg.inv(full)  # (K, d, d)
        white = np.einsum("kij,nkj->nki", precisions, offsets)  # Sigma^{-1} e
        grad_means = np.einsum("nk,nki->ki", resp, white) / n_samples
        grad_cov = 0.5 * (np.einsum("nk,nki,nkj->kij", resp, white, white)
                          - nk[:, None, None] * precisions) / n_samples
        if covariance_type == "tied":
            grad_cov = grad_cov.sum(axis=0)
    else:
        variances = cov[:, np.newaxis] if covariance_type == "spherical" else cov  # (K, 1|d)
        white = offsets / variances
        grad_means = np.einsum("nk,nki->ki", resp, white) / n_samples
        squares = np.einsum("nk,nki->ki", resp, offsets**2) / variances**2  # (K, d)
        per_entry = 0.5 * (squares - nk[:, None] / variances) / n_samples
        grad_cov = per_entry.sum(axis=1) if covariance_type == "spherical" else per_entry
    grad_logits = nk / n_samples - params.weights
    return grad_means, grad_cov, grad_logits


# --------------------------------------------- EM with missing coordinates
def missing_data_em(X, weights, means, covariances, *, reg_covar=1e-6, tol=1e-10,
                    max_iter=2000):
    """EM on the observed entries of X (NaN where missing), full covariances,
    written the textbook way (Ghahramani & Jordan 1994): for each row and
    component, the observed marginal and the conditional moments from
    ``Sigma_oo``'s inverse (the package works from ``P_mm``, the precision's
    missing block, instead), one missingness pattern at a time.

    Runs until a step gains less than ``tol`` per row (a converged maximum).

    Returns
    -------
    weights, means, covariances : ndarray
    log_likelihood : float
        Mean observed-data log-likelihood per row at the returned parameters'
        predecessor (as GaussianMixture's lower bound).
    """
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    n, d = X.shape
    weights, means = np.array(weights, float), np.array(means, float)
    covariances = np.array(covariances, float)
    K = len(weights)
    observed = ~np.isnan(X)
    patterns, which = np.unique(observed, axis=0, return_inverse=True)
    which = which.ravel()
    previous = -np.inf
    for _ in range(max_iter):
        log_r = np.empty((n, K))
        filled = np.empty((n, K, d))
        conditional = np.zeros((n, K, d, d))
        for g, o in enumerate(patterns):
            rows = np.flatnonzero(which == g)
            m = ~o
            for k in range(K):
                S, mu = covariances[k], means[k]
                S_oo, S_mo = S[np.ix_(o, o)], S[np.ix_(m, o)]
                B = np.linalg.solve(S_oo, S_mo.T).T  # S_mo S_oo^-1
                x_o = X[np.ix_(rows, o)]
                log_r[rows, k] = np.log(weights[k]) + np.atleast_1d(
                    multivariate_normal(mu[o], S_oo).logpdf(x_o))
                block = np.empty((len(rows), d))
                block[:, o] = x_o
                block[:, m] = mu[m] + (x_o - mu[o]) @ B.T
                filled[rows, k] = block
                C = np.zeros((d, d))
                C[np.ix_(m, m)] = S[np.ix_(m, m)] - B @ S_mo.T
                conditional[rows, k] = C
        log_norm = logsumexp(log_r, axis=1)
        resp = np.exp(log_r - log_norm[:, None])
        nk = resp.sum(axis=0)
        weights = nk / n
        means = np.einsum("nk,nkd->kd", resp, filled) / nk[:, None]
        for k in range(K):
            diff = filled[:, k] - means[k]
            covariances[k] = ((resp[:, k, None] * diff).T @ diff
                              + np.einsum("n,nij->ij", resp[:, k], conditional[:, k])) / nk[k]
            covariances[k] += reg_covar * np.eye(d)
        current = float(np.mean(log_norm))
        if current - previous < tol:
            break
        previous = current
    return weights, means, covariances, current
