"""DiffusionMixtureSampler at scale: truncated posteriors, blocks, and larger fits."""

import pickle

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from scipy.stats import ks_2samp
from sklearn.neighbors import KernelDensity

from sklearn_ddpm_gmm import DiffusionMixtureSampler
from sklearn_ddpm_gmm._core._covariance import FullCovariance
from sklearn_ddpm_gmm._core._em import em_step, posteriors
from sklearn_ddpm_gmm._sampler import (
    _baseline,
    _cell_regression,
    _estimator,
    _mixture_denoiser,
    _poly_denoiser,
)
from sklearn_ddpm_gmm._sampler._baseline import n_regression_cells, near_em_step
from sklearn_ddpm_gmm._sampler._mixture_denoiser import (
    MixtureBaseline,
    fit_mixture_baseline,
    hard_mixture_baseline,
    mixture_denoise,
    posterior_groups,
    posterior_mean_and_draw,
)
from sklearn_ddpm_gmm._sampler._near_cells import NEAR_CELLS, TRUNCATION_TOL, NearCells
from sklearn_ddpm_gmm._sampler._reverse import ode_log_likelihood
from sklearn_ddpm_gmm.datasets import make_blurred_ring

# Truncation drops at most TRUNCATION_TOL of a row's mass; the rest is rounding.
ATOL = 1e-8


def _ring_cells(K=60, d=2, seed=0):
    """K elongated Gaussian cells along a ring of radius 1.4 (a curve's cells)."""
    rng = np.random.RandomState(seed)
    th = np.linspace(0, 2 * np.pi, K, endpoint=False)
    means = np.zeros((K, d))
    means[:, :2] = 1.4 * np.c_[np.cos(th), np.sin(th)]
    vecs = np.stack([np.linalg.qr(rng.normal(size=(d, d)))[0] for _ in range(K)])
    vals = rng.uniform(0.002, 0.02, size=(K, d))
    return MixtureBaseline(rng.dirichlet(np.ones(K)), means, vals, vecs)


def _rows_near(baseline, n, spread, seed=1):
    rng = np.random.RandomState(seed)
    K, d = baseline.means.shape
    return baseline.means[rng.randint(K, size=n)] + spread * rng.normal(size=(n, d))


@pytest.mark.parametrize("d", [2, 5])
@pytest.mark.parametrize("sigma", [0.0, 0.003, 0.03, 0.1, 0.3, 2.0])
def test_truncated_posteriors_equal_the_full_ones(d, sigma):
    baseline = _ring_cells(d=d)
    Y = _rows_near(baseline, 8000, 0.05 + sigma)  # over MIN_GROUP_ROWS per cell
    near = NearCells(baseline.means)
    D_full, diag_full = mixture_denoise(baseline, Y, sigma, divergence=True)
    D, diag = mixture_denoise(baseline, Y, sigma, divergence=True, near=near)
    np.testing.assert_allclose(D, D_full, rtol=0, atol=ATOL)
    np.testing.assert_allclose(diag, diag_full, rtol=0, atol=1e3 * ATOL)
    full = np.empty(len(Y))
    for rows, post in posterior_groups(baseline, Y, sigma):
        full[rows] = post.log_density
    truncated, n_local = np.empty(len(Y)), 0
    for rows, post in posterior_groups(baseline, Y, sigma, near=near):
        truncated[rows] = post.log_density
        n_local += len(rows) * (len(post.cells) < len(baseline.weights))
    # log(1 + TRUNCATION_TOL) at most, and the bound is checked per row.
    assert np.all(truncated <= full + 1e-12)
    np.testing.assert_allclose(truncated, full, rtol=0, atol=2 * TRUNCATION_TOL)
    if sigma <= 0.003 and d == 2:
        # Small noise: the truncation is used (the bound is loose where a
        # thin cell's normalising constant dominates c_max, as in 5-D here).
        assert n_local > 0.3 * len(Y)


def test_truncation_holds_from_any_home_cell():
    # The bound uses the triangle inequality from the home cell's centre, so
    # a wrong home only costs time (rows fall back to all cells).
    baseline = _ring_cells()
    Y = _rows_near(baseline, 8000, 0.05)
    near = NearCells(baseline.means)
    home = np.random.RandomState(3).randint(len(baseline.weights), size=len(Y))
    np.testing.assert_allclose(mixture_denoise(baseline, Y, 0.01, near=near, home=home),
                               mixture_denoise(baseline, Y, 0.01), rtol=0, atol=ATOL)


