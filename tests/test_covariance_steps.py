"""Each covariance type's parametrisation and step (_covariance.py), unit by unit."""

import numpy as np
import pytest

from sklearn_ddpm_gmm._ddpm._coordinates import (
    _MAX_LOG_VARIANCE_STEP,
    capped,
    covariance_step,
    log_covariance_change,
)
from sklearn_ddpm_gmm._core._covariance import COVARIANCE_TYPES, covariance_model
from sklearn_ddpm_gmm._ddpm._forward import noise_coefficients
from sklearn_ddpm_gmm._ddpm._loss import draw_seeds, stein_objective
from sklearn_ddpm_gmm._ddpm._score_model import MixtureParams

LEARNED = ("full", "tied", "diag", "spherical")
K, D, REG = 3, 4, 1e-6


def _random_spd(rng, n_features):
    A = rng.standard_normal((n_features, n_features))
    return A @ A.T / n_features + 0.3 * np.eye(n_features)


def _random_covariances(kind, rng):
    """Covariances of K components in d = D, in GaussianMixture's shapes."""
    if kind in ("spherical", "identity"):
        return rng.uniform(0.2, 3.0, K)
    if kind == "diag":
        return rng.uniform(0.2, 3.0, (K, D))
    if kind == "tied":
        return _random_spd(rng, D)
    return np.array([_random_spd(rng, D) for _ in range(K)])


def _random_symmetric(kind, shape, rng):
    G = rng.standard_normal(shape)
    return 0.5 * (G + np.swapaxes(G, -1, -2)) if kind in ("full", "tied") else G


