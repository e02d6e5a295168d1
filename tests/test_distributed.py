"""The final phase's passes over a Dask array's blocks (_core/_dask.py): the same
E-step, sufficient statistics and M-step as in memory."""

import numpy as np
import pytest

from sklearn_ddpm_gmm._core._covariance import covariance_model
from sklearn_ddpm_gmm._core._dask import (
    DaskRows,
    block_statistics,
    is_dask_array,
    standardisation,
)
from sklearn_ddpm_gmm._core._em import em_step, posteriors, run_likelihood_phase
from sklearn_ddpm_gmm._core._missing import (
    MissingRows,
    missing_patterns,
    observed_statistics,
)
from sklearn_ddpm_gmm._core._mixture import make_mixture
from sklearn_ddpm_gmm._core._standardise import standardise as _standardise

da = pytest.importorskip("dask.array")
TYPES = ["full", "tied", "diag", "spherical", "identity"]


def _data():
    rng = np.random.default_rng(0)
    return np.r_[rng.normal(-2, 1, (300, 3)), rng.normal(2, 0.5, (200, 3))] * 4.0 + 7.0


def _params(covariance_type, d=3):
    cov = {"full": np.stack([np.eye(d), 0.5 * np.eye(d)]), "tied": np.eye(d),
           "diag": np.ones((2, d)), "spherical": np.ones(2),
           "identity": np.full(2, 0.7)}[covariance_type]
    return make_mixture(np.array([0.6, 0.4]), np.array([[-0.5] * d, [0.5] * d]), cov,
                        covariance_model(covariance_type, 1e-6))


@pytest.mark.parametrize("covariance_type", TYPES)
def test_m_step_from_merged_block_statistics_is_the_em_step_on_all_rows(covariance_type):
    X = _data()
    centre, scale = X.mean(axis=0), 4.0
    Z = (X - centre) / scale
    model = covariance_model(covariance_type, 1e-6)
    params = _params(covariance_type)
    fixed = np.full(2, 0.7) if covariance_type == "identity" else None
    blocks = [block_statistics(X[rows], params, model, centre=centre, scale=scale)
              for rows in (slice(0, 170), slice(170, 330), slice(330, None))]
    stats = model.merged(model.merged(blocks[0], blocks[1]), blocks[2])
    stepped = make_mixture(*model.m_step(stats, fixed), model)
    log_prob, resp = posteriors(Z, params, model)
    expected = em_step(Z, resp, model, fixed_covariances=fixed)
    for got, want in zip(stepped, expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert stats.log_likelihood == pytest.approx(log_prob.sum(), rel=1e-12)
    assert stats.weight == len(X)


@pytest.mark.parametrize("covariance_type", ["full", "spherical"])
def test_phase_over_blocks_equals_the_phase_in_memory(covariance_type):
    X = _data()
    X_dask = da.from_array(X, chunks=(128, 3))
    assert is_dask_array(X_dask) and not is_dask_array(X)
    centre, scale, observed_features = standardisation(X_dask)
    assert observed_features == 3
    Z, centre_mem, scale_mem, _ = _standardise(X)
    np.testing.assert_allclose(centre, centre_mem, rtol=1e-12)
    assert scale == pytest.approx(scale_mem, rel=1e-12)
    rows = DaskRows(X_dask, centre, scale)
    np.testing.assert_allclose(rows[np.array([3, 1, 400])], Z[[1, 3, 400]], rtol=1e-12)
    model = covariance_model(covariance_type, 1e-6)
    kwargs = dict(tol=1e-6, max_iter=50)
    blocked = rows.run_phase(_params(covariance_type), model, **kwargs)
    in_memory = run_likelihood_phase(Z, _params(covariance_type), model, **kwargs)
    assert blocked.n_iter == in_memory.n_iter
    np.testing.assert_allclose(blocked.lower_bounds, in_memory.lower_bounds, rtol=1e-10)
    for got, want in zip(blocked.params, in_memory.params):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)


def _data_with_nan():
    """_data with ~20% of its entries missing (no row entirely), and an
    incomplete block with rows in several patterns."""
    X = _data()
    X[np.random.default_rng(1).random(X.shape) < 0.2] = np.nan
    return X[~np.isnan(X).all(axis=1)]


