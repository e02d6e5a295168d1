"""The DDPM objective, its two forms and their analytic gradients."""

import numpy as np
import pytest
from scipy.special import logsumexp

from sklearn_ddpm_gmm._ddpm import _loss as _objective
from sklearn_ddpm_gmm._ddpm import _span_noise
from sklearn_ddpm_gmm._ddpm._coordinates import coordinate_gradient
from sklearn_ddpm_gmm._core._covariance import COVARIANCE_TYPES, covariance_model
from sklearn_ddpm_gmm._ddpm._forward import noise_antithetic, noise_coefficients
from sklearn_ddpm_gmm._ddpm._spherical_pass import spherical_stein_loss_grad
from sklearn_ddpm_gmm._ddpm._score_model import (
    MixtureParams,
    log_prob_and_resp,
    score,
    stein_loss_grad,
)

from _reference import (
    INTEGRATED_T_MAX,
    INTEGRATED_T_MIN,
    ddpm_loss_grad,
    integrated_level,
    integrated_objective,
)

REG = 1e-3
SPHERICAL = covariance_model("spherical", REG)


TYPES = [c for c in COVARIANCE_TYPES if c != "identity"]


def _random_coordinates(rng, covariance_type, K, d):
    """Coordinates of random, moderately anisotropic covariances."""
    if covariance_type == "spherical":
        return 0.3 * rng.standard_normal(K)
    if covariance_type == "diag":
        return 0.3 * rng.standard_normal((K, d))
    shape = (K, d, d) if covariance_type == "full" else (d, d)
    c = 0.3 * rng.standard_normal(shape)
    return np.tril(c)


def _problem(seed=0, n=150, d=3, K=3, covariance_type="spherical"):
    rng = np.random.default_rng(seed)
    X0 = 1.5 * rng.standard_normal((n, d))
    z = rng.standard_normal((n, d))
    params = MixtureParams(
        rng.standard_normal((K, d)),
        _random_coordinates(rng, covariance_type, K, d),
        rng.standard_normal(K),
    )
    return X0, z, params


def _finite_difference(loss, params, eps=1e-6):
    grads = []
    for k, block in enumerate(params):
        fd = np.zeros_like(block)
        for idx in np.ndindex(block.shape):
            shifted = []
            for sign in (1, -1):
                moved = block.copy()
                moved[idx] += sign * eps
                shifted.append(loss(MixtureParams(*[
                    moved if j == k else b for j, b in enumerate(params)
                ])))
            fd[idx] = (shifted[0] - shifted[1]) / (2 * eps)
        grads.append(fd)
    return grads


def _relative_error(analytic, numeric):
    return max(
        np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12)
        for a, b in zip(analytic, numeric)
    )


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("t", [0.05, 0.4, 1.5])
def test_plain_ddpm_gradient_matches_finite_differences(t, covariance_type):
    X0, z, params = _problem(covariance_type=covariance_type)
    _, grad = ddpm_loss_grad(X0, z, params, t=t,
                             model=covariance_model(covariance_type, REG))
    numeric = _finite_difference(
        lambda p: ddpm_loss_grad(X0, z, p, t=t,
                                 model=covariance_model(covariance_type, REG))[0], params
    )
    assert _relative_error(grad, numeric) < 1e-6


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("t", [0.0, 0.05, 0.4, 1.5])
def test_stein_gradient_matches_finite_differences(t, covariance_type):
    X0, z, params = _problem(seed=1, covariance_type=covariance_type)
    a, s2 = noise_coefficients(t)
    Xt = a * X0 + np.sqrt(s2) * z
    _, grad, _ = stein_loss_grad(Xt, params, t, model=covariance_model(covariance_type, REG))
    numeric = _finite_difference(
        lambda p: stein_loss_grad(Xt, p, t,
                                  model=covariance_model(covariance_type, REG))[0], params
    )
    assert _relative_error(grad, numeric) < 1e-6


