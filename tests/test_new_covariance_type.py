"""A covariance type is one class and one registry line: a tied-diagonal type
(one diagonal covariance shared by every component), written here outside the
package, registered, and fitted by DDPMGaussianMixture at its defaults."""

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from sklearn_ddpm_gmm import DDPMGaussianMixture
from sklearn_ddpm_gmm._core import _covariance
from sklearn_ddpm_gmm._core._covariance import (
    CovarianceType,
    covariance_model,
    register_covariance_type,
)


@dataclass(frozen=True)
class TiedDiagCovariance(CovarianceType):
    """One diagonal covariance shared by all components, ``covariances_`` (d,)."""

    name: ClassVar[str] = "tied_diag"
    sklearn_type: ClassVar[str] = "tied_diag"
    is_elementwise: ClassVar[bool] = True

    def shape(self, n_components, n_features):
        return (n_features,)

    def n_covariance_parameters(self, n_components, n_features):
        return n_features

    def precisions_cholesky(self, covariances):
        if np.any(covariances <= 0.0):
            raise ValueError("ill-defined empirical covariance")
        return 1.0 / np.sqrt(covariances)

    def precisions(self, precisions_cholesky):
        return precisions_cholesky**2

    def precision_matrices(self, precisions_cholesky, n_components, n_features):
        return np.broadcast_to(np.diag(precisions_cholesky**2),
                               (n_components, n_features, n_features))

    def log_det_cholesky(self, precisions_cholesky, n_features):
        return np.sum(np.log(precisions_cholesky))

    def squared_distances(self, X, means, precisions_cholesky):
        p = precisions_cholesky**2
        return np.sum(means**2 * p, axis=1) - 2.0 * X @ (means * p).T + (X**2) @ p[:, None]

    def second_statistic(self, X, resp, means, sample_weight):
        return resp.sum(axis=1) @ (X * X)  # each row's weight times its squares

    def covariances_from(self, stats, nk, means, fixed_covariances):
        return (stats.second - nk @ means**2) / nk.sum() + self.reg_covar

    def mean_variances(self, covariances, n_components):
        return np.full(n_components, covariances.mean())

    def smallest_variances(self, covariances, n_components):
        return np.full(n_components, covariances.min())

    def sampling_factors(self, covariances, n_components, n_features):
        return [np.diag(np.sqrt(covariances))] * n_components

    def precision_products(self, precisions_cholesky, offsets):
        return offsets * precisions_cholesky**2

    def from_spherical(self, variances, weights, n_features):
        return np.full(n_features, float(weights @ variances))


@pytest.fixture
def tied_diag():
    register_covariance_type(TiedDiagCovariance)
    yield "tied_diag"
    del _covariance.COVARIANCE_TYPES["tied_diag"]


def _data(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    means = np.array([[-4.0, 0.0, 2.0], [4.0, 1.0, -2.0], [0.0, 5.0, 0.0]])
    sd = np.array([0.5, 1.5, 1.0])
    labels = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    return means[labels] + sd * rng.standard_normal((n, 3)), means, sd**2


def _em_step(X, weights, means, variances):
    """One EM step of the tied-diagonal model, written out independently."""
    log_prob = (np.log(weights) - 0.5 * np.sum(np.log(2 * np.pi * variances))
                - 0.5 * (((X[:, None, :] - means) ** 2) / variances).sum(axis=2))
    resp = np.exp(log_prob - log_prob.max(axis=1, keepdims=True))
    resp /= resp.sum(axis=1, keepdims=True)
    nk = resp.sum(axis=0)
    new_means = resp.T @ X / nk[:, None]
    new_variances = np.einsum("nk,nkd->d", resp, (X[:, None, :] - new_means) ** 2) / len(X)
    return nk / len(X), new_means, new_variances


def test_a_registered_type_is_fitted_at_the_defaults(tied_diag):
    X, true_means, true_variances = _data()
    gm = DDPMGaussianMixture(3, covariance_type=tied_diag, random_state=0).fit(X)
    assert gm.covariances_.shape == (3,) and gm.precisions_cholesky_.shape == (3,)
    order = np.argsort(gm.means_[:, 0])
    np.testing.assert_allclose(gm.means_[order], true_means[np.argsort(true_means[:, 0])],
                               atol=0.15)
    np.testing.assert_allclose(gm.covariances_, true_variances, rtol=0.1)
    # A maximum of the likelihood: one more EM step (written above, not the
    # package's) moves nothing beyond the stop's tolerance.
    weights, means, variances = _em_step(X, gm.weights_, gm.means_, gm.covariances_)
    np.testing.assert_allclose(means, gm.means_, atol=1e-3)
    np.testing.assert_allclose(variances, gm.covariances_ - gm.reg_covar, rtol=1e-3)
    np.testing.assert_allclose(weights, gm.weights_, atol=1e-3)
    # Inference, sampling and the parameter count come from the class too.
    assert gm.predict(X).shape == (len(X),)
    np.testing.assert_allclose(gm.predict_proba(X[:10]).sum(axis=1), 1.0)
    assert np.isfinite(gm.score(X))
    assert gm.bic(X) == pytest.approx(-2 * gm.score(X) * len(X)
                                      + (3 * 3 + 3 + 2) * np.log(len(X)))
    samples, labels = gm.sample(2000, random_state=1)
    np.testing.assert_allclose(samples[labels == 0].var(axis=0), gm.covariances_, rtol=0.2)


def test_the_registry_names_the_type_only_while_registered(tied_diag):
    assert covariance_model(tied_diag, 1e-6) == TiedDiagCovariance(1e-6)
    del _covariance.COVARIANCE_TYPES[tied_diag]
    with pytest.raises(ValueError, match="covariance_type"):
        DDPMGaussianMixture(2, covariance_type=tied_diag).fit(_data(100)[0])
    register_covariance_type(TiedDiagCovariance)


def test_what_a_type_does_not_define_is_said(tied_diag):
    X = _data(300)[0]
    with pytest.raises(NotImplementedError, match="'tied_diag' does not define to_coordinates"):
        DDPMGaussianMixture(2, covariance_type=tied_diag, noise_level="auto",
                            random_state=0).fit(X)
