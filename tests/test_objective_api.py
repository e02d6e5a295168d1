"""The public DDPM objective and step (sklearn_ddpm_gmm.objective)."""

import numpy as np
import pytest
from scipy.special import softmax

from sklearn_ddpm_gmm.datasets import make_separated_mixture, make_symmetric_mixture
from sklearn_ddpm_gmm.objective import ddpm_loss, ddpm_step


def _em_means(X, means):
    """One EM step on the means of an equal-weight unit-variance mixture."""
    log_resp = -0.5 * ((X[:, np.newaxis, :] - means[np.newaxis]) ** 2).sum(axis=-1)
    resp = softmax(log_resp, axis=1)
    return resp.T @ X / resp.sum(axis=0)[:, np.newaxis]


def test_small_noise_step_is_close_to_an_em_step():
    X, _, true_means = make_separated_mixture(20_000, 5, 3, separation=3.0, random_state=0)
    start = true_means + 0.5 * np.random.RandomState(1).standard_normal(true_means.shape)
    em = _em_means(X, start)
    _, means, _ = ddpm_step(X, np.full(3, 1 / 3), start, None, 0.1,
                            covariance_type="identity", learn=("means",), random_state=0)
    em_move, ddpm_move = (em - start).ravel(), (means - start).ravel()
    cosine = em_move @ ddpm_move / np.linalg.norm(em_move) / np.linalg.norm(ddpm_move)
    assert cosine > 0.95
    assert np.linalg.norm(ddpm_move - em_move) < 0.5 * np.linalg.norm(em_move)


def test_large_noise_steps_are_a_power_iteration():
    X, _, true_means = make_symmetric_mixture(5000, 20, 1.5, random_state=0)
    Z = (X - X.mean(axis=0)) / np.sqrt(np.mean((X - X.mean(axis=0)) ** 2))
    direction = true_means[0] / np.linalg.norm(true_means[0])
    variance = float(np.median(np.linalg.eigvalsh(np.cov(Z, rowvar=False))))
    # A start orthogonal to the means' direction but for a small part of it.
    rng = np.random.RandomState(3)
    start = rng.standard_normal(20)
    start -= (start @ direction) * direction
    start = 0.01 * (start / np.linalg.norm(start) + 0.05 * direction)
    means = np.array([start, -start])
    first = abs(means[0] @ direction) / np.linalg.norm(means[0])
    for _ in range(30):
        _, means, _ = ddpm_step(Z, [0.5, 0.5], means, np.full(2, variance), 0.75,
                                covariance_type="spherical", learn=("means",),
                                learning_rate=2.0, centred=True, random_state=0)
    cosine = abs(means[0] @ direction) / np.linalg.norm(means[0])
    assert first < 0.1 and cosine > 0.95
    np.testing.assert_allclose(means.mean(axis=0), 0.0, atol=1e-12)  # centred


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_a_step_lowers_the_loss_of_its_noise_draw(covariance_type):
    X, _, true_means = make_separated_mixture(4000, 3, 2, separation=4.0, random_state=2)
    cov = {"full": np.stack([2.0 * np.eye(3)] * 2), "tied": 2.0 * np.eye(3),
           "diag": np.full((2, 3), 2.0), "spherical": np.full(2, 2.0)}[covariance_type]
    start = true_means + 0.3
    args = dict(covariance_type=covariance_type, random_state=5)
    before = ddpm_loss(X, [0.5, 0.5], start, cov, 0.05, **args)
    weights, means, stepped = ddpm_step(X, [0.5, 0.5], start, cov, 0.05, **args)
    after = ddpm_loss(X, weights, means, stepped, 0.05, **args)
    assert after < before
    assert stepped.shape == np.shape(cov)
    np.testing.assert_allclose(weights.sum(), 1.0)


def test_inputs_are_not_modified_and_bad_inputs_raise():
    X = np.random.RandomState(0).standard_normal((200, 2))
    means, weights, cov = np.zeros((2, 2)) + [[1.0], [-1.0]], np.array([0.5, 0.5]), np.ones(2)
    copies = X.copy(), means.copy(), weights.copy(), cov.copy()
    ddpm_step(X, weights, means, cov, 0.1, covariance_type="spherical", random_state=0)
    for original, copy in zip((X, means, weights, cov), copies):
        np.testing.assert_array_equal(original, copy)
    with pytest.raises(ValueError, match="shape"):
        ddpm_step(X, weights, means, np.ones(3), 0.1, covariance_type="spherical")
    with pytest.raises(ValueError, match="features"):
        ddpm_loss(X, weights, np.zeros((2, 3)), cov, 0.1, covariance_type="spherical")
    with pytest.raises(ValueError, match="positive"):
        ddpm_loss(X, [1.0, 0.0], means, cov, 0.1, covariance_type="spherical")
    with pytest.raises(ValueError, match="learn"):
        ddpm_step(X, weights, means, cov, 0.1, covariance_type="spherical",
                  learn=("mean",))
    with pytest.raises(ValueError):
        ddpm_loss(X, weights, means, cov, 0.0, covariance_type="spherical")
    with pytest.raises(ValueError, match="positive"):
        ddpm_loss(X, weights, means, np.array([-1.0, 1.0]), 0.1, covariance_type="spherical")
    with pytest.raises(ValueError, match="positive"):
        ddpm_loss(X, weights, means, np.stack([np.eye(2), -np.eye(2)]), 0.1)
    with pytest.raises(ValueError, match="required"):
        ddpm_loss(X, weights, means, None, 0.1, covariance_type="diag")
    # Parameters that do not move are returned as copies.
    _, same_means, _ = ddpm_step(X, weights, means, cov, 0.1, covariance_type="spherical",
                                 learn=("covariances",), random_state=0)
    assert same_means is not means
    np.testing.assert_array_equal(same_means, means)
