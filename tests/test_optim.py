"""The optimiser: EM-matched steps and the closed-form weight update."""

import numpy as np

from sklearn_ddpm_gmm._objective import draw_seeds, stein_objective
from sklearn_ddpm_gmm._history import PhaseKind
from sklearn_ddpm_gmm._optim import Phase, StopRule, run_phase
from sklearn_ddpm_gmm._score_model import MixtureParams
from sklearn_ddpm_gmm._schedule import ALL_PARAMS


def _overlapping_data(seed=0, n=40_000):
    # Overlapping components: the loss is well conditioned in the weights too.
    rng = np.random.default_rng(seed)
    means = np.array([[-0.8, 0.0], [0.8, 0.3]])
    y = (rng.random(n) < 0.3).astype(int)
    return means[y] + 0.6 * rng.standard_normal((n, 2)), means


def _fit(X, closed_form_weights, t=0.1):
    phase = Phase(PhaseKind.FINAL, t, 2000, 1.0, ALL_PARAMS, StopRule.PARAMS, 1e-9,
                  closed_form_weights=closed_form_weights)
    start = MixtureParams(np.array([[-0.5, 0.0], [0.5, 0.0]]), np.log([0.5, 0.5]),
                            np.zeros(2))
    seeds = draw_seeds(np.random.RandomState(1), X.shape[0])
    return run_phase(X, start, phase, seeds, 1e-6), seeds


def test_closed_form_weights_reach_the_gradient_fixed_point():
    X, _ = _overlapping_data()
    by_gradient, seeds = _fit(X, closed_form_weights=False)
    closed_form, _ = _fit(X, closed_form_weights=True)
    assert by_gradient.converged and closed_form.converged
    # The closed-form fixed point is a stationary point of the DDPM loss in every
    # block: its gradient vanishes there to the sampling precision ...
    _, grad, curvature = stein_objective(X, closed_form.params, 0.1, seeds, 1e-6)
    newton_step = grad.weight_logits / curvature.weight_logits
    assert np.max(np.abs(newton_step)) < 0.05
    # ... and it agrees with the gradient-only fixed point within sampling error.
    np.testing.assert_allclose(by_gradient.params.weights(), closed_form.params.weights(),
                               atol=0.01)
    np.testing.assert_allclose(by_gradient.params.means, closed_form.params.means, atol=0.02)
    np.testing.assert_allclose(closed_form.params.weights(), [0.7, 0.3], atol=0.02)


def test_em_matched_step_converges_in_few_steps():
    X, means = _overlapping_data(seed=2)
    result, _ = _fit(X, closed_form_weights=True)
    assert result.n_steps < 200
    losses = np.asarray(result.losses)
    # The loss (one fixed Monte Carlo version of it) settles: last steps flat.
    assert abs(losses[-1] - losses[-10]) < 1e-6 * abs(losses[-1]) + 1e-9