@pytest.mark.parametrize("kind", COVARIANCE_TYPES)
def test_coordinates_and_covariances_round_trip(kind):
    rng = np.random.default_rng(0)
    model = covariance_model(kind, REG)
    cov = _random_covariances(kind, rng)
    c = model.to_coordinates(cov)
    np.testing.assert_allclose(model.from_coordinates(c), cov, rtol=1e-10)
    np.testing.assert_allclose(model.to_coordinates(model.from_coordinates(c)), c,
                               rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("kind", COVARIANCE_TYPES)
def test_coordinates_floor_covariances_below_reg_covar(kind):
    cov = 0.5 * REG * (np.eye(D) if kind in ("full", "tied") else np.ones(1))
    if kind == "full":
        cov = cov[np.newaxis]
    model = covariance_model(kind, REG)
    back = model.from_coordinates(model.to_coordinates(cov))
    eigvals = np.linalg.eigvalsh(back) if kind in ("full", "tied") else back
    assert np.all(eigvals > REG) and np.all(eigvals < REG * (1 + 1e-6))


def _step(model, c, grad_T, scale=1.0, t=0.1):
    a, s2 = noise_coefficients(t)
    T = model.noised(model.from_coordinates(c), a, s2)
    return covariance_step(c, grad_T, T, mean_resp=np.full(K, 0.3), a=a, scale=scale,
                           model=model, n_features=D)


@pytest.mark.parametrize("kind", LEARNED)
@pytest.mark.parametrize("size", [1e-3, 1e6])
def test_covariance_step_stays_positive_definite_within_its_bound(kind, size):
    rng = np.random.default_rng(1)
    model, unregularised = covariance_model(kind, REG), covariance_model(kind, 0.0)
    c = model.to_coordinates(_random_covariances(kind, rng))
    for _ in range(5):
        grad_T = size * _random_symmetric(kind, c.shape, rng)
        new = _step(model, c, grad_T)
        old_sigma = unregularised.from_coordinates(c)
        new_sigma = unregularised.from_coordinates(new)
        if kind in ("full", "tied"):
            np.linalg.cholesky(model.from_coordinates(new))  # raises if indefinite
            assert np.all(np.linalg.eigvalsh(new_sigma) > 0)
        else:
            assert np.all(new_sigma > 0)
        # No eigenvalue of Sigma - reg moves by more than the bound in log
        # terms, and a huge gradient takes the whole of it.
        change = log_covariance_change(old_sigma, new_sigma, model)
        assert change <= _MAX_LOG_VARIANCE_STEP * (1 + 1e-9)
        if size > 1:
            assert change == pytest.approx(_MAX_LOG_VARIANCE_STEP, rel=1e-6)
        else:
            assert change < 0.1 * _MAX_LOG_VARIANCE_STEP
        c = new


@pytest.mark.parametrize("kind", LEARNED)
def test_covariance_step_follows_the_gradient_to_first_order(kind):
    # A small step decreases the loss's linearisation: <grad_Sigma, dSigma> < 0.
    rng = np.random.default_rng(2)
    model = covariance_model(kind, REG)
    c = model.to_coordinates(_random_covariances(kind, rng))
    for _ in range(5):
        grad_T = 1e-4 * _random_symmetric(kind, c.shape, rng)
        delta = model.from_coordinates(_step(model, c, grad_T)) - model.from_coordinates(c)
        assert np.sum(grad_T * delta) < 0


@pytest.mark.parametrize("kind", LEARNED)
@pytest.mark.parametrize("t", [0.05, 0.8])
def test_small_covariance_step_is_the_gauss_newton_step(kind, t):
    # covariance_step's docstring: Delta Sigma = H^{-1} grad_T / a^2 with the
    # curvature H in T, 2 d m / T^3 for one variance (d m -> m per diag entry)
    # and m (tau_k + tau_l) / (tau_k^2 tau_l^2) in T's eigenbasis (tied: the
    # total mass).
    rng = np.random.default_rng(4)
    model = covariance_model(kind, REG)
    c = model.to_coordinates(_random_covariances(kind, rng))
    a, s2 = noise_coefficients(t)
    T = model.noised(model.from_coordinates(c), a, s2)
    mass = np.full(K, 0.3)
    grad_T = 1e-7 * _random_symmetric(kind, c.shape, rng)
    new = covariance_step(c, grad_T, T, mean_resp=mass, a=a, scale=0.7, model=model,
                          n_features=D)
    delta = model.from_coordinates(c) - model.from_coordinates(new)
    if kind == "spherical":
        expected = grad_T * T**3 / (2 * D * mass)
    elif kind == "diag":
        expected = grad_T * T**3 / (2 * mass[:, np.newaxis])
    else:
        tau, V = np.linalg.eigh(T)
        m = mass.sum() if kind == "tied" else mass[:, None, None]
        pair = tau[..., :, None] + tau[..., None, :]
        H = m * pair / (tau[..., :, None] ** 2 * tau[..., None, :] ** 2)
        Vt = np.swapaxes(V, -1, -2)
        expected = V @ ((Vt @ grad_T @ V) / H) @ Vt
    np.testing.assert_allclose(delta, 0.7 * expected / a**2, rtol=1e-4,
                               atol=1e-4 * np.max(np.abs(expected / a**2)))


def test_identity_covariances_do_not_move():
    model = covariance_model("identity", REG)
    c = model.to_coordinates(np.ones(K))
    np.testing.assert_array_equal(_step(model, c, 1e3 * np.ones(K)), c)


def _two_clusters(seed=0, n=4000):
    """Two far-apart Gaussian clusters, their sample means and covariances."""
    rng = np.random.default_rng(seed)
    centres = np.array([[-6.0, 0.0, 0.0, 0.0], [6.0, 0.0, 0.0, 0.0]])
    X = np.concatenate([rng.multivariate_normal(centre, _random_spd(rng, D), size=n // 2)
                        for centre in centres])
    halves = (X[: n // 2], X[n // 2:])
    means = np.array([h.mean(axis=0) for h in halves])
    covs = np.array([np.cov(h, rowvar=False, bias=True) for h in halves])
    return X, means, covs


def _em_update(kind, covs):
    """EM's covariances at the clusters' means, with (near-hard) posteriors."""
    return {"full": covs, "tied": covs.mean(axis=0),
            "diag": np.diagonal(covs, axis1=1, axis2=2),
            "spherical": np.trace(covs, axis1=1, axis2=2) / D}[kind]


def _turned(kind, target):
    """target with its eigenvalues (variances) scaled by exp(+-0.3)."""
    if kind in ("full", "tied"):
        root = np.linalg.cholesky(target)
        return root @ np.diag(np.exp([0.3, -0.3, 0.2, 0.0])) @ np.swapaxes(root, -1, -2)
    return target * np.exp(0.3 * np.resize([1.0, -1.0, 1.0], target.shape))


@pytest.mark.parametrize("kind", LEARNED)
@pytest.mark.parametrize("t, contraction", [(0.01, 0.2), (0.5, 0.9)])
def test_unit_step_moves_towards_the_em_update(kind, t, contraction):
    # From a start within the trust region, the EM-matched step at unit rate
    # moves most of the way to EM's update at small noise (to first order: the
    # step is taken multiplicatively, ~0.16 of the distance is left), and
    # part of the way at large noise, where the noise dominates T.
    X, means, covs = _two_clusters()
    target = _em_update(kind, covs)
    model = covariance_model(kind, REG)
    params = MixtureParams(means, model.to_coordinates(_turned(kind, target)), np.zeros(2))
    seeds = draw_seeds(np.random.RandomState(0), len(X))
    _, _, curvature = stein_objective(X, params, t, seeds=seeds, model=model)
    np.testing.assert_allclose(curvature.mean_resp, 0.5, atol=1e-3)  # separated
    a, _ = noise_coefficients(t)
    new = covariance_step(params.covariance, curvature.noised_gradient,
                          curvature.noised_covariances, mean_resp=curvature.mean_resp, a=a,
                          scale=1.0, model=model, n_features=D)
    before = log_covariance_change(target, model.from_coordinates(params.covariance), model)
    after = log_covariance_change(target, model.from_coordinates(new), model)
    assert before == pytest.approx(0.3, rel=1e-6)
    assert after < contraction * before


@pytest.mark.parametrize("kind", LEARNED)
def test_capped_bounds_every_variance_and_leaves_the_rest(kind):
    rng = np.random.default_rng(3)
    model = covariance_model(kind, REG)
    c = model.to_coordinates(_random_covariances(kind, rng))
    # Within the bound: the same coordinates, not a recomputed copy.
    assert capped(c, model, 1e3) is c
    cov = model.from_coordinates(capped(c, model, 1.0))
    eigvals = np.linalg.eigvalsh(cov) if kind in ("full", "tied") else cov
    assert np.all(eigvals <= 1.0 + REG + 1e-9)
    assert np.max(eigvals) == pytest.approx(1.0 + REG, rel=1e-9)
