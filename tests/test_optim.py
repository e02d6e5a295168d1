"""The optimiser: EM-matched steps and the closed-form weight update."""

import numpy as np
import pytest

from sklearn_ddpm_gmm._core._covariance import covariance_model
from sklearn_ddpm_gmm._ddpm import _optim
from sklearn_ddpm_gmm._ddpm._loss import draw_seeds, stein_objective
from sklearn_ddpm_gmm._ddpm._history import PhaseKind
from sklearn_ddpm_gmm._ddpm._optim import Phase, StopRule, run_fresh_noise, run_fixed_noise
from sklearn_ddpm_gmm._ddpm._score_model import MixtureParams
from sklearn_ddpm_gmm._ddpm._schedule import ALL_PARAMS

SPHERICAL = covariance_model("spherical", 1e-6)


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
    return run_fixed_noise(X, start, phase, seeds=seeds, model=SPHERICAL), seeds


def test_closed_form_weights_reach_the_gradient_fixed_point():
    X, _ = _overlapping_data()
    by_gradient, seeds = _fit(X, closed_form_weights=False)
    closed_form, _ = _fit(X, closed_form_weights=True)
    assert by_gradient.converged and closed_form.converged
    # The closed-form fixed point is a stationary point of the DDPM loss in every
    # block: its gradient vanishes there to the sampling precision ...
    _, grad, curvature = stein_objective(X, closed_form.params, 0.1, seeds=seeds,
                                         model=SPHERICAL)
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


# ------------------------------------------------ the rules, on scripted steps
# run_fixed_noise and run_fresh_noise get their objective and step from
# _objective_and_step; replacing it by a scripted loss and step isolates the
# stopping, line-search, reversal and averaging rules from the DDPM objective.

def _scripted(monkeypatch, loss_of, move):
    """Make the optimiser's loss ``loss_of(params)`` and its step ``move(params, rate)``."""
    def objective_and_step(X, phase, seeds, model, fixed=False, dealt=None, sq_norms=None):
        return (lambda params: (loss_of(params), None),
                lambda params, state, rate: move(params, rate))
    monkeypatch.setattr(_optim, "_objective_and_step", objective_and_step)


def _start():
    # Spherical, K = 2 = d (no span noise), unit variances, equal weights.
    return MixtureParams(np.zeros((2, 2)), np.zeros(2), np.zeros(2))


def _towards(target, share):
    """A step that moves the means ``share * rate`` of the way to target."""
    return lambda params, rate: params._replace(
        means=params.means + rate * share * (target - params.means))


_X = np.zeros((16, 2))
_TARGET = np.full((2, 2), 0.2)


def _run(phase, seeds=np.zeros(1, dtype=int)):
    return run_fixed_noise(_X, _start(), phase, seeds=seeds, model=SPHERICAL)


def _phase(max_steps, tol=1e-3, stop=StopRule.PARAMS, learning_rate=1.0):
    return Phase(PhaseKind.STEP, 0.1, max_steps, learning_rate, ALL_PARAMS, stop, tol)


def test_params_stop_at_the_first_change_below_tol(monkeypatch):
    _scripted(monkeypatch, lambda p: float(np.sum((_TARGET - p.means) ** 2)),
              _towards(_TARGET, 0.5))
    # Each mean moves by 0.1 (1, 1), then half as far each step: changes of
    # 0.14, 0.07, ... standard deviations, of which the 9th, 5.5e-4, is the
    # first below 1e-3.
    result = _run(_phase(50))
    assert result.converged and result.n_steps == 9
    assert result.learning_rate == 1.0
    result = _run(_phase(5))
    assert not result.converged and result.n_steps == 5


def test_span_stop_waits_until_the_change_settles_below_its_peak(monkeypatch):
    changes = iter([5e-4, 0.02, 0.26, 0.01, 5e-4, 1e-4])
    monkeypatch.setattr(_optim, "_span_change", lambda old, new: next(changes))
    # The loss rises at every step: the power phase is exempt from the line search.
    _scripted(monkeypatch, lambda p: float(np.sum(p.means)), _towards(_TARGET, 0.5))
    result = _run(_phase(50, stop=StopRule.SPAN))
    # Step 1 is below tol but also the peak so far; step 5 is below tol and
    # below a tenth of the peak 0.26.
    assert result.converged and result.n_steps == 5
    assert result.learning_rate == 1.0
    assert np.all(result.params.means > 0)  # every step was taken


def test_a_rising_step_below_the_resolution_ends_the_phase(monkeypatch):
    # Every step raises the loss and moves each mean by 0.1 * rate per
    # coordinate (|move| = 0.14 rate standard deviations).
    _scripted(monkeypatch, lambda p: 1.0 + p.means[0, 0],
              lambda p, r: p._replace(means=p.means + 0.1 * r))
    # Resolution 0: the rate halves down to its floor, and the steps are
    # taken from there (the line search's rule).
    halving = _run(_phase(12, tol=1e-12))
    assert not halving.converged and halving.learning_rate == 1.0 / 64
    # Resolution 0.05: the rejected steps at rates 1, 1/2 and 1/4 move 0.14,
    # 0.07 and 0.035 standard deviations; the third is below it and ends
    # the phase, converged, at the start (nothing was taken).
    ended = _run(_phase(12, tol=1e-12)._replace(resolution=0.05))
    assert ended.converged and ended.n_steps == 3 and ended.learning_rate == 0.25
    np.testing.assert_array_equal(ended.params.means, _start().means)