def test_standardisation_of_missing_entries_is_the_in_memory_one():
    X = _data_with_nan()
    centre, scale, observed_features = standardisation(da.from_array(X, chunks=(128, 3)))
    _, centre_mem, scale_mem, _ = _standardise(X)
    np.testing.assert_allclose(centre, centre_mem, rtol=1e-12)
    assert scale == pytest.approx(scale_mem, rel=1e-12)
    assert observed_features == pytest.approx(MissingRows(X).observed_features, rel=1e-15)
    rows = DaskRows(da.from_array(X, chunks=(128, 3)), centre, scale)
    assert rows.observed_features == pytest.approx(observed_features, rel=1e-15)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_block_statistics_with_missing_entries_are_the_in_memory_ones(covariance_type):
    X = _data_with_nan()
    centre, scale = np.nanmean(X, axis=0), 4.0
    Z = (X - centre) / scale
    model = covariance_model(covariance_type, 1e-6)
    params = _params(covariance_type)
    blocks = [block_statistics(X[rows], params, model, centre=centre, scale=scale)
              for rows in (slice(0, 170), slice(170, 330), slice(330, None))]
    stats = model.merged(model.merged(blocks[0], blocks[1]), blocks[2])
    expected = observed_statistics(Z, missing_patterns(Z), params, model)
    for got, want in zip(stats, expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    # A complete block keeps the complete-data statistics, bit for bit.
    complete = X[~np.isnan(X).any(axis=1)][:50]
    got = block_statistics(complete, params, model, centre=centre, scale=scale)
    Z = (complete - centre) / scale
    log_prob, resp = posteriors(Z, params, model)
    want = model.statistics(Z, resp, log_prob)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_gathered_rows_with_missing_entries_are_missing_rows():
    X = _data_with_nan()
    centre, scale, _ = standardisation(da.from_array(X, chunks=(128, 3)))
    rows = DaskRows(da.from_array(X, chunks=(128, 3)), centre, scale)
    Z = (X - centre) / scale
    subsample = np.arange(0, 400, 2)
    assert isinstance(rows.subset(subsample), MissingRows)
    np.testing.assert_allclose(rows.cold_start_rows(subsample),
                               MissingRows(Z).cold_start_rows(subsample), rtol=1e-14)
    # Mostly incomplete rows: the subsample at its columns' means (zero).
    Z[:, 0] = np.where(np.arange(len(Z)) % 3 == 0, Z[:, 0], np.nan)
    rows = DaskRows(da.from_array(centre + scale * Z, chunks=(128, 3)), centre, scale)
    np.testing.assert_allclose(rows.cold_start_rows(subsample), np.nan_to_num(Z[subsample]),
                               rtol=1e-14, atol=1e-15)


def _same_fit_in_memory_and_blocked(X, n_components, covariance_type):
    """Fits of X and of X as a Dask array (chunks of 128 rows); asserts they
    agree and returns both and the Dask array."""
    from sklearn_ddpm_gmm import DDPMGaussianMixture

    X_dask = da.from_array(X, chunks=(128, X.shape[1]))
    in_memory, blocked = (DDPMGaussianMixture(n_components, covariance_type=covariance_type,
                                              random_state=0).fit(data)
                          for data in (X, X_dask))
    assert blocked.n_iter_ == in_memory.n_iter_
    assert blocked.lower_bound_ == pytest.approx(in_memory.lower_bound_, rel=1e-10)
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(blocked, name), getattr(in_memory, name),
                                   rtol=1e-8, atol=1e-10)
    return in_memory, blocked, X_dask


@pytest.mark.parametrize("covariance_type", ["full", "spherical"])
def test_fit_with_missing_entries_equals_the_fit_in_memory(covariance_type):
    X = _data_with_nan()
    in_memory, blocked, X_dask = _same_fit_in_memory_and_blocked(X, 2, covariance_type)
    # Inference marginalises the missing entries block by block.
    np.testing.assert_allclose(blocked.score_samples(X_dask).compute(),
                               in_memory.score_samples(X), rtol=1e-8)
    np.testing.assert_allclose(blocked.predict_proba(X_dask).compute(),
                               in_memory.predict_proba(X), atol=1e-8)
    np.testing.assert_array_equal(blocked.predict(X_dask).compute(), in_memory.predict(X))
    assert blocked.score(X_dask) == pytest.approx(in_memory.score(X), rel=1e-10)


@pytest.mark.parametrize("with_nan", [False, True])
@pytest.mark.parametrize("covariance_type", TYPES)
def test_one_component_fit_equals_the_fit_in_memory(covariance_type, with_nan):
    # The one-component start (every row in the component) read the rows in
    # memory, and a Dask array had none to give (AttributeError).
    _same_fit_in_memory_and_blocked(_data_with_nan() if with_nan else _data(), 1,
                                    covariance_type)


def test_dask_array_without_observed_entries_or_with_infinity_is_refused():
    from sklearn_ddpm_gmm import DDPMGaussianMixture

    X = _data_with_nan()
    X[[5, 300], :] = np.nan
    with pytest.raises(ValueError, match=r"2 row\(s\) of X have every feature missing "
                                         r"\(NaN\) \(row\(s\) \[5, 300\]\)"):
        DDPMGaussianMixture(2).fit(da.from_array(X, chunks=(128, 3)))
    X = _data_with_nan()
    X[:, 1] = np.nan
    with pytest.raises(ValueError, match=r"feature\(s\) of X are missing \(NaN\) in every "
                                         r"row \(column\(s\) \[1\]\)"):
        DDPMGaussianMixture(2).fit(da.from_array(X, chunks=(128, 3)))
    for value in (np.inf, -np.inf):
        X = _data_with_nan()
        X[7, 2] = value
        with pytest.raises(ValueError, match="infinity"):
            DDPMGaussianMixture(2).fit(da.from_array(X, chunks=(128, 3)))


