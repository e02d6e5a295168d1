"""MixtureImputer: missing values filled from a Gaussian mixture fitted to the observed entries."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Self

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._core._covariance import RegisteredTypes, covariance_model
from .._core._missing import check_missing
from .._core._mixture import make_mixture
from .._numerics._shrinkage import observed_ledoit_wolf
from ._estimator import DDPMGaussianMixture
from ._inference import impute


class MixtureImputer(TransformerMixin, BaseEstimator):
    """Impute missing values (NaN) from a Gaussian mixture fitted to the observed entries.

    ``fit`` learns a :class:`DDPMGaussianMixture` by maximum likelihood of the
    observed entries, with the covariance prior worth one row that holes
    need (EM with missing coordinates, Ghahramani & Jordan 1994: no value is
    imputed to fit it). ``transform`` fills each row's missing
    entries from the mixture's law given the row's observed entries: the
    conditional mean (``strategy="mean"``, the best guess in squared error),
    or a draw from the conditional law (``strategy="sample"``, for multiple
    imputation: fit once, transform with several ``random_state``). With one
    component this is the classical imputation under a multivariate normal
    (regression of the missing entries on the observed ones); more components
    follow clusters and curved relations.

    Parameters
    ----------
    n_components : int, default=1
        Components of the mixture. One full-covariance component (the
        classical imputation under a multivariate normal) had the lowest
        error on the tuning sets of ``benchmarks/bench_missing.py --grid``
        (wine, breast cancer: 1, 2, 3 and 5 components, full and diag);
        more components pay on clustered data with enough rows per component.
    covariance_type : {"full", "tied", "diag", "spherical", "identity"}, \
            default="full"
        As in :class:`DDPMGaussianMixture`. Only covariances with
        off-diagonal terms ("full", "tied") relate one feature to another
        within a component; with "diag" or "spherical" only the components
        carry information across features.
    strategy : {"mean", "sample"}, default="mean"
        Conditional mean or conditional draw.
    reg_covar : float or "auto", default="auto"
        Added to every covariance's diagonal, in the data's units. "auto",
        with one component: the ridge ``mu s / (1 - s)`` of Ledoit & Wolf's
        shrinkage ``s`` towards ``mu I`` (``mu`` the mean variance),
        estimated from the observed entries as
        :class:`sklearn.covariance.LedoitWolf` estimates it from complete
        rows, times the observed share of the entries (EM's conditional
        variances add the ridge again about where entries are missing), and
        at least 1e-6. Fitted to complete rows, the covariance is then
        Ledoit-Wolf's divided by ``1 - s``: the conditional means are the
        regression of the shrunk covariance (a covariance's scale does not
        move them), which does not overfit where features are many for the
        rows, and the draws of ``strategy="sample"`` take the covariance
        times ``1 - s`` (``covariance_scale_``), Ledoit-Wolf's. With several
        components "auto" is 1e-6 (the shrinkage of the rows' covariance
        says nothing of the components'), and so with diagonal, spherical
        or identity covariances (one such component relates no feature to
        another). Like LedoitWolf it is in the data's units: scale features
        first where their units differ (see :ref:`missing`).
    tol : float, default=1e-3
        Stopping tolerance of the fit (gain of mean log-likelihood per row).
    max_iter : int, default=100
        Most EM steps of the fit's final phase.
    n_init : int, default=1
        Initialisations; the best likelihood is kept.
    random_state : int, RandomState instance or None, default=None
        Seed of the fit, and of the draws of ``strategy="sample"`` (each
        ``transform`` draws anew from ``random_state``: an int repeats them).

    Attributes
    ----------
    mixture_ : DDPMGaussianMixture
        The fitted mixture.
    reg_covar_ : float
        The ridge added to the covariances' diagonals (``reg_covar``, or
        the one "auto" estimated).
    covariance_scale_ : float
        The factor of the mixture's covariances in the draws of
        ``strategy="sample"``: ``1 - s`` under "auto" with one component
        (see ``reg_covar``), else 1.
    n_iter_ : int
        EM steps of the mixture's final phase.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string feature names.

    See Also
    --------
    sklearn_ddpm_gmm.DDPMGaussianMixture.impute : The same from a fitted mixture.
    sklearn.impute.IterativeImputer : Chained regressions, one feature at a time.

    References
    ----------
    Z. Ghahramani and M. I. Jordan. Supervised learning from incomplete data
    via an EM approach. NeurIPS 1993 (1994).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ddpm_gmm import MixtureImputer
    >>> rng = np.random.default_rng(0)
    >>> X = rng.multivariate_normal([0, 0], [[1, 0.9], [0.9, 1]], size=300)
    >>> X[:5, 1] = np.nan
    >>> imputer = MixtureImputer(random_state=0).fit(X)
    >>> filled = imputer.transform(X)
    >>> bool(np.isnan(filled).any()), bool(np.allclose(filled[:5, 1], 0.9 * X[:5, 0], atol=0.2))
    (False, True)
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions(RegisteredTypes())],
        "strategy": [StrOptions({"mean", "sample"})],
        "reg_covar": [Interval(Real, 0.0, None, closed="left"), StrOptions({"auto"})],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, n_components: int = 1, *, covariance_type: str = "full",
                 strategy: str = "mean", reg_covar: float | str = "auto", tol: float = 1e-3,
                 max_iter: int = 100, n_init: int = 1,
                 random_state: int | np.random.RandomState | None = None) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.strategy = strategy
        self.reg_covar = reg_covar
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: ArrayLike | None = None) -> Self:
        """Fit the mixture to the observed entries of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            NaN where missing; every row and every column needs an observed entry.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted imputer.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import MixtureImputer
        >>> X = np.array([[1.0, 2.0], [np.nan, 3.0], [7.0, 6.0], [8.0, np.nan]])
        >>> MixtureImputer(n_components=1, random_state=0).fit(X).mixture_.means_.shape
        (1, 2)
        """
        rows: np.ndarray = validate_data(self, X, dtype=[np.float64, np.float32],
                                         ensure_all_finite="allow-nan")
        shrinkage = 0.0
        if self.reg_covar != "auto":
            self.reg_covar_ = float(self.reg_covar)
        elif self.n_components == 1 and self.covariance_type in _REGRESSING_TYPES:
            check_missing(rows)  # the mixture's refusal, before the estimate reads the columns
            shrinkage, self.reg_covar_ = _ledoit_wolf_ridge(rows)
        else:
            self.reg_covar_ = _MIN_RIDGE
        self.covariance_scale_ = 1.0 - shrinkage
        self.mixture_ = DDPMGaussianMixture(
            self.n_components, covariance_type=self.covariance_type,
            reg_covar=self.reg_covar_, tol=self.tol, max_iter=self.max_iter,
            n_init=self.n_init, random_state=self.random_state,
        ).fit(rows)
        self.n_iter_ = self.mixture_.n_iter_
        return self

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Fill the missing entries of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            NaN where missing.

        Returns
        -------
        X_filled : ndarray of shape (n_samples, n_features)
            X's observed entries; the missing ones from the fitted mixture
            (a row with nothing observed gets the mixture's mean, or a draw).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import MixtureImputer
        >>> X = np.array([[1.0, 2.0], [np.nan, 3.0], [7.0, 6.0], [8.0, np.nan]])
        >>> MixtureImputer(n_components=1, random_state=0).fit_transform(X).shape
        (4, 2)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64,
                          ensure_all_finite="allow-nan")
        if self.strategy == "mean" or self.covariance_scale_ == 1.0:
            random_state = (check_random_state(self.random_state)
                            if self.strategy == "sample" else None)
            return self.mixture_.impute(X, strategy=self.strategy, random_state=random_state)
        mixture = self.mixture_
        model = covariance_model(self.covariance_type, self.reg_covar_)
        law = make_mixture(mixture.weights_, mixture.means_,
                           self.covariance_scale_ * mixture.covariances_, model)
        return impute(X, law, model, random_state=check_random_state(self.random_state))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