def test_near_lists_and_nearest_centre():
    rng = np.random.RandomState(0)
    centres = rng.normal(size=(50, 3))
    near = NearCells(centres)
    assert near.lists.shape == (50, NEAR_CELLS)
    assert all(g in near.lists[g] for g in range(50))
    # The reach is the distance to the nearest centre off the list.
    dist = cdist(centres, centres)
    for g in range(50):
        off = np.setdiff1d(np.arange(50), near.lists[g])
        assert np.isclose(near.reach[g], dist[g, off].min())
    Y = 2 * rng.normal(size=(5000, 3))
    expected = np.argmin(cdist(Y, centres), axis=1)
    assert np.all(near.nearest(Y, near.home(Y)) == expected)
    # From wrong homes too (the floor decides when to ask the tree).
    assert np.all(near.nearest(Y, rng.randint(50, size=len(Y))) == expected)


def test_posterior_draws_on_near_cells_match_the_full_ones():
    baseline = _ring_cells()
    Y = _rows_near(baseline, 8000, 0.05)
    near = NearCells(baseline.means)
    D, draw = posterior_mean_and_draw(baseline, Y, 0.02, np.random.RandomState(5), near=near)
    D0, draw0 = posterior_mean_and_draw(baseline, Y, 0.02, np.random.RandomState(5))
    np.testing.assert_allclose(D, D0, rtol=0, atol=ATOL)
    # The same uniforms pick the same cell unless one falls in the dropped mass.
    assert np.mean(np.all(np.abs(draw - draw0) < 1e-6, axis=1)) > 0.999


@pytest.mark.parametrize("weighted", [False, True])
def test_near_em_step_is_the_cores_em_step(weighted):
    baseline = _ring_cells(K=40)
    model = FullCovariance(1e-6)
    X = _rows_near(baseline, 8000, 0.08)
    w = np.random.RandomState(2).uniform(0.5, 2.0, len(X)) if weighted else None
    mixture = baseline.to_mixture(model)
    log_prob, resp = posteriors(X, mixture, model)
    expected = em_step(X, resp, model, sample_weight=w)
    mean_ll, stepped = near_em_step(X, mixture, w)
    assert np.isclose(mean_ll, np.average(log_prob, weights=w), rtol=0, atol=1e-10)
    for got, want in zip(stepped[:3], expected[:3]):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)


def test_blocks_give_the_one_block_statistics(monkeypatch):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(3000, 3)) + 5.0  # offsets far from the mean: the merge's job
    labels = rng.randint(7, size=len(X))
    w = rng.uniform(0.1, 3.0, len(X))
    one = fit_mixture_baseline(X, np.eye(7)[labels] * w[:, np.newaxis])
    monkeypatch.setattr(_mixture_denoiser, "_BLOCK_ELEMENTS", 7 * 3 * 100)  # 30 blocks
    blocks = hard_mixture_baseline(X, labels, 7, w)
    for got, want in zip(blocks, one):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_blocks_of_the_posteriors_do_not_change_the_denoiser(monkeypatch):
    baseline = _ring_cells()
    Y = _rows_near(baseline, 8000, 0.1)
    near = NearCells(baseline.means)
    D = mixture_denoise(baseline, Y, 0.05, near=near)
    monkeypatch.setattr(_mixture_denoiser, "_BLOCK_ELEMENTS", 500)
    np.testing.assert_allclose(mixture_denoise(baseline, Y, 0.05, near=near), D,
                               rtol=0, atol=1e-14)


def test_cells_follow_the_pairs_up_to_cell_rows_then_grow_as_the_fifth_root():
    # 2-D, degree 10: 66 monomials, 20 pairs each, 4 draws per row.
    assert n_regression_cells(8000, 4, 66) == 24
    assert n_regression_cells(2000, 4, 66) == 6
    big = n_regression_cells(1_000_000, 4, 66)
    at_cell_rows = n_regression_cells(_baseline._CELL_ROWS, 4, 66)
    assert big == int(at_cell_rows * (1_000_000 / _baseline._CELL_ROWS) ** 0.2)
    assert big < 3 * at_cell_rows
    # Weighted rows: the tenth of the distinct rows still caps the count.
    assert n_regression_cells(100_000, 4, 1, n_distinct=50) <= 5


