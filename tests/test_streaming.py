"""partial_fit, Dask and n_jobs."""

import numpy as np
import pytest

from sklearn_ddpm_gmm import DDPMGaussianMixture
from sklearn_ddpm_gmm.datasets import make_separated_mixture
from sklearn_ddpm_gmm.metrics import matched_mean_error


def _chunks(X, n_chunks):
    return np.array_split(X, n_chunks)


def test_first_partial_fit_is_fit():
    X, _, _ = make_separated_mixture(3000, 3, 3, random_state=0)
    a = DDPMGaussianMixture(3, covariance_type="spherical", random_state=0).partial_fit(X)
    b = DDPMGaussianMixture(3, covariance_type="spherical", random_state=0).fit(X)
    np.testing.assert_array_equal(a.means_, b.means_)
    assert a.n_samples_seen_ == b.n_samples_seen_ == 3000


@pytest.mark.parametrize("covariance_type", ["spherical", "diag", "full", "identity"])
def test_partial_fit_over_chunks_approaches_fit_on_all(covariance_type):
    # The running average of chunk estimates ends far closer to the truth than
    # the first chunk's fit, and near the fit on everything. One data set's
    # errors vary by +-50% around their expectation (the first chunk's and the
    # full fit's alike), so ratios are averaged over three.
    to_first, to_full = [], []
    for data_seed in (1, 2, 3):
        X, _, means = make_separated_mixture(30_000, 4, 3, random_state=data_seed)
        chunks = _chunks(X, 6)
        model = DDPMGaussianMixture(3, covariance_type=covariance_type, random_state=0)
        first = matched_mean_error(model.partial_fit(chunks[0]).means_, means)
        for chunk in chunks[1:]:
            model.partial_fit(chunk)
        streamed = matched_mean_error(model.means_, means)
        full = DDPMGaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
        assert model.n_samples_seen_ == 30_000
        assert streamed < first
        assert np.all(np.isfinite(model.covariances_))
        np.testing.assert_allclose(model.weights_.sum(), 1.0)
        to_first.append(streamed / first)
        to_full.append(streamed / matched_mean_error(full.means_, means))
    # Six chunks: sqrt(1/6) = 0.41 of the first chunk's error is expected.
    assert np.mean(to_first) < 0.6
    assert np.mean(to_full) < 1.5


def test_partial_fit_is_deterministic_and_leaves_input_alone():
    X, _, _ = make_separated_mixture(6000, 3, 2, random_state=2)
    chunks = _chunks(X, 3)
    copies = [c.copy() for c in chunks]
    runs = []
    for _ in range(2):
        model = DDPMGaussianMixture(2, covariance_type="diag", random_state=5)
        for chunk in chunks:
            model.partial_fit(chunk)
        runs.append(model.means_)
    np.testing.assert_array_equal(runs[0], runs[1])
    for chunk, copy in zip(chunks, copies):
        np.testing.assert_array_equal(chunk, copy)


def test_partial_fit_checks_the_chunk():
    X, _, _ = make_separated_mixture(2000, 3, 2, random_state=3)
    model = DDPMGaussianMixture(2, random_state=0).partial_fit(X)
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(X[:, :2])
    bad = X[:10].copy()
    bad[0] = np.nan  # a row with nothing observed (a NaN alone is a missing entry)
    with pytest.raises(ValueError, match="NaN"):
        model.partial_fit(bad)
    bad[0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        model.partial_fit(bad)


def test_n_jobs_gives_the_same_result():
    X, _, _ = make_separated_mixture(4000, 3, 3, random_state=4)
    fits = [
        DDPMGaussianMixture(3, covariance_type="spherical", n_init=3, n_jobs=n_jobs,
                            random_state=0).fit(X)
        for n_jobs in (1, 2)
    ]
    np.testing.assert_array_equal(fits[0].means_, fits[1].means_)
    np.testing.assert_array_equal(fits[0].covariances_, fits[1].covariances_)


@pytest.mark.slow
def test_dask_incremental_on_a_local_cluster():
    # dask-ml's Incremental feeds the blocks of a dask array to partial_fit on
    # the workers of a dask.distributed cluster (worker processes on loopback).
    distributed = pytest.importorskip("distributed")
    da = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, _, means = make_separated_mixture(40_000, 4, 3, random_state=6)
    in_memory = DDPMGaussianMixture(3, covariance_type="spherical", random_state=0)
    for chunk in _chunks(X, 4):
        in_memory.partial_fit(chunk)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        X_dask = da.from_array(X, chunks=(10_000, 4))
        wrapped = wrappers.Incremental(
            DDPMGaussianMixture(3, covariance_type="spherical", random_state=0),
            shuffle_blocks=False,
        ).fit(X_dask)
    model = wrapped.estimator_
    assert model.n_samples_seen_ == 40_000
    # Same blocks, same order, same seeds: the in-memory result.
    np.testing.assert_allclose(model.means_, in_memory.means_, rtol=1e-10, atol=1e-12)
    assert matched_mean_error(model.means_, means) < 0.1