@pytest.mark.parametrize("covariance_type", TYPES)
def test_stein_form_has_the_plain_loss_and_gradient_in_expectation(covariance_type):
    # Same clean points, many noise draws: the two forms agree to Monte Carlo error.
    rng = np.random.default_rng(3)
    X0, _, params = _problem(seed=2, n=20, d=2, K=2, covariance_type=covariance_type)
    t = 0.3
    n_draws = 4000
    X0_rep = np.tile(X0, (n_draws, 1))
    z = rng.standard_normal(X0_rep.shape)
    plain_loss, plain_grad = ddpm_loss_grad(X0_rep, z, params, t=t,
                                            model=covariance_model(covariance_type, REG))
    Xt = noise_antithetic(X0_rep, z, t)
    stein_loss, stein_grad, _ = stein_loss_grad(Xt, params, t,
                                                model=covariance_model(covariance_type, REG))
    assert stein_loss == pytest.approx(plain_loss, rel=0.01)
    for g_plain, g_stein in zip(plain_grad, stein_grad):
        scale = np.max(np.abs(g_stein))
        assert np.max(np.abs(g_plain - g_stein)) < 0.05 * scale


def test_stein_gradient_has_lower_variance_than_plain():
    rng = np.random.default_rng(4)
    X0, _, params = _problem(seed=5, n=50, d=3, K=2)
    t = 0.1
    plain, stein = [], []
    for _ in range(30):
        z = rng.standard_normal(X0.shape)
        plain.append(ddpm_loss_grad(X0, z, params, t=t, model=SPHERICAL)[1].means)
        stein.append(stein_loss_grad(noise_antithetic(X0, z, t), params, t,
                                     SPHERICAL)[1].means)
    assert np.var(stein, axis=0).sum() < 0.1 * np.var(plain, axis=0).sum()


def _exact_noised_log_density(x, means, variances, weights, t):
    a, s2 = noise_coefficients(t)
    d = means.shape[1]
    tau = a * a * variances + s2
    sq = ((x - a * means) ** 2).sum(axis=1)
    return logsumexp(np.log(weights) - 0.5 * d * np.log(2 * np.pi * tau) - sq / (2 * tau))


@pytest.mark.parametrize("t", [0.0, 0.2, 2.0])
def test_score_is_the_gradient_of_the_noised_log_density(t):
    rng = np.random.default_rng(6)
    means = rng.standard_normal((3, 2)) * 3
    variances = np.array([0.5, 1.0, 2.0])
    weights = np.array([0.2, 0.3, 0.5])
    params = MixtureParams(means, np.log(variances), np.log(weights))
    X = rng.standard_normal((10, 2)) * 3
    S = score(X, params, t, covariance_model("spherical", 0.0))
    eps = 1e-6
    for n in range(len(X)):
        for j in range(2):
            e = np.zeros(2)
            e[j] = eps
            fd = (_exact_noised_log_density(X[n] + e, means, variances, weights, t)
                  - _exact_noised_log_density(X[n] - e, means, variances, weights, t)) / (2 * eps)
            assert S[n, j] == pytest.approx(fd, rel=1e-6, abs=1e-8)


def test_posteriors_are_finite_far_from_every_component():
    params = MixtureParams(np.array([[0.0], [1.0]]), np.log([1e-4, 1e-4]), np.zeros(2))
    X = np.array([[1e6], [-1e6], [0.5]])
    log_prob, resp = log_prob_and_resp(X, params, 0.0, covariance_model("spherical", 0.0))
    assert np.all(np.isfinite(resp)) and np.allclose(resp.sum(axis=1), 1.0)
    assert np.isfinite(log_prob[2])
    np.testing.assert_allclose(resp[:2], [[0, 1], [1, 0]], atol=1e-12)