def test_line_search_rejects_a_rising_step_and_halves_the_rate(monkeypatch):
    # Steps overshoot the quadratic's minimum at rate 1 (the error becomes
    # -1.4 times itself), not at rate 0.5 (-0.2 times).
    _scripted(monkeypatch, lambda p: float(np.sum((_TARGET - p.means) ** 2)),
              _towards(_TARGET, 2.4))
    first = _run(_phase(1))
    np.testing.assert_array_equal(first.params.means, _start().means)  # rejected
    assert first.learning_rate == 0.5
    second = _run(_phase(2))
    np.testing.assert_allclose(second.params.means, 1.2 * _TARGET)  # taken at rate 0.5
    assert second.learning_rate == 0.5


@pytest.mark.parametrize("rise, rate", [(1e-9, 1.0), (1e-5, 1.0 / 64)])
def test_line_search_tolerates_rises_below_its_tolerance_and_stops_halving(
        monkeypatch, rise, rate):
    # Every step raises the loss by `rise` relative (the means grow by one).
    _scripted(monkeypatch, lambda p: 1.0 + rise * p.means[0, 0],
              lambda p, r: p._replace(means=p.means + 1.0))
    result = _run(_phase(12, tol=1e-12))
    # 1e-9 is below the tolerance: no halving. 1e-5 is above: the rate halves
    # to its floor, 1/64 of the phase's, and the steps are taken from there.
    assert result.learning_rate == rate
    assert result.params.means[0, 0] == 12 - np.log2(1 / rate)


def test_a_reversing_step_halves_the_rate(monkeypatch):
    # The loss is flat (the line search never rejects); at rate 1 each step
    # reflects the means through the target, a reversal (cosine -1).
    _scripted(monkeypatch, lambda p: 1.0, _towards(_TARGET, 2.0))
    assert _run(_phase(1, tol=1e-9)).learning_rate == 1.0  # nothing to compare with
    assert _run(_phase(2, tol=1e-9)).learning_rate == 0.5
    # Steps that keep their direction keep the rate.
    _scripted(monkeypatch, lambda p: 1.0, lambda p, r: p._replace(means=p.means + 0.1 * r))
    assert _run(_phase(10, tol=1e-9)).learning_rate == 1.0


def test_a_reversing_step_halves_the_power_phase_rate_too(monkeypatch):
    # The power phase grows its means like a power iteration and is exempt
    # from the line search, but a step that reflects the means back through
    # where they were (cosine -1) is a swing about the span's fixed point,
    # not growth: it halves the rate, after which the steps land on the
    # target. The span's change stays large, so nothing stops early.
    monkeypatch.setattr(_optim, "_span_change", lambda old, new: 1.0)
    _scripted(monkeypatch, lambda p: 1.0, _towards(_TARGET, 2.0))
    assert _run(_phase(1, tol=1e-3, stop=StopRule.SPAN)).learning_rate == 1.0
    assert _run(_phase(2, tol=1e-3, stop=StopRule.SPAN)).learning_rate == 0.5
    landed = _run(_phase(3, tol=1e-3, stop=StopRule.SPAN)).params.means
    np.testing.assert_allclose(landed, _TARGET)
    # Steps that keep their direction keep the power phase's rate.
    _scripted(monkeypatch, lambda p: 1.0, lambda p, r: p._replace(means=p.means + 0.1 * r))
    assert _run(_phase(10, tol=1e-3, stop=StopRule.SPAN)).learning_rate == 1.0


def test_a_variance_shrinking_far_below_the_noise_does_not_keep_a_phase_going(monkeypatch):
    # Each step shrinks component 0's variance by e^0.5 (the trust region's
    # most), from 1e-4, and moves nothing else. At t = 0.1 the phase sees
    # it only through a^2 v + s^2 with s^2 = 0.18: the noised variance moves
    # by 2e-4 in log terms, below tol, so the phase ends at its first step;
    # in clean units every step moves 0.5 and the phase runs its budget.
    start = _start()._replace(covariance=np.log([1e-4, 1.0]))
    _scripted(monkeypatch, lambda p: 1.0,
              lambda p, r: p._replace(covariance=p.covariance - [0.5, 0.0]))
    result = run_fixed_noise(_X, start, _phase(20, tol=1e-3), seeds=np.zeros(1, dtype=int),
                             model=SPHERICAL)
    assert result.converged and result.n_steps == 1
    # At t = 0 (no noise) the same steps are seen in full.
    at_zero = run_fixed_noise(_X, start, _phase(20, tol=1e-3)._replace(t=0.0),
                              seeds=np.zeros(1, dtype=int), model=SPHERICAL)
    assert not at_zero.converged and at_zero.n_steps == 20


