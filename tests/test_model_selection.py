"""DDPMGaussianMixtureIC: choosing n_components and covariance_type."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_ddpm_gmm import DDPMGaussianMixture, DDPMGaussianMixtureIC
from sklearn_ddpm_gmm._core._mixture import has_singular_component, singular_components
from sklearn_ddpm_gmm.datasets import make_covariance_mixture


@pytest.fixture(scope="module")
def elongated():
    # Three full-covariance components of condition number 10 in 3-D.
    X, _, _, _, _ = make_covariance_mixture(3000, 3, 3, covariance_type="full",
                                            random_state=2)
    return X


@pytest.fixture(scope="module")
def search(elongated):
    return DDPMGaussianMixtureIC(n_components=5, random_state=0).fit(elongated)


def test_picks_the_true_model_and_reports_every_candidate(elongated, search):
    assert (search.n_components_, search.covariance_type_) == (3, "full")
    results = search.cv_results_
    assert len(results["bic"]) == 5 * 4
    best = search.best_index_
    assert results["rank"][best] == 1 and results["bic"][best] == results["bic"].min()
    assert results["param_n_components"][best] == 3
    assert results["param_covariance_type"][best] == "full"
    assert np.all(np.isnan(results["held_out_score"]))
    # The chosen candidate is an ordinary fitted DDPMGaussianMixture.
    assert isinstance(search.best_estimator_, DDPMGaussianMixture)
    assert search.bic(elongated) == pytest.approx(results["bic"][best])
    np.testing.assert_array_equal(search.predict(elongated),
                                  search.best_estimator_.predict(elongated))
    assert search.sample(7, random_state=0)[0].shape == (7, 3)


def test_bic_grid_agrees_with_gaussian_mixtures(elongated, search):
    # The same criterion over the same grid by hand with GaussianMixture.
    bics = {(k, t): GaussianMixture(k, covariance_type=t, random_state=0)
            .fit(elongated).bic(elongated)
            for k in range(1, 6) for t in ("full", "tied", "diag", "spherical")}
    assert min(bics, key=bics.get) == (3, "full")
    ours = dict(zip(zip(search.cv_results_["param_n_components"],
                        search.cv_results_["param_covariance_type"]),
                    search.cv_results_["bic"]))
    # Where both find every component their BICs agree closely.
    assert ours[(3, "full")] == pytest.approx(bics[(3, "full")], rel=1e-4)


def test_held_out_criterion_and_n_jobs(elongated):
    one = DDPMGaussianMixtureIC(n_components=[2, 3, 4], covariance_type=["full", "diag"],
                                criterion="held-out", random_state=0).fit(elongated)
    two = DDPMGaussianMixtureIC(n_components=[2, 3, 4], covariance_type=["full", "diag"],
                                criterion="held-out", random_state=0, n_jobs=2).fit(elongated)
    assert one.n_components_ == 3 and one.covariance_type_ == "full"
    assert np.all(np.isfinite(one.cv_results_["held_out_score"]))
    np.testing.assert_array_equal(one.cv_results_["held_out_score"],
                                  two.cv_results_["held_out_score"])


def test_in_a_pipeline(elongated):
    pipe = make_pipeline(StandardScaler(), DDPMGaussianMixtureIC(
        n_components=4, covariance_type="full", random_state=0)).fit(elongated)
    assert pipe[-1].n_components_ == 3
    assert np.isfinite(pipe.score(elongated))


def test_candidates_larger_than_the_data_are_skipped():
    X = np.random.default_rng(0).normal(size=(4, 2))
    search = DDPMGaussianMixtureIC(n_components=6, covariance_type="spherical",
                                   random_state=0).fit(X)
    assert search.cv_results_["param_n_components"].max() == 4
    with pytest.raises(ValueError, match="exceeds n_samples"):
        DDPMGaussianMixtureIC(n_components=[5, 6]).fit(X)
    with pytest.raises(ValueError, match="covariance_type"):
        DDPMGaussianMixtureIC(covariance_type=["full", "banana"]).fit(X)


def test_a_number_of_components_whose_starts_missed_is_restarted_from_the_next():
    # Seed 9: every type's fit with 4 components missed them (their starts are
    # shared), and the search picked 5 spherical components, one true
    # component split in two; the restart from the 5-component fit less its
    # cheapest component finds the 4.
    X = make_covariance_mixture(3000, 5, 4, covariance_type="spherical", random_state=9)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = DDPMGaussianMixtureIC(6, random_state=9).fit(X)
    assert (search.n_components_, search.covariance_type_) == (4, "spherical")


def test_the_cheapest_component_to_drop_is_half_of_a_split_one():
    from sklearn_ddpm_gmm._mixture._model_selection import _cheapest_to_drop

    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(0, 1, (900, 2)), rng.normal(8, 1, (100, 2))]
    # Two halves of the big component and the small one.
    gm = DDPMGaussianMixture(3, covariance_type="spherical", max_iter=0,
                             weights_init=[0.45, 0.45, 0.1],
                             means_init=[[-0.3, 0.0], [0.3, 0.0], [8.0, 8.0]],
                             precisions_init=[1.0, 1.0, 1.0]).fit(X)
    assert _cheapest_to_drop(gm, X) in (0, 1)


def test_no_model_with_a_singular_component_is_picked_on_iris():
    # Iris is recorded to 0.1 cm: fits of 4-7 full components found a
    # component of rows on a plane (an eigenvalue at reg_covar) in 29 of 40
    # fits (seeds 0-9) before the starts preferred regular maxima, and its
    # likelihood won BIC ((5, full) at 676 against 795 for (2, full)).
    # GaussianMixture(n_init=5) grids and R's mclust pick (2, full).
    from sklearn.datasets import load_iris

    X = StandardScaler().fit_transform(load_iris().data)
    search = DDPMGaussianMixtureIC(n_components=9, random_state=0).fit(X)
    assert not search.cv_results_["singular"][search.best_index_]
    assert (search.n_components_, search.covariance_type_) == (2, "full")
    singular = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in range(10):
            gm = DDPMGaussianMixture(5, random_state=seed).fit(X)
            singular += has_singular_component(gm._mixture(), gm._spec().model, len(X))
    assert singular == 0  # measured 9 of 10 before


def test_a_fit_whose_maxima_are_all_singular_warns_and_ranks_last():
    # Three distinct points, each repeated: every component sits on one of them.
    X = np.repeat(np.array([[0.0, 0.0], [5.0, 1.0], [1.0, 6.0]]), 20, axis=0)
    with pytest.warns(UserWarning, match="singular component"):
        gm = DDPMGaussianMixture(3, random_state=0).fit(X)
    assert singular_components(gm._mixture(), gm._spec().model, len(X)).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        search = DDPMGaussianMixtureIC(n_components=[1, 3], covariance_type="full",
                                       random_state=0).fit(X)
    results = search.cv_results_
    np.testing.assert_array_equal(results["singular"], [False, True])
    assert results["bic"][1] < results["bic"][0]  # the spurious maximum's BIC wins
    assert search.n_components_ == 1 and list(results["rank"]) == [1, 2]
    with pytest.warns(UserWarning, match="Every candidate has a singular component"):
        DDPMGaussianMixtureIC(n_components=[3], covariance_type="full",
                              random_state=0).fit(X)


def test_an_int_random_state_is_each_candidates_own():
    # As in a grid of DDPMGaussianMixture(k, random_state=seed): each
    # candidate is that fit (its k-means start GaussianMixture's with the
    # same seed), or a restart kept because it reached a higher likelihood.
    X = make_covariance_mixture(600, 3, 3, random_state=1)[0]
    search = DDPMGaussianMixtureIC(n_components=3, covariance_type=["full", "diag"],
                                   random_state=5).fit(X)
    results = search.cv_results_
    for k in (1, 2, 3):
        for covariance_type in ("full", "diag"):
            alone = DDPMGaussianMixture(k, covariance_type=covariance_type,
                                        random_state=5).fit(X)
            index = np.flatnonzero((results["param_n_components"] == k)
                                   & (results["param_covariance_type"] == covariance_type))[0]
            assert results["lower_bound"][index] >= alone.lower_bound_
    # With one candidate per number of components nothing is restarted.
    single = DDPMGaussianMixtureIC(n_components=[3], covariance_type="full",
                                   random_state=5).fit(X)
    assert single.cv_results_["lower_bound"][0] == DDPMGaussianMixture(
        3, random_state=5).fit(X).lower_bound_


def test_the_split_start_halves_the_component_that_fits_its_rows_worst():
    from sklearn_ddpm_gmm._mixture._model_selection import _split_start

    rng = np.random.RandomState(0)
    # A tight cluster, and a wide one that is two clusters along x.
    X = np.r_[rng.normal(0, 0.3, (200, 2)) + [0, 10],
              rng.normal(0, 0.5, (300, 2)) - [4, 0], rng.normal(0, 0.5, (300, 2)) + [4, 0]]
    for covariance_type in ("full", "tied", "diag", "spherical"):
        gm = DDPMGaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
        wide = int(np.argmin(np.abs(gm.means_[:, 1] - 0.0)))
        start = _split_start(gm, X)
        weights, means = start["weights_init"], start["means_init"]
        assert weights.shape == (3,) and weights.sum() == pytest.approx(1.0)
        assert weights[wide] == weights[2] == pytest.approx(gm.weights_[wide] / 2)
        # One standard deviation of the wide cluster's rows (about 4) either
        # side of its mean, along x.
        assert sorted([means[wide][0], means[2][0]]) == pytest.approx([-4.0, 4.0], abs=0.3)
        np.testing.assert_allclose([means[wide][1], means[2][1]], gm.means_[wide][1], atol=0.2)
        precisions = start["precisions_init"]
        if covariance_type == "tied":
            np.testing.assert_array_equal(precisions, gm.precisions_)
        else:
            np.testing.assert_array_equal(precisions[2], gm.precisions_[wide])
        # The split fits the three clusters.
        split = DDPMGaussianMixture(3, covariance_type=covariance_type, **start).fit(X)
        assert split.lower_bound_ > gm.lower_bound_ + 0.5