@pytest.mark.parametrize("covariance_type", ["spherical", "diag", "full"])
def test_blocked_pass_equals_one_evaluation_on_the_stacked_noised_points(
        covariance_type, monkeypatch):
    # stein_objective adds up blocks; with each block's noise rebuilt from its
    # seed, the result is stein_loss_grad on all the antithetic points at once.
    monkeypatch.setattr(_objective, "BLOCK_ROWS", 70)
    X0, _, params = _problem(seed=3, n=250, covariance_type=covariance_type)
    t = 0.3
    seeds = _objective.draw_seeds(np.random.RandomState(0), len(X0))
    assert len(seeds) == 4
    blocks = [X0[i:i + 70] for i in range(0, 250, 70)]
    stacked = np.concatenate([
        noise_antithetic(B, _objective.block_noise(seed, B.shape), t)
        for B, seed in zip(blocks, seeds)
    ])
    # Row averages: the stacked pair order does not matter.
    loss, grad, curv = _objective.stein_objective(X0, params, t, seeds=seeds,
                                                  model=covariance_model(covariance_type, REG))
    ref_loss, ref_grad, ref_curv = stein_loss_grad(stacked, params, t,
                                                   model=covariance_model(covariance_type, REG))
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
    for block, ref in zip(grad, ref_grad):
        np.testing.assert_allclose(block, ref, rtol=1e-10, atol=1e-12)
    for block, ref in zip(curv, ref_curv):
        np.testing.assert_allclose(block, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("covariance_type", ["spherical", "identity"])
def test_span_noise_has_the_full_noise_expectation_and_less_variance(covariance_type):
    # Span noise draws r + 2 numbers a point instead of d and integrates the
    # rest out: the same gradient in expectation, with lower variance.
    X0, _, params = _problem(seed=5, n=200, d=8, K=2, covariance_type=covariance_type)
    if covariance_type == "identity":
        params = params._replace(covariance=np.zeros(2))
    t = 0.3
    assert _span_noise.uses_span_noise(covariance_model(covariance_type, REG), 2, 8)
    span, full = [], []
    for seed in range(300):
        span.append(_objective.stein_objective(
            X0, params, t, seeds=[seed], model=covariance_model(covariance_type, REG))[1])
        z = np.random.default_rng(10_000 + seed).standard_normal(X0.shape)
        full.append(stein_loss_grad(noise_antithetic(X0, z, t), params, t,
                                    model=covariance_model(covariance_type, REG))[1])
    for block in range(3):
        if covariance_type == "identity" and block == 1:
            continue  # unit variances are not learned
        a = np.array([np.ravel(g[block]) for g in span])
        b = np.array([np.ravel(g[block]) for g in full])
        se = np.sqrt(a.var(axis=0) / len(a) + b.var(axis=0) / len(b))
        z_scores = (a.mean(axis=0) - b.mean(axis=0)) / se
        assert np.all(np.abs(z_scores) < 4.5), (block, z_scores)
        # The means' gradient loses the noise orthogonal to the span (ratio
        # 0.79-0.80 over 3 000 draws); the variances' and weights' keep the
        # chi-square part of |x_t|^2 (0.99-1.03). A ratio of variances from
        # 300 draws is itself uncertain by about +-0.1.
        ratio = a.var(axis=0).sum() / b.var(axis=0).sum()
        assert ratio < (0.9 if block == 0 else 1.3), (block, ratio)


def _span_noised(X0, means, t, rng):
    basis = _span_noise.span_basis(means)
    draws = _span_noise.span_draws(rng, len(X0), basis.shape[1], n_features=X0.shape[1])
    return _span_noise.span_noised(X0, basis, t, draws=draws)


def test_span_points_answer_as_the_stand_ins_they_replace():
    # SpanPoints never form the (2 n, d) stand-ins; their products with the
    # means and weighted sums must equal the stand-ins' own, and their squared
    # norms exceed the stand-ins' by the same chi-square part in both halves.
    X0, _, params = _problem(seed=2, n=120, d=9, K=3)
    points = _span_noised(X0, params.means, 0.4, np.random.default_rng(1))
    dense = points.to_array()
    assert points.shape == dense.shape == (240, 9)
    np.testing.assert_allclose(points.dot(params.means), dense @ params.means.T,
                               rtol=1e-12, atol=1e-12)
    B = np.random.default_rng(2).standard_normal((240, 3))
    np.testing.assert_allclose(points.weighted_sum(B), B.T @ dense, rtol=1e-12, atol=1e-10)
    extra = points.sq_norms - np.einsum("ij,ij->i", dense, dense)
    assert np.all(extra >= -1e-12)
    np.testing.assert_allclose(extra[:120], extra[120:], atol=1e-10)


def test_float32_points_are_noised_in_float32(monkeypatch):
    # A numpy float64 scalar (np.sqrt of a float) promotes float32 arrays
    # under NEP 50: the noising must keep the passes' precision throughout.
    X0, _, params = _problem(seed=2, n=64, d=9, K=3)
    X0 = X0.astype(np.float32)
    z = np.random.default_rng(0).standard_normal(X0.shape).astype(np.float32)
    assert noise_antithetic(X0, z, 0.3).dtype == np.float32
    basis = _span_noise.span_basis(params.means)
    draws = _span_noise.span_draws(np.random.default_rng(1), 64, basis.shape[1],
                                   n_features=9, dtype=np.float32)
    promoted = []
    original = _span_noise.row_dots

    def checked(A, B):
        promoted.append(np.result_type(A, B) != np.float32)
        return original(A, B)

    monkeypatch.setattr(_span_noise, "row_dots", checked)
    points = _span_noise.span_noised(X0, basis, 0.3, draws=draws)
    assert promoted and not any(promoted)
    assert points.coords.dtype == points.sq_norms.dtype == np.float32


@pytest.mark.parametrize("covariance_type", ["spherical", "identity"])
@pytest.mark.parametrize("t, span", [(0.0, False), (0.05, False), (0.7, False),
                                     (0.05, True), (0.7, True)])
def test_spherical_pass_equals_the_general_one(covariance_type, t, span):
    # The (K, n) spherical pass restates stein_loss_grad's formulas; on the
    # same points (arrays or span points) it must give the same numbers.
    X0, z, params = _problem(seed=4, n=160, d=7, K=3, covariance_type="spherical")
    if covariance_type == "identity":
        params = params._replace(covariance=np.zeros(3))
    if span:
        Xt = _span_noised(X0, params.means, t, np.random.default_rng(0))
    else:
        Xt = noise_antithetic(X0, z, t) if t > 0 else X0
    fast = spherical_stein_loss_grad(Xt, params, t,
                                     model=covariance_model(covariance_type, REG))
    ref = stein_loss_grad(Xt, params, t, model=covariance_model(covariance_type, REG))
    np.testing.assert_allclose(fast[0], ref[0], rtol=1e-12)
    for got, want in zip((*fast[1], *fast[2]), (*ref[1], *ref[2])):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("covariance_type", ["spherical", "diag", "full", "tied"])
def test_integrated_objective_gradient_is_the_log_likelihood_gradient(covariance_type):
    # The Stein-form DDPM loss at level t is the Fisher divergence between the
    # noised data and the noised model up to a constant; integrated over t with
    # unit weight it is the KL divergence, so its gradient is the gradient of
    # the mean negative log-likelihood. Misspecified data (a Gaussian and a
    # uniform cube), parameters away from any optimum.
    rng = np.random.default_rng(0)
    X = np.r_[0.7 * rng.standard_normal((100, 3)) + 1.0, rng.uniform(-2, 0, (100, 3))]
    sigma = {
        "spherical": np.array([0.5, 0.4]),
        "diag": np.array([[0.5, 0.3, 0.6], [0.4, 0.5, 0.3]]),
        "full": np.array([[[0.5, 0.1, 0.0], [0.1, 0.3, -0.1], [0.0, -0.1, 0.6]],
                          [[0.4, -0.1, 0.1], [-0.1, 0.5, 0.0], [0.1, 0.0, 0.3]]]),
        "tied": np.array([[0.5, 0.1, 0.0], [0.1, 0.4, -0.1], [0.0, -0.1, 0.6]]),
    }[covariance_type]
    model = covariance_model(covariance_type, 0.0)
    params = MixtureParams(np.array([[0.8, 1.1, 0.9], [-1.0, -0.9, -1.2]]),
                           model.to_coordinates(sigma), np.array([0.1, -0.1]))

    def nll(p):
        return -log_prob_and_resp(X, p, 0.0, model)[0].mean()

    expected = _finite_difference(nll, params)
    # 100 copies of each point in random order, 30 passes of stratified levels.
    X_rep = np.tile(X, (100, 1))[np.random.default_rng(1).permutation(20_000)]
    passes = [integrated_objective(X_rep, params, np.random.default_rng(seed), model=model)
              for seed in range(30)]
    got = [np.mean([p.means for p in passes], axis=0),
           # the gradient in Sigma, to the coordinates
           coordinate_gradient(params.covariance,
                               np.mean([p.covariance for p in passes], axis=0),
                               model),
           np.mean([p.logits for p in passes], axis=0)]
    for g, e in zip(got, expected):
        assert np.max(np.abs(g - e)) < 0.08 * np.max(np.abs(e)), (g, e)


@pytest.mark.parametrize("covariance_type", ["spherical", "diag"])
def test_kept_noise_gives_the_same_objective_as_redrawn_noise(covariance_type, monkeypatch):
    # A fixed-draw phase keeps its draws between evaluations (span draws for
    # spherical, dense ones for diag); the kept draws must be the very numbers
    # the seeds give, also when the budget keeps only some blocks.
    monkeypatch.setattr(_objective, "BLOCK_ROWS", 70)
    X0, _, params = _problem(seed=6, n=250, d=8, K=2, covariance_type=covariance_type)
    seeds = _objective.draw_seeds(np.random.RandomState(1), len(X0))
    fresh = _objective.stein_objective(X0, params, 0.3, seeds=seeds,
                                       model=covariance_model(covariance_type, REG))
    per_block = 70 * (8 if covariance_type == "diag" else 2 + 2)
    for budget in (0, 2 * per_block, 10**6):
        cache = _objective.NoiseCache(max_numbers=budget)
        for _ in range(2):
            kept = _objective.stein_objective(X0, params, 0.3, seeds=seeds,
                                              model=covariance_model(covariance_type, REG),
                                              noise_cache=cache)
            np.testing.assert_array_equal(kept[0], fresh[0])
            for got, want in zip(kept[1], fresh[1]):
                np.testing.assert_array_equal(got, want)
        assert len(cache._draws) == min(4, budget // per_block)


def test_integrated_levels_integrate_functions_of_the_level():
    # Levels at the quantiles u of their law, weighted by the reciprocal of its
    # density, integrate a function of t over [T_MIN, T_MAX]: the flat one,
    # a decaying one like the integrand's tail, and one that changes at small t.
    u = (np.arange(20000) + 0.5) / 20000
    levels, weights = np.array([integrated_level(q) for q in u]).T
    t_min, t_max = INTEGRATED_T_MIN, INTEGRATED_T_MAX
    assert np.all(np.diff(levels) > 0) and levels[0] >= t_min and levels[-1] <= t_max
    for f, exact in [
        (np.ones_like, t_max - t_min),
        (lambda t: np.exp(-2 * t), 0.5 * (np.exp(-2 * t_min) - np.exp(-2 * t_max))),
        (lambda t: 1 / (1 + t / 0.001), 0.001 * np.log((1 + t_max / 0.001) / (1 + t_min / 0.001))),
    ]:
        np.testing.assert_allclose(np.mean(f(levels) * weights), exact, rtol=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pool_normals_are_standard_normal(dtype):
    from scipy import stats

    # Box-Muller pairs, in blocks: normal in law (Kolmogorov-Smirnov), and
    # no correlation between a draw and the next or its pair's position.
    draws = _span_noise._standard_normals(np.random.default_rng(0), (100_001, 3),
                                          np.dtype(dtype))
    assert draws.shape == (100_001, 3) and draws.dtype == dtype
    flat = draws.ravel()
    assert stats.kstest(flat, "norm").pvalue > 1e-3
    assert abs(flat.mean()) < 5 / np.sqrt(flat.size)
    assert abs(flat.var() - 1) < 5 * np.sqrt(2 / flat.size)
    half = _span_noise._NORMALS_BLOCK // 2
    for a, b in [(flat[:-1], flat[1:]), (flat[:half], flat[half:2 * half])]:
        assert abs(np.corrcoef(a, b)[0, 1]) < 5 / np.sqrt(len(a))
        # Dependence Box-Muller could leave in the pair's squared radius.
        assert abs(np.corrcoef(a**2, b**2)[0, 1]) < 5 / np.sqrt(len(a))


def test_span_noise_pool_matches_the_moments_and_deals_them_unchanged():
    pool = _span_noise.SpanNoisePool(np.random.default_rng(0), 1000, 3, n_features=9)
    np.testing.assert_allclose(pool.zeta.T @ pool.zeta / 1000, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(np.mean(pool.along**2), 1.0)
    rest = pool.off_p_sq - np.sum(pool.zeta**2, axis=1)  # the chi-square part
    np.testing.assert_allclose(np.mean(rest), 9 - 3 - 1, rtol=1e-6)
    # A dealing is a cyclic shift of the rows, a rotation of zeta and a sign:
    # over a whole pass every pool row is used once, with the same moments.
    dealt = pool.deal(np.random.default_rng(1))
    blocks = [dealt.block(start, min(start + 300, 1000)) for start in range(0, 1000, 300)]
    zeta = np.concatenate([b.zeta for b in blocks])
    np.testing.assert_allclose(zeta.T @ zeta / 1000, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(np.sort(np.concatenate([b.off_p_sq for b in blocks])),
                               np.sort(pool.off_p_sq))
    np.testing.assert_allclose(np.concatenate([b.off_p_sq for b in blocks]),
                               np.sum(zeta**2, axis=1) + np.roll(rest, -dealt.offset))
    assert not np.allclose(zeta, pool.zeta)


def test_pooled_span_noise_has_the_fresh_noise_expectation(monkeypatch):
    # Passes dealt from a pool are draws of the objective given the pool; over
    # pools and dealings the gradient has the fresh draws' expectation.
    monkeypatch.setattr(_objective, "BLOCK_ROWS", 150)
    X0, _, params = _problem(seed=5, n=400, d=8, K=2)
    pooled, fresh = [], []
    for seed in range(300):
        pool = _span_noise.SpanNoisePool(np.random.default_rng(seed), 400, 2, n_features=8)
        dealt = pool.deal(np.random.default_rng(10_000 + seed))
        pooled.append(_objective.stein_objective(X0, params, 0.3, seeds=[0, 0, 0],
                                                 model=SPHERICAL, dealt=dealt)[1])
        fresh.append(_objective.stein_objective(
            X0, params, 0.3, seeds=[20_000 + seed, 30_000 + seed, 40_000 + seed],
            model=SPHERICAL)[1])
    for block in range(3):
        a = np.array([np.ravel(g[block]) for g in pooled])
        b = np.array([np.ravel(g[block]) for g in fresh])
        se = np.sqrt(a.var(axis=0) / len(a) + b.var(axis=0) / len(b))
        z_scores = (a.mean(axis=0) - b.mean(axis=0)) / se
        assert np.all(np.abs(z_scores) < 4.5), (block, z_scores)
