"""DDPMGaussianMixtureIC: the number of components and the covariance type, chosen in one call."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Self

import numpy as np
from joblib import Parallel, delayed
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, DensityMixin, _fit_context, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._estimator import DDPMGaussianMixture, SingularComponentWarning
from .._core._covariance import COVARIANCE_TYPES, RegisteredTypes
from .._core._mixture import has_singular_component


def _fit_candidates(estimators, X_fit, X_eval):
    """Fit the candidates of one number of components, sharing their power
    start (it does not depend on the covariance type)."""
    cache = {}
    return [_fit_candidate(estimator, X_fit, X_eval, cache) for estimator in estimators]


def _fit_candidate(estimator, X_fit, X_eval, cache):
    """Fit one candidate; its criteria on X_eval (the training rows, or the
    held-out ones). ConvergenceWarning is counted, not raised."""
    tic = time.perf_counter()
    if cache is not None:
        estimator._cold_start_cache = cache
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            # Reported in cv_results_["singular"] instead.
            warnings.simplefilter("ignore", SingularComponentWarning)
            estimator.fit(X_fit)
    finally:
        if cache is not None:
            del estimator._cold_start_cache
    return {
        "estimator": estimator,
        "fit_time": time.perf_counter() - tic,
        "bic": estimator.bic(X_fit),
        "aic": estimator.aic(X_fit),
        "held_out_score": estimator.score(X_eval) if X_eval is not None else np.nan,
        "singular": estimator.max_iter > 0 and has_singular_component(
            estimator._mixture(), estimator._spec().model, len(X_fit)),
        "lower_bound": estimator.lower_bound_,
        "n_iter": estimator.n_iter_,
        "converged": estimator.converged_,
        "n_warnings": sum(issubclass(w.category, ConvergenceWarning) for w in caught),
    }


def _restart_from_larger(by_count, X_fit, X_eval, n_jobs):
    """Where the best fit with K + 1 components has a lower BIC than every fit
    with K, restart the candidates with K components from it, less its
    cheapest component; keep a restart where its likelihood is higher.

    The candidates of one K share their starts (the power start does not
    depend on the type, nor k-means' labels), so when those miss the
    components every type of that K misses them together, and the search
    picks a K + 1 that splits a component instead (2 of 20 seeds of separated
    spherical data). A K + 1 fit that found the components and split one
    holds the K true means and one half of the split too many: less the
    component whose removal costs the least likelihood, a start from which
    the final phase converges to the K-component maximum.
    """
    groups = [list(group) for group in by_count]
    for index in range(len(groups) - 1):
        best_larger = min(groups[index + 1], key=lambda fit: fit["bic"])
        larger = best_larger["estimator"]
        if larger.n_components != groups[index][0]["estimator"].n_components + 1:
            continue
        if best_larger["bic"] >= min(fit["bic"] for fit in groups[index]):
            continue  # K already explains the data better than K + 1: no sign of a miss
        keep = np.delete(np.arange(larger.n_components), _cheapest_to_drop(larger, X_fit))
        weights = larger.weights_[keep] / larger.weights_[keep].sum()
        restarts = Parallel(n_jobs=n_jobs)(
            delayed(_fit_candidate)(
                clone(fit["estimator"]).set_params(means_init=larger.means_[keep],
                                                   weights_init=weights),
                X_fit, X_eval, None)
            for fit in groups[index]
        )
        for position, (fit, restarted) in enumerate(zip(groups[index], restarts)):
            groups[index][position] = _better(fit, restarted,
                                              key=lambda fit: fit["lower_bound"])
    return groups


def _restart_from_smaller(by_count, X_fit, X_eval, n_jobs):
    """Restart each candidate with K components from the regular fit of its
    type with K - 1, its loosest component split in two; keep a restart where
    it is regular and its likelihood is higher (or where it is regular and
    the candidate is not).

    A start from scratch can miss a component hidden inside a wide one (two
    groups that differ in a small direction, as crabs' species and sexes do
    beside the size that dominates every measure: 3 of 10 seeds of a full
    fit with 3 components found it, BIC -57.9 against 117.4 and 151.2); the
    fit with one component fewer has already placed the others, and split
    along the principal axis of its members the component that fits them
    worst starts the final phase beside the hidden one (BIC -81.0 there).
    Numbers of components are taken in increasing order, so a split restart
    that won at K is the one split at K + 1.
    """
    groups = [list(group) for group in by_count]
    for index in range(1, len(groups)):
        smaller = {fit["estimator"].covariance_type: fit for fit in groups[index - 1]
                   if not fit["singular"] and fit["estimator"].max_iter > 0}
        jobs = []
        for position, fit in enumerate(groups[index]):
            estimator = fit["estimator"]
            parent = smaller.get(estimator.covariance_type)
            if parent is None or parent["estimator"].n_components + 1 != estimator.n_components:
                continue
            jobs.append((position, clone(estimator).set_params(
                **_split_start(parent["estimator"], X_fit))))
        restarts = Parallel(n_jobs=n_jobs)(
            delayed(_fit_candidate)(estimator, X_fit, X_eval, None) for _, estimator in jobs)
        for (position, _), restarted in zip(jobs, restarts):
            groups[index][position] = _better(
                groups[index][position], restarted,
                key=lambda fit: (not fit["singular"], fit["lower_bound"]))
    return groups


def _better(fit, restarted, *, key):
    """The restart where its ``key`` is higher, else the candidate; the one
    kept counts both fits' time."""
    restarted["fit_time"] += fit["fit_time"]
    if key(restarted) > key(fit):
        return restarted
    fit["fit_time"] = restarted["fit_time"]
    return fit


def _split_start(estimator, X):
    """Initial values for one more component than ``estimator`` has: its
    component that fits its members worst (the lowest mean log-density over
    its posteriors) replaced by two of half its weight, one standard
    deviation either side of its mean along the principal axis of its
    members' scatter; the others as fitted.

    Returns
    -------
    dict
        ``weights_init``, ``means_init`` and (unless the covariances are
        fixed) ``precisions_init``, in X's units.
    """
    resp = estimator.predict_proba(X)
    rows = estimator.impute(X)  # X itself where nothing is missing
    mixture, model = estimator._mixture(), estimator._spec().model
    log_gaussian = model.log_gaussian_prob(rows, mixture.means, mixture.precisions_cholesky)
    mass = np.maximum(resp.sum(axis=0), np.finfo(float).tiny)
    worst = int(np.argmin(np.sum(resp * log_gaussian, axis=0) / mass))
    offsets = rows - estimator.means_[worst]
    scatter = (offsets * resp[:, worst, np.newaxis]).T @ offsets / mass[worst]
    eigenvalues, eigenvectors = np.linalg.eigh(scatter)
    step = np.sqrt(max(eigenvalues[-1], 0.0)) * eigenvectors[:, -1]
    means = np.vstack([estimator.means_, estimator.means_[worst] + step])
    means[worst] -= step
    weights = np.append(estimator.weights_, estimator.weights_[worst] / 2)
    weights[worst] /= 2
    start = {"weights_init": weights, "means_init": means}
    if not model.is_fixed:
        precisions = estimator.precisions_
        start["precisions_init"] = (precisions if model.is_shared else
                                    np.concatenate([precisions, precisions[worst:worst + 1]]))
    return start


def _cheapest_to_drop(estimator, X):
    """The component whose removal (the others' weights renormalised) lowers
    the mean log-likelihood of X least: removing j multiplies each row's
    density by ``(1 - r_j(x)) / (1 - pi_j)``, with r the posteriors."""
    resp = estimator.predict_proba(X)
    with np.errstate(divide="ignore"):
        loss = np.log1p(-estimator.weights_) - np.mean(np.log1p(-resp), axis=0)
    return int(np.argmin(loss))


class DDPMGaussianMixtureIC(DensityMixin, BaseEstimator):
    """DDPMGaussianMixture with the number of components and the covariance type
    chosen by an information criterion.

    Fits a :class:`DDPMGaussianMixture` for every pair of ``n_components`` and
    ``covariance_type`` in the grid (in parallel with ``n_jobs``), keeps the one
    with the lowest BIC (or AIC, or the highest log-likelihood on held-out
    rows), and refits nothing: the kept candidate is ``best_estimator_``, and
    ``predict``, ``score`` and ``sample`` use it. The candidates of one number
    of components share their power start, which does not depend on the
    covariance type; so that a start which missed the components does not
    fail every type of that number together: where the lowest-BIC fit with
    K + 1 components beats every fit with K, each candidate with K components
    is also restarted from it, less the component whose removal costs the
    least likelihood, and the restart is kept where its likelihood is higher.
    Each candidate with K components is also restarted from the regular fit
    of its type with K - 1, its component that fits its rows worst split in
    two (a component hidden inside a wide one), and kept where it is regular
    and its likelihood higher. This is the search R's mclust runs over
    models; a search only finds the right model when every candidate's start
    finds its components, which is what the power start of
    DDPMGaussianMixture and the restarts are for.

    Parameters
    ----------
    n_components : int or array-like of int, default=10
        The candidate numbers of components: ``1..n_components`` for an int,
        the given values otherwise. Candidates with more components than rows
        are skipped.
    covariance_type : str or array-like of str, \
            default=("full", "tied", "diag", "spherical")
        The candidate covariance types (any of DDPMGaussianMixture's).
    criterion : {"bic", "aic", "held-out"}, default="bic"
        How the candidate is chosen: the lowest BIC or AIC on the training
        rows, or the highest mean log-likelihood on ``held_out_size`` of the
        rows held out (the candidates are then fitted on the rest).
    held_out_size : float, default=0.2
        Share of the rows held out for ``criterion="held-out"``.
    n_init : int, default=1
        Initialisations of each candidate (DDPMGaussianMixture's ``n_init``).
    tol : float, default=1e-3
        DDPMGaussianMixture's ``tol``.
    reg_covar : float, default=1e-6
        DDPMGaussianMixture's ``reg_covar``.
    max_iter : int, default=100
        DDPMGaussianMixture's ``max_iter``.
    random_state : int, RandomState instance or None, default=None
        Seeds every candidate's fit and the held-out split. Each candidate
        gets the same seed, so the result is the same for any ``n_jobs``: an
        int itself (each candidate is then ``DDPMGaussianMixture(k,
        random_state=random_state)``'s fit, as in a grid of those), otherwise
        a seed drawn from it.
    n_jobs : int, default=None
        Candidates fitted in parallel (joblib).
    verbose : int, default=0
        1 prints each candidate's criteria.

    Attributes
    ----------
    best_estimator_ : DDPMGaussianMixture
        The chosen candidate.
    n_components_ : int
        Its number of components.
    covariance_type_ : str
        Its covariance type.
    cv_results_ : dict of ndarray
        One entry per candidate, as in GridSearchCV: ``param_n_components``,
        ``param_covariance_type``, ``bic``, ``aic``, ``held_out_score`` (NaN
        unless ``criterion="held-out"``), ``lower_bound``, ``n_iter``,
        ``converged``, ``singular`` (a component whose rows lie in a
        lower-dimensional set: a spurious maximum, ranked after every regular
        candidate), ``fit_time`` and ``rank`` (1 for the chosen one).
    best_index_ : int
        The chosen candidate's index in ``cv_results_``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string feature names.

    See Also
    --------
    DDPMGaussianMixture : The estimator whose settings are chosen.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ddpm_gmm import DDPMGaussianMixtureIC
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(-5, 1, (200, 2)), rng.normal(5, 1, (200, 2))]
    >>> search = DDPMGaussianMixtureIC(n_components=4, random_state=0).fit(X)
    >>> search.n_components_, search.covariance_type_
    (2, 'spherical')
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "covariance_type": [StrOptions(RegisteredTypes()), "array-like"],
        "criterion": [StrOptions({"bic", "aic", "held-out"})],
        "held_out_size": [Interval(Real, 0.0, 1.0, closed="neither")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_components: int | ArrayLike = 10,
        *,
        covariance_type: str | Sequence[str] = ("full", "tied", "diag", "spherical"),
        criterion: str = "bic",
        held_out_size: float = 0.2,
        n_init: int = 1,
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        random_state: int | np.random.RandomState | None = None,
        n_jobs: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.criterion = criterion
        self.held_out_size = held_out_size
        self.n_init = n_init
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _grid(self, n_samples):
        """The (n_components, covariance_type) candidates for ``n_samples`` rows."""
        counts = (range(1, self.n_components + 1) if isinstance(self.n_components, Integral)
                  else [int(k) for k in np.asarray(self.n_components).ravel()])
        types = ([self.covariance_type] if isinstance(self.covariance_type, str)
                 else list(self.covariance_type))
        unknown = set(types) - set(COVARIANCE_TYPES)
        if unknown or not types:
            raise ValueError(f"covariance_type must hold some of {tuple(COVARIANCE_TYPES)}; "
                             f"got {self.covariance_type!r}.")
        if any(k < 1 for k in counts):
            raise ValueError(f"n_components must be >= 1; got {self.n_components!r}.")
        grid = [(k, t) for k in counts if k <= n_samples for t in types]
        if not grid:
            raise ValueError(f"Every candidate n_components exceeds n_samples = {n_samples}.")
        return grid

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: ArrayLike | None = None) -> Self:
        """Fit every candidate and keep the best by the criterion.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; NaN entries are missing at random, and every
            candidate is fitted on the observed entries (see
            :class:`DDPMGaussianMixture`), its criterion counting their
            likelihood.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted search.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DDPMGaussianMixtureIC
        >>> X = np.r_[np.zeros((40, 1)), np.full((40, 1), 9.0)]
        >>> X += np.random.default_rng(0).normal(size=X.shape)
        >>> search = DDPMGaussianMixtureIC(3, covariance_type="spherical",
        ...                                random_state=0).fit(X)
        >>> search.n_components_
        2
        """
        # NaN: missing at random, each candidate fitted on the observed entries.
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2,
                          ensure_all_finite="allow-nan")
        random_state = check_random_state(self.random_state)
        drawn = random_state.randint(np.iinfo(np.int32).max)
        # An int is every candidate's own random_state, as in a grid of
        # DDPMGaussianMixture(k, random_state=seed): then each candidate's
        # k-means start is GaussianMixture(k, random_state=seed)'s.
        seed = (int(self.random_state) if isinstance(self.random_state, Integral)
                else drawn)
        if self.criterion == "held-out":
            X_fit, X_eval = train_test_split(X, test_size=self.held_out_size,
                                             random_state=random_state)
        else:
            X_fit, X_eval = X, None
        grid = self._grid(X_fit.shape[0])
        base = DDPMGaussianMixture(n_init=self.n_init, tol=self.tol, reg_covar=self.reg_covar,
                                   max_iter=self.max_iter, random_state=seed)
        counts = list(dict.fromkeys(k for k, _ in grid))
        by_count = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_candidates)(
                [clone(base).set_params(n_components=k, covariance_type=t)
                 for kk, t in grid if kk == k], X_fit, X_eval)
            for k in counts
        )
        by_count = _restart_from_larger(by_count, X_fit, X_eval, self.n_jobs)
        by_count = _restart_from_smaller(by_count, X_fit, X_eval, self.n_jobs)
        fits = [fit for group in by_count for fit in group]
        if self.criterion == "held-out":
            values = -np.array([fit["held_out_score"] for fit in fits])
        else:
            values = np.array([fit[self.criterion] for fit in fits])
        # Models with a singular component come last: their likelihood is a
        # spurious maximum (see _core._mixture.singular_components).
        singular = np.array([fit["singular"] for fit in fits])
        order = np.lexsort((values, singular))
        rank = np.empty(len(fits), dtype=int)
        rank[order] = np.arange(1, len(fits) + 1)
        self.cv_results_ = {
            "param_n_components": np.array([k for k, _ in grid]),
            "param_covariance_type": np.array([t for _, t in grid], dtype=object),
            **{key: np.array([fit[key] for fit in fits]) for key in (
                "bic", "aic", "held_out_score", "lower_bound", "n_iter", "converged",
                "singular", "fit_time")},
            "rank": rank,
        }
        if self.verbose:
            for (k, t), fit in zip(grid, fits):
                print(f"n_components={k:<3} covariance_type={t:<10} bic {fit['bic']:.3f}  "
                      f"aic {fit['aic']:.3f}  held-out {fit['held_out_score']:.4f}  "
                      f"({fit['fit_time']:.2f} s)")
        self.best_index_ = int(order[0])
        if singular[self.best_index_]:
            warnings.warn("Every candidate has a singular component (its rows lie in a "
                          "lower-dimensional set): the chosen model's likelihood is a "
                          "spurious maximum. Try fewer components or a larger reg_covar.",
                          SingularComponentWarning)
        self.best_estimator_ = fits[self.best_index_]["estimator"]
        self.n_components_, self.covariance_type_ = grid[self.best_index_]
        return self

    def _best(self, X):
        check_is_fitted(self)
        validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite="allow-nan")
        return self.best_estimator_

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Component of each sample under the chosen model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DDPMGaussianMixtureIC
        >>> X = np.r_[np.zeros((40, 1)), np.full((40, 1), 9.0)]
        >>> X += np.random.default_rng(0).normal(size=X.shape)
        >>> search = DDPMGaussianMixtureIC(3, covariance_type="spherical",
        ...                                random_state=0).fit(X)
        >>> int(search.predict([[0.0]])[0] != search.predict([[9.0]])[0])
        1
        """
        return self._best(X).predict(X)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Posterior probability of each component under the chosen model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        resp : ndarray of shape (n_samples, `n_components_`)

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DDPMGaussianMixtureIC
        >>> X = np.r_[np.zeros((40, 1)), np.full((40, 1), 9.0)]
        >>> X += np.random.default_rng(0).normal(size=X.shape)
        >>> search = DDPMGaussianMixtureIC(3, covariance_type="spherical",
        ...                                random_state=0).fit(X)
        >>> search.predict_proba([[0.0]]).shape
        (1, 2)
        """
        return self._best(X).predict_proba(X)

    def score_samples(self, X: ArrayLike) -> np.ndarray:
        """Log density of each sample under the chosen model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DDPMGaussianMixtureIC
        >>> X = np.r_[np.zeros((40, 1)), np.full((40, 1), 9.0)]
        >>> X += np.random.default_rng(0).normal(size=X.shape)
        >>> search = DDPMGaussianMixtureIC(3, covariance_type="spherical",
        ...                                random_state=0).fit(X)
        >>> search.score_samples([[0.0], [4.5]]).shape
        (2,)
        """
        return self._best(X).score_samples(X)

    def score(self, X: ArrayLike, y: ArrayLike | None = None) -> float:
        """Mean log density of the samples under the chosen model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        log_likelihood : float

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DDPMGaussianMixtureIC
        >>> X = np.r_[np.zeros((40, 1)), np.full((40, 1), 9.0)]
        >>> X += np.random.default_rng(0).normal(size=X.shape)
        >>> search = DDPMGaussianMixtureIC(3, covariance_type="spherical",
        ...                                random_state=0).fit(X)
        >>> bool(search.score(X) < 0)
        True
        """
        return self._best(X).score(X)

    def bic(self, X: ArrayLike) -> float:
        """The chosen model's Bayesian information criterion on X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        bic : float

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DDPMGaussianMixtureIC
        >>> X = np.r_[np.zeros((40, 1)), np.full((40, 1), 9.0)]
        >>> X += np.random.default_rng(0).normal(size=X.shape)
        >>> search = DDPMGaussianMixtureIC(3, covariance_type="spherical",
        ...                                random_state=0).fit(X)
        >>> bool(search.bic(X) == search.cv_results_["bic"][search.best_index_])
        True
        """
        return self._best(X).bic(X)

    def aic(self, X: ArrayLike) -> float:
        """The chosen model's Akaike information criterion on X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        aic : float

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DDPMGaussianMixtureIC
        >>> X = np.r_[np.zeros((40, 1)), np.full((40, 1), 9.0)]
        >>> X += np.random.default_rng(0).normal(size=X.shape)
        >>> search = DDPMGaussianMixtureIC(3, covariance_type="spherical",
        ...                                random_state=0).fit(X)
        >>> bool(search.aic(X) < search.bic(X))
        True
        """
        return self._best(X).aic(X)

    def sample(
        self, n_samples: int = 1, *,
        random_state: int | np.random.RandomState | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw samples from the chosen model (see DDPMGaussianMixture.sample).

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DDPMGaussianMixtureIC
        >>> X = np.r_[np.zeros((40, 1)), np.full((40, 1), 9.0)]
        >>> X += np.random.default_rng(0).normal(size=X.shape)
        >>> search = DDPMGaussianMixtureIC(3, covariance_type="spherical",
        ...                                random_state=0).fit(X)
        >>> search.sample(5, random_state=0)[0].shape
        (5, 1)
        """
        check_is_fitted(self)
        return self.best_estimator_.sample(n_samples, random_state=random_state)
