"""The covariance types (every branch on the type), History, and the
default pipeline's choice between its two candidate starts."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from sklearn_ddpm_gmm import DDPMGaussianMixture
from sklearn_ddpm_gmm._mixture import _fit
from sklearn_ddpm_gmm._core._covariance import covariance_model as CovarianceModel
from sklearn_ddpm_gmm._core._em import InMemoryRows, stopping_tol
from sklearn_ddpm_gmm._core._mixture import (
    attributes,
    initial_values,
    make_mixture,
    standardised,
)
from sklearn_ddpm_gmm._ddpm._history import History, PhaseKind, phase_history
from sklearn_ddpm_gmm.datasets import make_covariance_mixture

TYPES = ("full", "tied", "diag", "spherical", "identity")


def _random_covariances(covariance_type, K, d, rng):
    A = rng.standard_normal((K, d, d))
    full = A @ np.swapaxes(A, 1, 2) + d * np.eye(d)
    return {"full": full, "tied": full[0], "diag": np.abs(rng.standard_normal((K, d))) + 0.5,
            "spherical": np.abs(rng.standard_normal(K)) + 0.5,
            "identity": np.ones(K)}[covariance_type]


@pytest.mark.parametrize("covariance_type", TYPES)
def test_attributes_round_trip_through_standardised_units(covariance_type):
    rng = np.random.RandomState(0)
    K, d = 3, 4
    model = CovarianceModel(covariance_type, 1e-6)
    weights = np.array([0.2, 0.3, 0.5])
    means = rng.standard_normal((K, d))
    cov = _random_covariances(covariance_type, K, d, rng)
    centre, scale = rng.standard_normal(d), 3.0
    standard = standardised(weights, means, cov, model, centre=centre, scale=scale)
    fitted = attributes(standard, model, centre=centre, scale=scale, dtype=np.float64)
    np.testing.assert_allclose(fitted["weights_"], weights)
    np.testing.assert_allclose(fitted["means_"], means)
    np.testing.assert_allclose(fitted["covariances_"], cov, rtol=1e-12)
    # Precisions are the inverses, in GaussianMixture's shapes.
    assert fitted["precisions_"].shape == np.shape(cov)
    if model.sklearn_type in ("full", "tied"):
        np.testing.assert_allclose(fitted["precisions_"] @ cov,
                                   np.broadcast_to(np.eye(d), np.shape(cov)), atol=1e-10)
    else:
        np.testing.assert_allclose(fitted["precisions_"] * cov, 1.0)
    # float32 attributes for float32 data.
    single = attributes(standard, model, centre=centre, scale=scale, dtype=np.float32)
    assert all(value.dtype == np.float32 for value in single.values())


@pytest.mark.parametrize("covariance_type", TYPES)
def test_sampling_factors_and_precision_products(covariance_type):
    rng = np.random.RandomState(1)
    K, d = 2, 3
    model = CovarianceModel(covariance_type, 0.0)
    cov = _random_covariances(covariance_type, K, d, rng)
    dense = {"full": cov, "tied": np.stack([cov] * K),
             "diag": np.stack([np.diag(v) for v in cov]) if cov.ndim == 2 else None,
             "spherical": None, "identity": None}[covariance_type]
    if dense is None:
        dense = np.stack([v * np.eye(d) for v in cov])
    for factor, matrix in zip(model.sampling_factors(cov, K, d), dense):
        np.testing.assert_allclose(factor @ factor.T, matrix, rtol=1e-12)
    params = make_mixture(np.full(K, 0.5), np.zeros((K, d)), cov, model)
    offsets = rng.standard_normal((5, K, d))
    expected = np.einsum("kij,nkj->nki", np.linalg.inv(dense), offsets)
    np.testing.assert_allclose(model.precision_products(params.precisions_cholesky, offsets),
                               expected, rtol=1e-10)
    np.testing.assert_allclose(model.from_precisions(model.precisions(
        params.precisions_cholesky)), cov, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", ("full", "tied", "diag", "spherical"))
def test_parameter_count_is_gaussian_mixtures(covariance_type):
    X = np.random.RandomState(0).standard_normal((100, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(3, covariance_type=covariance_type, max_iter=1).fit(X)
    assert CovarianceModel(covariance_type, 1e-6).n_parameters(3, 4) == gm._n_parameters()
    # The identity model learns no covariances.
    assert (CovarianceModel("identity", 1e-6).n_parameters(3, 4)
            == CovarianceModel("spherical", 1e-6).n_parameters(3, 4) - 3)


def test_the_identity_model_is_fixed_and_the_spherical_types_pass_in_float32():
    identity = CovarianceModel("identity", 1e-3)
    assert identity.is_fixed and identity.min_variance == 1.0
    assert identity.standardised_reg(2.0) == 0.0
    np.testing.assert_array_equal(identity.fixed_covariances(3, 2.0), np.full(3, 0.25))
    assert identity.cold_type(single_level=True).name == "identity"
    assert identity.cold_type(single_level=False).name == "spherical"
    full = CovarianceModel("full", 1e-3)
    assert full.fixed_covariances(3, 2.0) is None and full.min_variance == 1e-3
    assert full.standardised_reg(2.0) == pytest.approx(2.5e-4)
    assert full.pass_dtype(np.float64) == np.float64
    assert CovarianceModel("spherical", 0.0).pass_dtype(np.float64) == np.float32


def _given(model, weights_init=None, means_init=None, precisions_init=None):
    return initial_values(model, weights_init=weights_init, means_init=means_init,
                          precisions_init=precisions_init, n_components=2, n_features=3)


def test_initial_values_use_gaussian_mixtures_checks():
    model = CovarianceModel("diag", 1e-6)
    with pytest.raises(ValueError, match="weights"):
        _given(model, weights_init=[0.5, 0.6])
    with pytest.raises(ValueError, match="means"):
        _given(model, means_init=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="positive"):
        _given(model, precisions_init=-np.ones((2, 3)))
    weights, means, cov = _given(model, precisions_init=np.full((2, 3), 4.0))
    assert weights is None and means is None
    np.testing.assert_array_equal(cov, np.full((2, 3), 0.25))  # covariances from precisions
    assert _given(CovarianceModel("identity", 1e-6), precisions_init=np.ones(2))[2] is None


def test_history_joins_phases_and_hands_out_copies():
    first = phase_history(PhaseKind.POWER, t=0.7, n_steps=2, learning_rate=2.0, n_rows=100,
                          converged=True, losses=[3.0, 2.0])
    second = phase_history(PhaseKind.FINAL, t=None, n_steps=1, learning_rate=1.0, n_rows=100,
                           converged=False, losses=[1.0])
    history = History().then(first).then(second)
    assert [record["name"] for record in history.schedule] == ["power", "final"]
    np.testing.assert_array_equal(history.loss_curve, [3.0, 2.0, 1.0])
    schedule = history.schedule
    schedule[0]["name"] = "changed"
    assert history.records[0]["name"] == "power"  # the records stay unchanged
    assert History().loss_curve.shape == (0,)
    # schedule_ names are plain strings, the kinds' values.
    assert type(history.schedule[1]["name"]) is str


@pytest.mark.parametrize("n_samples", [1500, 8000, 15_000])
def test_power_start_keeps_the_candidate_of_higher_likelihood(monkeypatch, n_samples):
    X = make_covariance_mixture(n_samples, 3, 4, random_state=3)[0]
    # Every phase runs through the rows' run_phase. The power candidate
    # converges on the cold start's subsample (5 000 rows). Up to 10 000
    # rows it continues on every row, the two k-means candidates converge
    # there (the first on GaussianMixture's own path), and the kept one's run
    # is the final phase; above, the k-means candidates converge on the
    # subsample too and the final phase runs on all rows from the one kept
    # there.
    calls = []
    run_phase = InMemoryRows.run_phase

    def spy(self, start, model, **kwargs):
        result = run_phase(self, start, model, **kwargs)
        calls.append((self.shape[0], start, result))
        return result

    monkeypatch.setattr(InMemoryRows, "run_phase", spy)
    for seed in range(3):
        calls.clear()
        fitted = DDPMGaussianMixture(4, random_state=seed).fit(X)
        if n_samples <= 5000:
            assert [rows for rows, _, _ in calls] == [n_samples] * 3
            candidates = calls
        elif n_samples <= 10_000:
            assert [rows for rows, _, _ in calls] == [5000] + [n_samples] * 3
            for got, expected in zip(calls[1][1], calls[0][2].params):
                np.testing.assert_array_equal(got, expected)
            candidates = calls[1:]
        else:
            assert [rows for rows, _, _ in calls] == [5000] * 3 + [n_samples]
            candidates = calls[:3]
        # The second k-means candidate replaces the better of the first two
        # only where higher by more than the stop's tolerance.
        kept = max((result for _, _, result in candidates[:2]),
                   key=lambda result: result.lower_bounds[-1])
        rows, _, second = candidates[2]
        if second.lower_bounds[-1] > kept.lower_bounds[-1] + stopping_tol(1e-3, 4, rows, 3):
            kept = second
        for _, _, result in candidates:
            # On the subsample a start that cannot beat its rival is abandoned.
            abandoned = n_samples > 10_000 and result is not kept
            assert result.converged or result.n_iter == 100 or abandoned
        if n_samples <= 10_000:
            assert fitted.n_iter_ == kept.n_iter
            np.testing.assert_allclose(np.diff(fitted.lower_bounds_),
                                       np.diff(kept.lower_bounds), rtol=0, atol=1e-12)
            assert fitted.schedule_[-1]["name"] == "final"
            assert fitted.schedule_[-1]["n_steps"] == kept.n_iter
            continue
        _, start, result = calls[3]
        for got, expected in zip(start, kept.params):
            np.testing.assert_array_equal(got, expected)
        assert fitted.n_iter_ == result.n_iter


def test_weighted_standardisation_is_that_of_repeated_rows():
    from sklearn_ddpm_gmm._core._standardise import standardise

    rng = np.random.RandomState(0)
    X = rng.standard_normal((500, 3)) * [1.0, 2.0, 3.0] + 5.0
    weights = rng.randint(0, 3, size=500).astype(float)
    _, centre, scale, _ = standardise(X, sample_weight=weights)
    _, centre_rep, scale_rep, _ = standardise(np.repeat(X, weights.astype(int), axis=0))
    np.testing.assert_allclose(centre, centre_rep, rtol=1e-13)
    assert scale == pytest.approx(scale_rep, rel=1e-13)
    # Unit weights are the unweighted standardisation.
    _, centre_one, scale_one, _ = standardise(X, sample_weight=np.ones(500))
    _, centre_none, scale_none, _ = standardise(X)
    np.testing.assert_allclose(centre_one, centre_none, rtol=1e-14)
    assert scale_one == pytest.approx(scale_none, rel=1e-14)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_positive_definiteness_is_checked_in_the_attributes_dtype(covariance_type):
    # Positive definite in float64 (smallest eigenvalue 1e-9); singular once
    # rounded to float32, where 1 - 1e-9 is 1.
    matrix = np.eye(3)
    matrix[0, 1] = matrix[1, 0] = 1.0 - 1e-9
    cov = matrix if covariance_type == "tied" else np.stack([matrix, np.eye(3)])
    model = CovarianceModel(covariance_type, 0.0)
    precisions = np.ones_like(cov)
    model.check_positive_definite(cov, precisions, np.float64)
    assert np.min(np.linalg.eigvalsh(cov.astype(np.float32))) <= 0.0
    with pytest.raises(ValueError, match="not positive definite"):
        model.check_positive_definite(cov, precisions, np.float32)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_singular_components_are_rows_in_a_lower_dimensional_set(covariance_type):
    from sklearn_ddpm_gmm._core._em import em_step
    from sklearn_ddpm_gmm._core._mixture import singular_components

    rng = np.random.RandomState(0)
    model = CovarianceModel(covariance_type, 1e-6)
    labels = np.repeat([0, 1], 100)
    resp = np.eye(2)[labels]

    def flags(X):
        mixture = em_step(X, resp, model, fixed_covariances=np.ones(2))
        return list(singular_components(mixture, model, len(X)))

    X = rng.standard_normal((200, 3)) + 4.0 * labels[:, np.newaxis]
    assert flags(X) == [False, False]
    # Badly scaled features are not singular (the rule is relative to the data's spread).
    assert flags(X * [1e4, 1.0, 1e-3]) == [False, False]
    # A feature constant in all rows is shared by every model: not singular.
    assert flags(np.c_[X, np.full(200, 7.0)]) == [False, False]
    degenerate = X.copy()
    if covariance_type == "spherical":
        degenerate[:100] = degenerate[0]  # the first component's rows are one point
    elif covariance_type == "tied":
        degenerate[:, 2] = 3.0 * labels  # each component's rows on a plane
    else:
        degenerate[:100, 2] = 0.5  # the first component's rows on a plane
    expected = {"identity": [False, False], "tied": [True, True]}.get(covariance_type,
                                                                        [True, False])
    assert flags(degenerate) == expected
    # Data recorded at finite precision: a coarse grid on the plane is still a plane.
    assert flags(np.round(degenerate, 1)) == expected


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_log_densities_are_the_gaussians_of_each_component(covariance_type, dtype):
    # Each type's own E-step (the tied one forms the product of the rows and
    # the shared factor once) against scipy's density of each component.
    from scipy.stats import multivariate_normal

    rng = np.random.RandomState(0)
    K, d = 3, 4
    model = CovarianceModel(covariance_type, 0.0)
    covariances = _random_covariances(covariance_type, K, d, rng)
    means = rng.standard_normal((K, d))
    X = rng.standard_normal((50, d))
    mixture = make_mixture(np.full(K, 1.0 / K, dtype=dtype), means.astype(dtype),
                           covariances.astype(dtype), model)
    log_gaussian = model.log_gaussian_prob(X.astype(dtype), mixture.means,
                                           mixture.precisions_cholesky)
    if covariance_type == "tied":
        covariances = np.broadcast_to(covariances, (K, d, d))
    elif covariance_type == "diag":
        covariances = [np.diag(variances) for variances in covariances]
    elif covariance_type == "spherical":
        covariances = [variance * np.eye(d) for variance in covariances]
    expected = np.stack([multivariate_normal(mu, cov).logpdf(X)
                         for mu, cov in zip(means, covariances)], axis=1)
    assert log_gaussian.dtype == dtype
    np.testing.assert_allclose(log_gaussian, expected,
                               rtol=1e-5 if dtype == np.float32 else 1e-10)