# A shrinkage of 1 (no correlation the rows resolve) is a ridge of infinity,
# which imputes every row by the means; this keeps the ridge finite and the
# regression within 0.1% of nothing.
_MAX_SHRINKAGE = 0.999
# The least ridge of "auto" (GaussianMixture's reg_covar): a covariance with
# nothing to shrink (two rows, a constant feature) stays definite.
_MIN_RIDGE = 1e-6
# The types whose one component relates features to each other: "auto"
# shrinks their regression; the others impute every feature by its mean.
_REGRESSING_TYPES = ("full", "tied")


def _ledoit_wolf_ridge(X: np.ndarray) -> tuple[float, float]:
    """Ledoit-Wolf's shrinkage and the ridge whose covariance is proportional
    to the shrunk one (see ``reg_covar``).

    EM adds the ridge once more through each missing entry's conditional
    variance, so a diagonal entry missing in a share p of the rows settles
    about ``ridge / (1 - p)`` above its estimate: the ridge is scaled by the
    observed share of the entries, so that the excess is about
    Ledoit-Wolf's.
    """
    X = np.asarray(X, dtype=np.float64)
    shrinkage, mu = observed_ledoit_wolf(X)
    shrinkage = min(shrinkage, _MAX_SHRINKAGE)
    ridge = mu * shrinkage / (1.0 - shrinkage) * float(np.mean(~np.isnan(X)))
    return shrinkage, max(ridge, _MIN_RIDGE)
