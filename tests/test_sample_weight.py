"""sample_weight in DDPMGaussianMixture: integer weights are repeated rows."""

import numpy as np
import pytest

from sklearn_ddpm_gmm import DDPMGaussianMixture
from sklearn_ddpm_gmm.datasets import make_separated_mixture


@pytest.fixture(scope="module")
def blobs():
    X, _, _ = make_separated_mixture(600, 3, 3, separation=6.0, random_state=0)
    weights = np.random.default_rng(0).integers(0, 4, len(X))
    return X, weights


def _sorted(model):
    order = np.argsort(model.means_[:, 0])
    cov = model.covariances_ if model.covariance_type == "tied" else model.covariances_[order]
    return model.weights_[order], model.means_[order], cov


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_integer_weights_equal_repeated_rows(blobs, covariance_type):
    X, weights = blobs
    kwargs = dict(covariance_type=covariance_type, tol=1e-8, random_state=0)
    weighted = DDPMGaussianMixture(3, **kwargs).fit(X, sample_weight=weights)
    repeated = DDPMGaussianMixture(3, **kwargs).fit(np.repeat(X, weights, axis=0))
    # The fits stop where the gains still to come are below tol = 1e-8 a
    # row: parameters within about sqrt(2 tol) = 1.4e-4 of the maximum along
    # a direction of unit curvature, and the weighted fit's candidates run on
    # its rows of positive weight first, so they stop elsewhere within that.
    for got, want in zip(_sorted(weighted), _sorted(repeated)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert weighted.lower_bound_ == pytest.approx(repeated.lower_bound_, abs=1e-8)
    X_repeated = np.repeat(X, weights, axis=0)
    assert weighted.score(X, sample_weight=weights) == pytest.approx(
        weighted.score(X_repeated), rel=1e-12)
    assert weighted.bic(X, sample_weight=weights) == pytest.approx(
        weighted.bic(X_repeated), rel=1e-12)
    assert weighted.aic(X, sample_weight=weights) == pytest.approx(
        weighted.aic(X_repeated), rel=1e-12)


def test_zero_weights_drop_rows(blobs):
    X, _ = blobs
    keep = np.arange(len(X)) % 3 != 0
    weighted = DDPMGaussianMixture(3, tol=1e-8, random_state=0).fit(
        X, sample_weight=keep.astype(float))
    dropped = DDPMGaussianMixture(3, tol=1e-8, random_state=0).fit(X[keep])
    for got, want in zip(_sorted(weighted), _sorted(dropped)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_bad_weights_are_refused(blobs):
    X, _ = blobs
    for weights, message in [(-np.ones(len(X)), "Negative values"),
                             (np.full(len(X), np.nan), "NaN"),
                             (np.ones(len(X) - 1), "shape|length|samples"),
                             (np.zeros(len(X)), "at least one non-zero")]:
        with pytest.raises(ValueError, match=message):
            DDPMGaussianMixture(3, random_state=0).fit(X, sample_weight=weights)
    with pytest.raises(ValueError, match="noise_level='integrated'"):
        DDPMGaussianMixture(3, noise_level="auto").fit(X, sample_weight=np.ones(len(X)))
    with pytest.raises(ValueError, match="1D array or scalar"):
        DDPMGaussianMixture(3, random_state=0).fit(X, sample_weight=np.ones((len(X), 1)))


def test_a_number_weighs_every_row_alike(blobs):
    X, _ = blobs
    weights = np.full(len(X), 2.5)
    by_number = DDPMGaussianMixture(3, random_state=0).fit(X, sample_weight=2.5)
    by_array = DDPMGaussianMixture(3, random_state=0).fit(X, sample_weight=weights)
    np.testing.assert_array_equal(by_number.means_, by_array.means_)
    np.testing.assert_array_equal(by_number.covariances_, by_array.covariances_)
    assert np.array_equal(weights, np.full(len(X), 2.5))  # the caller's array


def test_partial_fit_shares_chunks_by_their_weight(blobs):
    X, _ = blobs
    gm = DDPMGaussianMixture(3, random_state=0).fit(X[:300])
    before = gm.means_.copy()
    # A chunk of zero weight changes nothing; one of weight 2 per row counts
    # as its rows twice.
    gm.partial_fit(X[300:], sample_weight=np.full(300, 1e-12))
    np.testing.assert_allclose(gm.means_, before, atol=1e-9)
    assert gm._weight_seen_ == pytest.approx(300.0)
    gm.partial_fit(X[300:], sample_weight=np.full(300, 2.0))
    assert gm._weight_seen_ == pytest.approx(900.0)
    assert gm.n_samples_seen_ == 900