def _final(max_steps=20, tol=1e-9):
    return Phase(PhaseKind.FINAL, 0.05, max_steps, 1.0, ALL_PARAMS, StopRule.PARAMS, tol,
                 covariance_rate=1.0)


def _fresh(max_draws, n_samples, phase=None):
    return run_fresh_noise(_X, _start(), phase or _final(),
                           random_state=np.random.RandomState(0), model=SPHERICAL,
                           max_draws=max_draws, n_samples=n_samples)


def test_burn_in_ends_once_a_step_moves_less_than_a_standard_error(monkeypatch):
    # n = 100, unit variances, weights 1/2, d = 2: a move of delta in every
    # coordinate of every mean is 50 delta^2 standard errors. Moves 0.9 (40.5),
    # 0.45 (10.1), 0.18 (1.6) and 0.1 (0.5): the fourth ends the burn-in.
    moves = iter([0.9, 0.45, 0.18, 0.1, 0.05])
    _scripted(monkeypatch, lambda p: 1.0, lambda p, r: p._replace(means=p.means + next(moves)))
    result = _fresh(max_draws=1, n_samples=100)
    assert result.converged and result.n_burn_in == 4
    np.testing.assert_allclose(result.params.means, 1.63)
    assert (result.n_averaged, len(result.losses)) == (1, 4)


def test_burn_in_halves_the_rate_when_the_movement_grows(monkeypatch):
    # Moves of 0.9 then 1.8 times the rate: 40.5 then 162 standard errors,
    # more than 1.5 times the first, an overshoot.
    moves = iter([0.9, 1.8, 0.9])
    _scripted(monkeypatch, lambda p: 1.0,
              lambda p, r: p._replace(means=p.means + r * next(moves)))
    result = _fresh(max_draws=1, n_samples=100, phase=_final(max_steps=2))
    assert not result.converged and result.learning_rate == 0.5
    # Moves that shrink keep the rate.
    moves = iter([0.9, 0.8, 0.7])
    result = _fresh(max_draws=1, n_samples=100, phase=_final(max_steps=3))
    assert not result.converged and result.learning_rate == 1.0


def _noisy_iterates(monkeypatch, scale):
    """Burn-in: a jump of the means to 5, then a step that moves nothing (the
    rule is met); the averaged steps then jump to fresh iterates spread by
    ``scale`` around 5. Returns the list of iterates."""
    rng = np.random.default_rng(0)
    iterates = []

    def move(params, rate):
        if len(iterates) < 2:
            new = params._replace(means=np.full((2, 2), 5.0))
        else:
            new = MixtureParams(5.0 + scale * rng.standard_normal((2, 2)), params.covariance,
                                0.1 * scale * rng.standard_normal(2))
        iterates.append(new)
        return new
    _scripted(monkeypatch, lambda p: 1.0, move)
    return iterates


@pytest.mark.parametrize("max_draws", [2, 7, 16])
def test_averaging_stops_at_n_noise_draws_when_the_noise_stays_large(monkeypatch, max_draws):
    # Iterates spread by 10 on 1e6 rows: the Monte Carlo variance never falls
    # below 8% of the statistical one, so every allowed draw is averaged.
    iterates = _noisy_iterates(monkeypatch, 10.0)
    result = _fresh(max_draws, n_samples=10**6)
    assert result.n_burn_in == 2 and result.converged
    assert result.n_averaged == max_draws
    assert len(result.losses) == 2 + (max_draws - 1)
    # The average is that of the last burn-in iterate and the steps after it.
    averaged = iterates[1:]
    np.testing.assert_allclose(result.params.means,
                               np.mean([p.means for p in averaged], axis=0), rtol=1e-12)
    np.testing.assert_allclose(result.params.weight_logits,
                               np.mean([p.weight_logits for p in averaged], axis=0), rtol=1e-12)


@pytest.mark.parametrize("max_draws, expected", [(0, 1), (1, 1), (2, 2), (16, 3)])
def test_averaging_stops_after_the_fewest_draws_when_there_is_no_noise(
        monkeypatch, max_draws, expected):
    # Identical iterates: the rule is met as soon as it is checked, after
    # min(3, max_draws) draws; 0 or 1 keeps the last burn-in iterate.
    _noisy_iterates(monkeypatch, 0.0)
    result = _fresh(max_draws, n_samples=100)
    assert result.n_averaged == expected
    np.testing.assert_allclose(result.params.means, 5.0, rtol=1e-15)


def test_trust_region_shrinks_only_the_parts_beyond_the_bound():
    step = np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
    norms = np.linalg.norm(step, axis=1)  # 5, 0.5, 0
    np.testing.assert_allclose(_optim._trust_region(step, norms, 1.0),
                               [[0.6, 0.8], [0.3, 0.4], [0.0, 0.0]], rtol=1e-15)
    # Entry by entry (the logits): a clip to [-bound, bound], to rounding.
    logits_step = np.array([-2.0, -0.1, 0.0, 0.3, 7.0])
    np.testing.assert_allclose(_optim._trust_region(logits_step, np.abs(logits_step), 0.5),
                               np.clip(logits_step, -0.5, 0.5), rtol=1e-15)
