"""Statistical recovery of known mixtures, against scikit-learn's EM on the same data.

These fit many models; they are marked ``slow`` (CI runs them).
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from sklearn_ddpm_gmm import DDPMGaussianMixture
from sklearn_ddpm_gmm._core._covariance import covariance_model
from sklearn_ddpm_gmm._core._standardise import standardise as _standardise
from sklearn_ddpm_gmm._ddpm._loss import draw_seeds
from sklearn_ddpm_gmm._ddpm._optim import run_fixed_noise
from sklearn_ddpm_gmm._ddpm._schedule import power_phase
from sklearn_ddpm_gmm._ddpm._score_model import MixtureParams
from sklearn_ddpm_gmm.datasets import (
    make_separated_mixture,
    make_symmetric_mixture,
    min_pairwise_distance,
)
from sklearn_ddpm_gmm.metrics import matched_mean_error, matched_mean_errors

pytestmark = pytest.mark.slow


def _converged_em(X, n_components, seed):
    return GaussianMixture(
        n_components, covariance_type="spherical", tol=1e-8, max_iter=5000,
        random_state=seed,
    ).fit(X)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_symmetric_two_components_from_random_start(seed):
    # Shah, Chen & Klivans' random-initialisation setting: d = 50, |mu*| = 1.
    X, _, means = make_symmetric_mixture(50_000, 50, 1.0, random_state=seed)
    ddpm = DDPMGaussianMixture(2, covariance_type="spherical", random_state=seed).fit(X)
    em = _converged_em(X, 2, seed)
    ratio = matched_mean_error(ddpm.means_, means) / matched_mean_error(em.means_, means)
    assert ratio <= 1.05, ratio

    # Phase 1 alone (power iteration from a small random start) finds the direction.
    Z = _standardise(X)[0]
    rng = np.random.RandomState(seed + 1000)  # not the data's stream
    power = power_phase(Z)
    start = rng.standard_normal((2, 50)) * 0.1 / np.sqrt(50)
    start -= start.mean(axis=0)
    result = run_fixed_noise(
        Z, MixtureParams(start, np.zeros(2), np.zeros(2)), power,
        seeds=draw_seeds(rng, Z.shape[0]), model=covariance_model("spherical", 1e-6),
    )
    direction = result.params.means[0] - result.params.means[1]
    cosine = abs(direction @ means[0]) / (np.linalg.norm(direction) * np.linalg.norm(means[0]))
    assert cosine > 0.9, cosine
    # ... which the random start did not have.
    start_dir = start[0] - start[1]
    assert abs(start_dir @ means[0]) / np.linalg.norm(start_dir) < 0.5


@pytest.mark.parametrize("covariance_type", ["spherical", "full"])
def test_eight_components_found_as_often_as_em_and_as_accurately(covariance_type):
    n_seeds = 20
    found = {"ddpm": 0, "ddpm_n_init_5": 0, "gm": 0}
    ratios, loglik_gaps = [], []
    for seed in range(n_seeds):
        X, _, means = make_separated_mixture(50_000, 20, 8, random_state=seed)
        X_train, X_test = X[:40_000], X[40_000:]
        half_sep = min_pairwise_distance(means) / 2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm = GaussianMixture(8, covariance_type=covariance_type,
                                 random_state=seed).fit(X_train)
            ddpm = DDPMGaussianMixture(8, covariance_type=covariance_type,
                                       random_state=seed).fit(X_train)
            ddpm5 = DDPMGaussianMixture(8, n_init=5, covariance_type=covariance_type,
                                        random_state=seed).fit(X_train)
        err = {name: matched_mean_errors(model.means_, means)
               for name, model in [("ddpm", ddpm), ("ddpm_n_init_5", ddpm5), ("gm", gm)]}
        for name, e in err.items():
            found[name] += bool(e.max() < half_sep)
        if err["ddpm"].max() < half_sep and err["gm"].max() < half_sep:
            ratios.append(np.linalg.norm(err["ddpm"]) / np.linalg.norm(err["gm"]))
            loglik_gaps.append(ddpm.score(X_test) - gm.score(X_test))
    print(found, np.mean(ratios), np.max(ratios), np.min(loglik_gaps))
    assert found["ddpm"] >= found["gm"]
    assert found["ddpm_n_init_5"] == n_seeds
    assert np.mean(ratios) <= 1.05
    assert np.min(loglik_gaps) > -0.01


def test_far_apart_clusters_in_one_dimension_keep_their_variances():
    # Two unit-variance clusters at -20 and +20, 200 rows: the single-level
    # final phase collapsed one variance to ~0.003 in about half of the seeds.
    # Maximum likelihood keeps both near one and scores as EM does.
    for seed in range(20):
        rng = np.random.default_rng(seed)
        X = np.r_[rng.normal(-20, 1, (100, 1)), rng.normal(20, 1, (100, 1))]
        ddpm = DDPMGaussianMixture(2, random_state=seed).fit(X)
        em = GaussianMixture(2, tol=1e-10, means_init=[[-20.0], [20.0]]).fit(X)
        assert ddpm.covariances_.min() > 0.5, (seed, ddpm.covariances_.ravel())
        assert ddpm.score(X) == pytest.approx(em.score(X), abs=1e-3), seed


@pytest.mark.parametrize("n_features", [25, 40])
def test_weakly_separated_symmetric_pair_near_converged_em(n_features):
    # |mu| = 0.8, 60 000 rows: the likelihood is flat, EM from the truth needs
    # 20-80 iterations, GaussianMixture's default stops after 4. Root mean square of
    # the means' error over 3 seeds, against a converged EM's.
    ours, converged = [], []
    for seed in range(3):
        X, _, means = make_symmetric_mixture(60_000, n_features, 0.8, random_state=seed)
        ddpm = DDPMGaussianMixture(2, covariance_type="spherical", random_state=seed).fit(X)
        em = GaussianMixture(2, covariance_type="spherical", tol=1e-8, max_iter=5000,
                             means_init=means).fit(X)
        ours.append(matched_mean_error(ddpm.means_, means))
        converged.append(matched_mean_error(em.means_, means))
    ratio = np.sqrt(np.mean(np.square(ours)) / np.mean(np.square(converged)))
    assert ratio <= 1.05, ratio
