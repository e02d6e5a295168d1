"""Ledoit-Wolf shrinkage from observed entries, and MixtureImputer's ridge from it."""

import warnings

import numpy as np
import pytest
from sklearn.covariance import LedoitWolf, ledoit_wolf_shrinkage
from sklearn.exceptions import ConvergenceWarning

from sklearn_ddpm_gmm import MixtureImputer
from sklearn_ddpm_gmm._numerics._shrinkage import observed_ledoit_wolf


def _correlated(n_samples, n_features, seed=0):
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((n_features, n_features)) / np.sqrt(n_features)
    return rng.standard_normal((n_samples, n_features)) @ mixing + rng.normal(0, 3, n_features)


@pytest.mark.parametrize("shape", [(50, 3), (40, 30), (500, 8)])
def test_complete_rows_give_scikit_learns_shrinkage(shape):
    X = _correlated(*shape)
    shrinkage, mu = observed_ledoit_wolf(X)
    assert shrinkage == pytest.approx(ledoit_wolf_shrinkage(X), rel=1e-12, abs=1e-15)
    assert mu == pytest.approx(np.mean(np.var(X, axis=0)), rel=1e-12)


def test_missing_entries_give_the_pairwise_observed_estimate():
    # Each covariance and the variance of its products from the rows where
    # both columns are observed, each column centred on its observed mean.
    X = _correlated(60, 4, seed=1)
    X[np.random.default_rng(2).random(X.shape) < 0.25] = np.nan
    means = np.nanmean(X, axis=0)
    d = X.shape[1]
    covariance, beta = np.zeros((d, d)), 0.0
    for j in range(d):
        for k in range(d):
            both = ~np.isnan(X[:, j]) & ~np.isnan(X[:, k])
            products = (X[both, j] - means[j]) * (X[both, k] - means[k])
            covariance[j, k] = products.mean()
            beta += products.var() / both.sum()
    mu = np.trace(covariance) / d
    expected = min(1.0, beta / np.sum((covariance - mu * np.eye(d)) ** 2))
    shrinkage, got_mu = observed_ledoit_wolf(X)
    assert shrinkage == pytest.approx(expected, rel=1e-12)
    assert got_mu == pytest.approx(mu, rel=1e-12)


def test_auto_ridge_imputes_by_the_regression_of_ledoit_wolfs_covariance():
    # One component fitted to complete rows: its covariance is S + ridge I,
    # proportional to Ledoit-Wolf's (1 - s) S + s mu I, and a covariance's
    # scale does not move a conditional mean.
    X = _correlated(80, 12, seed=3)
    imputer = MixtureImputer(random_state=0).fit(X)
    lw = LedoitWolf().fit(X)
    rows = _correlated(5, 12, seed=4)
    missing = np.zeros(rows.shape, dtype=bool)
    missing[:, [2, 7]] = True
    held = np.where(missing, np.nan, rows)
    filled = imputer.transform(held)
    observed = ~missing[0]
    cov = lw.covariance_
    regression = np.linalg.solve(cov[np.ix_(observed, observed)], cov[observed][:, ~observed])
    expected = lw.location_[~observed] + (rows[:, observed] - lw.location_[observed]) @ regression
    np.testing.assert_allclose(filled[:, ~observed], expected, rtol=1e-8, atol=1e-8)
    assert imputer.reg_covar_ > 0.0
    assert MixtureImputer(reg_covar=0.5).fit(X).reg_covar_ == 0.5
    # With holes, the documented ridge: Ledoit-Wolf's times the observed share.
    held = X.copy()
    held[np.random.default_rng(5).random(X.shape) < 0.3] = np.nan
    shrinkage, mu = observed_ledoit_wolf(held)
    expected = mu * shrinkage / (1 - shrinkage) * np.mean(~np.isnan(held))
    holed = MixtureImputer().fit(held)
    assert holed.reg_covar_ == pytest.approx(expected, rel=1e-12)
    assert holed.covariance_scale_ == pytest.approx(1 - shrinkage, rel=1e-12)


def test_auto_ridge_beats_a_tiny_one_where_features_are_many_for_the_rows():
    # 40 features driven by 3 factors and noise, 100 rows, a fifth of the
    # entries hidden: the regression of the nearly maximum-likelihood
    # covariance (only the fit's one pseudo-row of prior) overfits the noise
    # (RMSE 1.34-1.39 against 1.12-1.16 with "auto", seeds 0-2; 1.7-1.9
    # without the pseudo-row, which ran out of passes).
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 3)) @ rng.standard_normal((3, 40))
    X += rng.standard_normal(X.shape)
    mask = rng.random(X.shape) < 0.2
    held = np.where(mask, np.nan, X)
    fits = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        for reg in ("auto", 1e-6):
            fits[reg] = MixtureImputer(reg_covar=reg, random_state=0).fit(held)
    errors = {reg: np.sqrt(np.mean((fit.transform(held) - X)[mask] ** 2))
              for reg, fit in fits.items()}
    assert errors["auto"] < 0.9 * errors[1e-6], errors
    # The pseudo-row bounds the likelihood: both converge.
    assert fits["auto"].mixture_.converged_ and fits[1e-6].mixture_.converged_
    assert not caught


def test_auto_draws_follow_ledoit_wolfs_law_not_the_ridged_covariance():
    # Independent columns: Ledoit-Wolf shrinks nearly everything (the ridge
    # is hundreds of variances), but the draws take the covariance times
    # 1 - s, so their spread is the columns' (about 1), not the ridge's.
    rng = np.random.default_rng(7)
    X = rng.standard_normal((300, 4))
    mask = rng.random(X.shape) < 0.2
    imputer = MixtureImputer(strategy="sample", random_state=0).fit(np.where(mask, np.nan, X))
    assert imputer.reg_covar_ > 10.0 and imputer.covariance_scale_ < 0.1
    drawn = imputer.transform(np.where(mask, np.nan, X))[mask]
    assert 0.85 < np.std(drawn) < 1.15


@pytest.mark.parametrize("options", [dict(n_components=2), dict(covariance_type="diag")])
def test_auto_is_the_least_ridge_where_one_component_regresses_nothing(options):
    # Several components (the rows' shrinkage says nothing of theirs), or a
    # component without off-diagonal terms.
    X = _correlated(200, 5)
    imputer = MixtureImputer(random_state=0, **options).fit(X)
    assert imputer.reg_covar_ == 1e-6 and imputer.covariance_scale_ == 1.0


@pytest.mark.parametrize("X", [np.array([[1.0, 2.0, 0.5], [3.0, 1.0, np.nan]]),
                               np.array([[1.0, 2.0], [1.0, 2.0], [1.0, np.nan]])])
def test_auto_ridge_keeps_a_covariance_with_nothing_to_shrink_definite(X):
    # Two rows (no variance of the products), or constant columns (no
    # variance at all): the least ridge, and the fit goes through.
    imputer = MixtureImputer(random_state=0).fit(X)
    assert imputer.reg_covar_ == 1e-6
    assert not np.isnan(imputer.transform(X)).any()


def test_auto_refuses_an_unobserved_column_before_estimating_anything():
    X = np.array([[1.0, np.nan], [2.0, np.nan], [3.0, np.nan]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy warning on the way
        with pytest.raises(ValueError, match="missing \\(NaN\\) in every row"):
            MixtureImputer().fit(X)
