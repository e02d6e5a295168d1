"""A fitted mixture at new points, in the caller's units: log-densities and
posteriors, the noised model's score, and samples.

Each function takes the fitted attributes (a :class:`.._core._mixture.Mixture`
in the data's units) and the covariance type, so the estimator's methods only
validate their input.
"""

import numpy as np

from .._core._em import far_posteriors, posteriors
from .._core._missing import completed, has_nan, missing_patterns, observed_posteriors
from .._core._mixture import Mixture, MixtureParams, make_mixture
from .._ddpm._forward import noise_coefficients
from .._ddpm._score_model import score


def _reference(mixture, model):
    """Centre and scale for evaluating densities stably."""
    # Kept within the means: where they are equal, exactly on them (their
    # weighted sum can round by an ulp, 1e152 at 1e168).
    centre = np.clip(mixture.weights @ mixture.means, mixture.means.min(axis=0),
                     mixture.means.max(axis=0))
    spread = model.mean_variances(mixture.covariances, len(mixture.weights))
    return centre, float(np.sqrt(np.max(spread)))


def log_prob_resp(X, mixture, model):
    """Log-density of each row and posteriors.

    GaussianMixture's E-step (per-component whitening through the precisions'
    Cholesky factors, accurate at any condition number), in a frame centred on
    the means, so that offsets far from the origin keep their precision.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    mixture : Mixture
    model : CovarianceType

    Returns
    -------
    log_prob : ndarray of shape (n_samples,)
    resp : ndarray of shape (n_samples, n_components)
    """
    Z, params, (_, scale) = _centred(X, mixture, model)
    patterns = missing_patterns(Z) if has_nan(Z) else None
    with np.errstate(over="ignore", invalid="ignore"):
        if patterns is None:
            log_prob, resp = posteriors(Z, params, model)
        else:  # the observed coordinates' marginal
            log_prob, resp = observed_posteriors(Z, patterns, params, model)
    # Rows too far for their squared distances: their density is below
    # float64's (-inf), their posteriors the limit (rows with missing
    # entries: the limit with those entries at the mixture's mean, an
    # approximation where float64 holds no density).
    far = ~np.all(np.isfinite(resp), axis=1)
    if np.any(far):
        resp[far] = far_posteriors(np.nan_to_num(Z[far]), params, model)
        log_prob[far] = -np.inf
    # Each row's density is over its observed coordinates only.
    n_observed = X.shape[1] if patterns is None else np.sum(~np.isnan(Z), axis=1)
    return log_prob - n_observed * np.log(scale), resp


def _centred(X, mixture, model):
    """X and the mixture in a frame centred on the means (see :func:`_reference`)."""
    centre, scale = _reference(mixture, model)
    params = Mixture(
        mixture.weights, (mixture.means - centre) / scale,
        mixture.covariances / scale / scale, mixture.precisions_cholesky * scale,
    )
    return (X - centre) / scale, params, (centre, scale)


def impute(X, mixture, model, random_state=None):
    """X with its missing entries (NaN) filled by the conditional mean, or a
    conditional draw with ``random_state`` (:func:`.._core._missing.completed`).

    Returns
    -------
    ndarray of shape (n_samples, n_features)
    """
    if not has_nan(X):
        return X.copy()
    Z, params, (centre, scale) = _centred(X, mixture, model)
    filled = completed(Z, missing_patterns(Z), params, model, random_state=random_state)
    missing = np.isnan(X)
    result = X.copy()
    result[missing] = (centre + scale * filled)[missing]
    return result


def noised_score(X, t, mixture, model):
    """Score of the mixture noised to level ``t``, ``grad_x log q_t(x)``,
    shape (n_samples, n_features) (see ``DDPMGaussianMixture.score_function``)."""
    params = MixtureParams(mixture.means, model.with_reg(0.0).to_coordinates(
        mixture.covariances), np.log(mixture.weights))
    with np.errstate(over="ignore", invalid="ignore"):
        result = score(X, params, t, model.with_reg(0.0))
    # Rows too far for their squared distances: the posteriors' limit, and
    # each component's score P_k (a mu_k - x), which is finite.
    far = ~np.all(np.isfinite(result), axis=1)
    if np.any(far):
        result[far] = far_score(X[far], t, mixture, model)
    return result


def far_score(X, t, mixture, model):
    """The noised score at rows whose squared distances overflow: the
    posteriors' limit times each component's score, in a frame centred on
    the noised means."""
    a, s2 = noise_coefficients(t)
    n_components = len(mixture.weights)
    cov = model.noised(np.asarray(mixture.covariances, dtype=float), a, s2)
    means = a * mixture.means
    centre = np.clip(mixture.weights @ means, means.min(axis=0), means.max(axis=0))
    scale = float(np.sqrt(np.max(model.mean_variances(cov, n_components))))
    params = make_mixture(mixture.weights, (means - centre) / scale, cov / scale / scale, model)
    Z = (X - centre) / scale
    resp = far_posteriors(Z, params, model)
    # P_k (mu_k - z) / scale in the data's units, from the precisions' factors.
    offsets = params.means[np.newaxis] - Z[:, np.newaxis]  # (n, K, d)
    scores = model.precision_products(params.precisions_cholesky, offsets)
    return np.einsum("nk,nki->ni", resp, scores) / scale


def sample(n_samples, random_state, mixture, model):
    """Draws from the mixture, grouped by component as in GaussianMixture.sample.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    """
    n_components, n_features = mixture.means.shape
    counts = random_state.multinomial(n_samples, mixture.weights)
    factors = model.sampling_factors(mixture.covariances, n_components, n_features)
    X = np.vstack([
        mean + random_state.standard_normal((count, n_features)) @ factor.T
        for mean, factor, count in zip(mixture.means, factors, counts)
    ])
    return X, np.repeat(np.arange(n_components), counts)