@pytest.mark.slow
def test_fit_on_a_local_cluster_equals_the_fit_in_memory():
    distributed = pytest.importorskip("distributed")
    from sklearn_ddpm_gmm import DDPMGaussianMixture
    from sklearn_ddpm_gmm.datasets import make_covariance_mixture

    X = make_covariance_mixture(30_000, 4, 3, random_state=1)[0]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        X_dask = da.from_array(X, chunks=(5_000, 4))
        for covariance_type in ("full", "diag"):
            in_memory = DDPMGaussianMixture(3, covariance_type=covariance_type,
                                            random_state=0).fit(X)
            with distributed.get_task_stream(client) as tasks:
                on_cluster = DDPMGaussianMixture(3, covariance_type=covariance_type,
                                                 random_state=0).fit(X_dask)
            # The passes ran as block tasks on both workers.
            ran = [t for t in tasks.data if "block_statistics" in str(t["key"])]
            assert len({t["worker"] for t in ran}) == 2
            assert len(ran) >= 6 * on_cluster.n_iter_
            for name in ("weights_", "means_", "covariances_"):
                np.testing.assert_allclose(getattr(on_cluster, name),
                                           getattr(in_memory, name), rtol=1e-6, atol=1e-9)
            assert on_cluster.n_iter_ == in_memory.n_iter_
            # Inference on a Dask array returns Dask arrays, block by block.
            labels = on_cluster.predict(X_dask)
            assert is_dask_array(labels)
            np.testing.assert_array_equal(labels.compute(), in_memory.predict(X))
            np.testing.assert_allclose(on_cluster.predict_proba(X_dask).compute(),
                                       in_memory.predict_proba(X), atol=1e-6)
            np.testing.assert_allclose(on_cluster.score_samples(X_dask).compute(),
                                       in_memory.score_samples(X), rtol=1e-6)

        # A block that fails on its worker is reported as that error, not a hang.
        def broken():
            raise RuntimeError("this block cannot be read")

        from dask import delayed

        bad = da.concatenate([X_dask[:10_000],
                              da.from_delayed(delayed(broken)(), (5_000, 4), float)])
        with pytest.raises(RuntimeError, match="cannot be read"):
            DDPMGaussianMixture(3, random_state=0).fit(bad)


@pytest.mark.parametrize("n_samples", [7_000, 15_000])
def test_fit_between_the_subsample_and_20000_rows_equals_the_fit_in_memory(n_samples):
    # Up to 20 000 rows k-means reads every row (and up to 10 000 the
    # candidates converge on them): a Dask array's rows are gathered for it.
    from sklearn_ddpm_gmm import DDPMGaussianMixture

    # Heavy-tailed rows, on which the candidates' maxima differ with the rows
    # they see (tests/test_ddpm_gmm.py).
    rng = np.random.RandomState(0)
    X = rng.standard_t(2.5, size=(n_samples, 6)) @ rng.standard_normal((6, 6))
    in_memory = DDPMGaussianMixture(5, random_state=0).fit(X)
    blocked = DDPMGaussianMixture(5, random_state=0).fit(da.from_array(X, chunks=(3_000, 6)))
    assert [p["name"] for p in blocked.schedule_] == [p["name"] for p in in_memory.schedule_]
    assert blocked.lower_bound_ == pytest.approx(in_memory.lower_bound_, rel=1e-9)
    # The same maximum; where both candidates reach it, the standardisation's
    # rounding (by blocks) can keep the other one, in another order.
    order = np.argsort(blocked.means_[:, 0]), np.argsort(in_memory.means_[:, 0])
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(blocked, name)[order[0]],
                                   getattr(in_memory, name)[order[1]], rtol=1e-6, atol=1e-9)


def test_fit_with_missing_entries_above_10000_rows_equals_the_fit_in_memory():
    # Above 10 000 rows the final phase runs over the blocks, with the
    # covariance prior of fits with holes built from a pass over them.
    from sklearn_ddpm_gmm import DDPMGaussianMixture
    from sklearn_ddpm_gmm.datasets import make_covariance_mixture

    X = make_covariance_mixture(12_000, 4, 3, random_state=0)[0]
    X[np.random.default_rng(0).random(X.shape) < 0.2] = np.nan
    X = X[~np.isnan(X).all(axis=1)]
    in_memory = DDPMGaussianMixture(3, random_state=0).fit(X)
    blocked = DDPMGaussianMixture(3, random_state=0).fit(da.from_array(X, chunks=(3_000, 4)))
    assert [p["name"] for p in blocked.schedule_][-1] == "final"
    assert blocked.n_iter_ == in_memory.n_iter_
    assert blocked.lower_bound_ == pytest.approx(in_memory.lower_bound_, rel=1e-9)
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(blocked, name), getattr(in_memory, name),
                                   rtol=1e-6, atol=1e-9)