def test_fitted_sampler_with_near_cells_pickles():
    X = make_blurred_ring(6000, noise=0.05, random_state=0)
    model = DiffusionMixtureSampler(2, n_levels=8, random_state=0).fit(X)
    assert len(model.score_model_.centres) > NEAR_CELLS  # the lists truncate
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.score_samples(X[:50]), model.score_samples(X[:50]))


@pytest.mark.slow
def test_larger_fit_samples_and_scores_right():
    # 64 000 rows of a thin ring: more cells than the near lists hold, so
    # fitting, sampling and scoring all go through the truncated posteriors.
    X = make_blurred_ring(64000, radius=3.0, noise=0.12, random_state=0)
    held_out = make_blurred_ring(5000, radius=3.0, noise=0.12, random_state=1)
    model = DiffusionMixtureSampler(4, random_state=0).fit(X)
    assert len(model.score_model_.centres) > NEAR_CELLS
    S = model.sample(5000, random_state=2)[0]
    radius = np.linalg.norm(S, axis=1)
    fresh = np.linalg.norm(held_out, axis=1)
    assert ks_2samp(radius, fresh).pvalue > 1e-3
    angle = np.arctan2(S[:, 1], S[:, 0])
    assert ks_2samp(angle, np.arctan2(held_out[:, 1], held_out[:, 0])).pvalue > 1e-3
    kde = KernelDensity(bandwidth=0.08).fit(X)
    assert model.score(held_out) > kde.score(held_out) / len(held_out)


# ------------------------------------------- where the fit is the mixture alone
@pytest.fixture(scope="module")
def ring_mixture_fit():
    X = make_blurred_ring(3000, noise=0.1, random_state=0)
    model = DiffusionMixtureSampler(4, n_levels=8, random_state=0).fit(X)
    return model, X


def _with_degrees(model, degrees):
    """A copy of a fitted sampler whose cells keep the given degrees' pattern."""
    copy = pickle.loads(pickle.dumps(model))
    copy.score_model_ = copy.score_model_._replace(degrees=degrees)
    return copy


def test_mixture_from_is_the_least_level_above_every_correction(ring_mixture_fit):
    model, _ = ring_mixture_fit
    sm = model.score_model_
    L, K = sm.degrees.shape
    none = np.full((L, K), -1)
    assert _poly_denoiser.mixture_from(sm._replace(degrees=none)) == 0.0
    some = none.copy()
    some[2, 1] = 1
    assert _poly_denoiser.mixture_from(sm._replace(degrees=some)) == sm.sigmas[3]
    some[L - 1, 0] = 0
    assert _poly_denoiser.mixture_from(sm._replace(degrees=some)) == np.inf


def test_score_samples_is_the_mixtures_density_where_nothing_is_corrected(ring_mixture_fit):
    model, X = ring_mixture_fit
    sm = model.score_model_
    mixture_only = _with_degrees(model, np.full(sm.degrees.shape, -1))
    Q = X[:300]
    Z = (Q - model.data_mean_) / model.data_scale_
    sigma = sm.schedule.likelihood_sigmas(64)[0]
    exact = (_mixture_denoiser.mixture_log_density(sm.baseline, Z, sigma)
             - np.sum(np.log(model.data_scale_)))
    np.testing.assert_allclose(mixture_only.score_samples(Q), exact, rtol=0, atol=1e-9)
    # The probability-flow ODE of the same field converges to it (second order).
    errors = []
    for steps in (32, 128):
        sigmas = sm.schedule.likelihood_sigmas(steps)
        ode = ode_log_likelihood(mixture_only._denoiser, Z, sigmas,
                                 mixture_only._log_prior(sigmas[-1]))
        errors.append(np.abs(ode - np.sum(np.log(model.data_scale_)) - exact).mean())
    assert errors[1] < errors[0] / 4 and errors[1] < 0.01


def test_score_samples_runs_the_ode_below_the_top_correction(ring_mixture_fit, monkeypatch):
    model, X = ring_mixture_fit
    sm = model.score_model_
    degrees = np.full(sm.degrees.shape, -1)
    degrees[:3] = np.maximum(sm.degrees[:3], 0)  # corrections at the 3 lowest levels
    part = _with_degrees(model, degrees)
    top = sm.sigmas[3]
    seen = []
    real = _estimator.ode_log_likelihood
    monkeypatch.setattr(_estimator, "ode_log_likelihood",
                        lambda *a: seen.append(a[2]) or real(*a))
    part.score_samples(X[:20])
    assert seen[0][-1] == top and np.all(np.diff(seen[0]) > 0)
    assert np.all(seen[0][:-1] < top) and len(seen[0]) > 2
    # Corrections at the top level: the ODE runs all the way, as before.
    degrees[-1] = 0
    seen.clear()
    _with_degrees(model, degrees).score_samples(X[:20])
    np.testing.assert_array_equal(seen[0], sm.schedule.likelihood_sigmas(64))


def test_sampling_merges_the_steps_where_the_mixture_is_exact(ring_mixture_fit, monkeypatch):
    model, X = ring_mixture_fit
    sm = model.score_model_
    L = sm.degrees.shape[0]
    degrees = np.full(sm.degrees.shape, -1)
    degrees[:2] = np.maximum(sm.degrees[:2], 0)
    part = _with_degrees(model, degrees)
    calls = []
    real = _estimator.draw_clean_point
    monkeypatch.setattr(_estimator, "draw_clean_point",
                        lambda m, Y, sigma, rng: calls.append(sigma) or real(m, Y, sigma, rng))
    S = part.sample(4000, random_state=0)[0]
    full_steps = sm.schedule.sample_sigmas(part.n_sample_steps)
    below = full_steps[full_steps < sm.sigmas[2]]
    # One merged step from the top, then every step below the corrections.
    np.testing.assert_array_equal(calls, np.r_[full_steps[0], below])
    # Same law as all the steps (the merged kernel is the mixture's exact one).
    monkeypatch.setattr(_estimator, "mixture_from", lambda m: np.inf)
    S_all = part.sample(4000, random_state=1)[0]
    for a, b in ((np.linalg.norm(S, axis=1), np.linalg.norm(S_all, axis=1)),
                 (np.arctan2(S[:, 1], S[:, 0]), np.arctan2(S_all[:, 1], S_all[:, 0]))):
        assert ks_2samp(a, b).pvalue > 1e-3
    # Corrections at every level: the steps and the samples are as before.
    degrees[:] = np.maximum(sm.degrees, 0)
    full = _with_degrees(model, degrees)
    calls.clear()
    assert _poly_denoiser.mixture_from(full.score_model_) == np.inf
    full.sample(50, random_state=0)
    np.testing.assert_array_equal(calls, full_steps)
    assert L == len(sm.sigmas)


@pytest.mark.parametrize("weighted", [False, True])
def test_regression_features_in_blocks_give_the_one_block_fit(weighted, monkeypatch):
    # The cells' features are built block by block of rows (memory); the
    # normal sums and held-out errors are those of one block, to rounding.
    rng = np.random.RandomState(0)
    n, d = 6000, 2
    angle = rng.uniform(0, 2 * np.pi, n)
    X0 = np.c_[np.cos(angle), np.sin(angle)]
    Y = X0 + 0.2 * rng.normal(size=(n, d))
    cells = (Y[:, 0] > 0).astype(np.intp)
    G = 0.5 * Y  # a poor baseline: the residual needs degree 2 and up
    kwargs = dict(n_cells=2, G=G, degrees=range(-1, 6), alpha=1e-3,
                  is_val=rng.rand(n) < 0.2, groups=np.arange(n),
                  weights=rng.uniform(0.5, 2.0, n) if weighted else None)
    one = _cell_regression.fit_level(X0, Y, cells, **kwargs)
    monkeypatch.setattr(_cell_regression, "_FEATURE_BLOCK_ELEMENTS", 21 * 50)  # ~60 blocks
    blocks = _cell_regression.fit_level(X0, Y, cells, **kwargs)
    assert one["degree"] == blocks["degree"] >= 2
    np.testing.assert_array_equal(one["degrees"], blocks["degrees"])
    np.testing.assert_allclose(blocks["coef"], one["coef"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(blocks["heldout"], one["heldout"], rtol=1e-10)
