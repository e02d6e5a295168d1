"""DDPMGaussianMixture: a Gaussian mixture learned by gradient descent on the DDPM objective.

The estimator validates its parameters and input, calls one fitting pipeline
(:func:`._fit.fit_likelihood` by default, :func:`._single_level.fit_single_level`
for the paper's single-level estimator) and holds the fitted attributes; the
inference methods evaluate them (:mod:`._inference`). Every branch on the
covariance type is in its class (:mod:`.._core._covariance`).
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Self

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, DensityMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._core._covariance import RegisteredTypes, covariance_model
from .._core._dask import dask_rows, is_dask_array
from .._core._missing import check_missing, rows_of
from .._core._mixture import Mixture, initial_values
from .._core._standardise import check_spread, standardise
from .._core._validation import checked_sample_weight
from .._numerics._fastops import column_min_max
from ._fit import fit_likelihood, partial_fit_likelihood
from ._inference import impute, log_prob_resp, noised_score, sample
from ._single_level import fit_single_level, partial_fit_single_level
from ._spec import FitSpec

_WEIGHTS_NEED_INTEGRATED = ("sample_weight is supported by the default final phase, "
                            "noise_level='integrated'.")
_NAN_NEEDS_INTEGRATED = ("Missing values (NaN) are supported by the default final phase, "
                         "noise_level='integrated'.")

class SingularComponentWarning(UserWarning):
    """Every maximum the fit found has a singular component (a spurious one).

    A component is singular where its rows lie in a lower-dimensional set
    (data recorded at finite precision allow that) and ``reg_covar`` alone
    keeps its covariance definite: its likelihood grows without bound as
    ``reg_covar`` falls. The fit prefers a regular maximum among its starts
    and warns only when every start ended in a singular one.

    Examples
    --------
    >>> import warnings
    >>> from sklearn_ddpm_gmm import SingularComponentWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", SingularComponentWarning)
    """


_SINGULAR = (
    "Every maximum found has a singular component: its rows lie in a "
    "lower-dimensional set (data recorded at finite precision allow that) and "
    "reg_covar alone keeps its covariance definite, a spurious maximum of the "
    "likelihood. Try fewer components, another covariance type or a larger "
    "reg_covar."
)
_NOT_CONVERGED = (
    "Best performing initialization did not converge. Try different init "
    "parameters, or increase max_iter, tol, or check for degenerate data."
)


class DDPMGaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture learned by gradient descent on the DDPM objective.

    The score of a Gaussian mixture noised by the forward (Ornstein-Uhlenbeck)
    process is again a mixture's score; this estimator fits that score model to
    data with the denoising (DDPM) objective of diffusion models, following Shah,
    Chen & Klivans (NeurIPS 2023), and picks the schedule from the data:

    1. the initialisation (``init_params="power"``), on a subsample of at most
       ``max(5000, 500 * n_components)`` rows, with one variance per component:
       a power-iteration phase at a large noise level from a small random
       start, which turns the means towards the span of the true means, then,
       for more than two components, two intermediate noise levels set from
       the current variance estimate, which move the means into their own
       basins;
    2. the final phase on all rows, in the requested covariance type, from the
       initialisation's posteriors: the DDPM objective integrated over all
       noise levels with the likelihood weighting. For this score model (the
       exact score of a noised mixture) that integral is the KL divergence of
       the data from the model up to a constant, so its gradient is the
       log-likelihood's, in closed form from the posteriors; preconditioned,
       a unit step is an EM step, moving means, covariances and weights
       jointly. It stops when a step gains less than ``tol`` per row, as
       GaussianMixture does, and its answer is maximum likelihood.

    ``n_init`` repeats both and keeps the start with the highest
    ``lower_bound_``. With ``noise_level="auto"`` or a float the final phase is
    instead the paper's single-level estimator: preconditioned Monte Carlo
    gradient steps on the DDPM objective at one small noise level (a
    different estimator from maximum likelihood where the data are not a
    Gaussian mixture; see the user guide).

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : {"full", "tied", "diag", "spherical", "identity"}, \
            default="full"
        The covariance model, as in GaussianMixture: ``"full"`` (each component
        its own matrix), ``"tied"`` (one matrix shared by all), ``"diag"`` (each
        its own diagonal), ``"spherical"`` (each its own variance). All are
        learned by gradient steps on the DDPM objective, in coordinates that keep
        them positive definite (log-variances; Cholesky factors with a
        log-diagonal). ``"identity"`` is the paper's model: unit covariances in
        the data's units, only means and weights learned (``reg_covar`` ignored).
        The cold start (power and intermediate phases) always uses one variance
        per component; the requested type takes over from the last cold phase.
    tol : float, default=1e-3
        The final phase stops when a step changes the mean log-likelihood per
        row (``lower_bound_``) by less than ``tol``, as in GaussianMixture.
        (The single-level estimator of ``noise_level="auto"`` or a float
        stops on the parameters' movement instead.)
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance, in the data's units, as in
        GaussianMixture. With 0 on degenerate data the fit raises
        GaussianMixture's ValueError. The initialisation's phases keep at
        least 1e-6 of the data's variance; the single-level estimator's
        phases at least their passes' resolution (float32 for the spherical
        types: 1.2e-7 of the data's variance).
    max_iter : int, default=100
        Most EM steps on all rows, as in GaussianMixture; 0 returns the
        initialisation (the given ``weights_init``, ``means_init`` and
        ``precisions_init`` when all three are given). Up to 10 000 rows the
        default start's candidates converge on every row: their passes are
        EM steps on all rows, and ``max_iter`` bounds them (the kept
        candidate's run is the final phase); above, their passes on a
        subsample of the rows are the start's own, not counted.
    n_init : int, default=1
        Number of initialisations; the one whose final phase ends with the
        highest ``lower_bound_`` is kept.
    init_params : {"power", "kmeans", "k-means++", "random", \
            "random_from_data"}, default="power"
        How the initial posteriors are found: ``"power"`` is the paper's
        large-noise phase from a small random start (then the intermediate
        levels); the others are GaussianMixture's methods, with the same draws
        from ``random_state``. Ignored when ``means_init`` is given (each row
        then starts in the component of its nearest mean).
    weights_init : array-like of shape (n_components,), default=None
        Initial weights, in place of the initialisation's (GaussianMixture's
        checks: in [0, 1], summing to 1).
    means_init : array-like of shape (n_components, n_features), default=None
        Initial means. When given the power and intermediate phases are
        skipped.
    precisions_init : array-like, default=None
        Initial precisions (inverse covariances), shaped as in GaussianMixture:
        (n_components,) spherical, (n_components, n_features) diag,
        (n_components, n_features, n_features) full, (n_features, n_features)
        tied. The data's overall variance if None. Not used by "identity".
    noise_level : "integrated", "auto" or float, default="integrated"
        The final phase's objective. ``"integrated"``: the DDPM objective
        integrated over all noise levels, evaluated exactly (maximum
        likelihood). ``"auto"`` or a float ``t``: the paper's single-level
        estimator at noise level ``t`` (``a = exp(-t)``, standardised units;
        ``"auto"`` sets the noise variance to 0.6 times the smallest variance
        the current estimate resolves, with ``t <= 0.1``), fitted by Monte
        Carlo gradient steps with fresh noise each step and averaged
        iterates, after a cold-final phase at that level on the subsample.
    n_noise_draws : int, default=16
        Single-level estimator only: most iterates averaged at the end (the
        noise's share of the estimate's variance falls like one over their
        number); 0 or 1 keeps the last iterate.
    random_state : int, RandomState instance or None, default=None
        Controls the random start, the subsample and the noise draws.
    n_jobs : int, default=None
        Parallel jobs (joblib) for the ``n_init`` cold starts. Each start draws
        from its own seed, so the result is the same for any ``n_jobs``.
        ``None`` means 1 unless in a ``joblib.parallel_backend`` context; -1
        means all processors.
    warm_start : bool, default=False
        If True, ``fit`` starts the final phase from the previous solution,
        with no new initialisation (``n_init`` is then ignored), as in
        GaussianMixture: two warm fits of ``max_iter=1`` equal one of
        ``max_iter=2``.
    verbose : int, default=0
        1 prints each initialisation and phase, 2 also the change of the
        log-likelihood and the time every ``verbose_interval`` steps, in
        GaussianMixture's format.
    verbose_interval : int, default=10
        Steps between two progress lines.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        Mixing weights.
    means_ : ndarray of shape (n_components, n_features)
        Component means.
    covariances_ : ndarray
        Component covariances, shaped as in GaussianMixture: (n_components,)
        spherical and identity, (n_components, n_features) diag,
        (n_components, n_features, n_features) full, (n_features, n_features) tied.
    precisions_ : ndarray
        Inverse covariances, same shape.
    precisions_cholesky_ : ndarray
        Cholesky factors of the precisions, as in GaussianMixture.
    converged_ : bool
        Whether the final phase met its stopping rule within ``max_iter``
        steps.
    n_iter_ : int
        Steps of the final phase on all rows (after ``partial_fit``, also
        the steps taken on the chunks).
    lower_bound_ : float
        Mean log-likelihood per row of the training data, at the last step
        of the final phase (as GaussianMixture: before that step's update);
        ``-inf`` with ``max_iter=0``. Where the training data had missing
        entries, the observed entries' log-likelihood plus the covariance
        prior's log-density (see :meth:`fit`), per row.
    lower_bounds_ : list of float
        ``lower_bound_`` at each step of the final phase.
    schedule_ : list of dict
        The phases that ran for the kept start, in order: ``name`` ("power",
        "intermediate", then for the default fit "start-power" and
        "start-kmeans" (twice), the candidate starts (converged on the
        subsample, on every row up to 10 000 rows), and "final" (up to
        10 000 rows, the kept candidate's run, listed last); for the
        single-level estimator "cold-final", "final-subsample", "final" and
        "averaging"; "partial_fit" (and
        "partial_fit-settle") for later ``partial_fit`` calls), noise level
        ``t`` (None for the
        integrated objective), ``n_steps``, ``learning_rate``, ``n_rows`` and
        ``converged``.
    loss_curve_ : ndarray of shape (total steps,)
        DDPM loss at each step of those phases (levels differ between phases;
        ``schedule_`` tells where each begins); for the integrated objective
        the negative mean log-likelihood, which equals it up to a constant.
    n_samples_seen_ : int
        Rows seen by ``fit`` and the later ``partial_fit`` calls.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string feature names.

    See Also
    --------
    sklearn.mixture.GaussianMixture : The same model fitted by EM.

    References
    ----------
    K. Shah, S. Chen and A. Klivans. Learning Mixtures of Gaussians Using the
    DDPM Objective. NeurIPS 2023. arXiv:2307.01178.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ddpm_gmm import DDPMGaussianMixture
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> gm = DDPMGaussianMixture(n_components=2, random_state=0).fit(X)
    >>> np.round(np.sort(gm.means_[:, 0]))
    array([ 1., 10.])
    >>> gm.predict([[0, 0], [12, 3]])[0] != gm.predict([[0, 0], [12, 3]])[1]
    np.True_
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions(RegisteredTypes())],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions({"power", "kmeans", "k-means++", "random",
                                    "random_from_data"})],
        "weights_init": ["array-like", None],
        "means_init": ["array-like", None],
        "precisions_init": ["array-like", None],
        "noise_level": [StrOptions({"auto", "integrated"}),
                        Interval(Real, 0.0, None, closed="neither")],
        "n_noise_draws": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "verbose_interval": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "power",
        weights_init: ArrayLike | None = None,
        means_init: ArrayLike | None = None,
        precisions_init: ArrayLike | None = None,
        noise_level: str | float = "integrated",
        n_noise_draws: int = 16,
        random_state: int | np.random.RandomState | None = None,
        n_jobs: int | None = None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.noise_level = noise_level
        self.n_noise_draws = n_noise_draws
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: ArrayLike | None = None,
            sample_weight: ArrayLike | None = None) -> Self:
        """Estimate the mixture's parameters by gradient descent on the DDPM objective.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data: an array, or a ``dask.array.Array`` chunked by rows
            (its blocks are passed over where they live). NaN marks a missing
            entry (missing at random; default final phase, in memory or in a
            Dask array's blocks): the fit maximises the likelihood of the
            observed entries plus a covariance prior worth one row, which
            holes need to keep the likelihood bounded (EM with missing
            coordinates; see the user guide). Every row and every column
            needs an observed entry.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows, >= 0 (an integer weight counts a row that
            many times, a zero drops it): they weight every pass of the final
            phase, and the initialisation's subsample is drawn from the rows of
            positive weight and weighted there. Default fit only
            (``noise_level="integrated"``), in-memory X. With missing entries
            the covariance prior's pseudo-row weighs 1 against them (weights
            summing to 1 make it as strong as the data).

        Returns
        -------
        self : object
            The fitted estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DDPMGaussianMixture
        >>> X = np.random.default_rng(0).normal(size=(200, 2))
        >>> DDPMGaussianMixture(random_state=0).fit(X).means_.shape
        (1, 2)
        """
        if is_dask_array(X):
            if sample_weight is not None:
                raise ValueError("sample_weight is not supported with a Dask array.")
            return self._fit_dask(X)
        return self._fit(X, sample_weight)

    def fit_predict(self, X: ArrayLike, y: ArrayLike | None = None) -> np.ndarray:
        """Fit the model and return the component of each training point.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component labels.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DDPMGaussianMixture
        >>> X = np.r_[np.zeros((50, 2)), np.full((50, 2), 8.0)]
        >>> X += np.random.default_rng(0).normal(size=X.shape)
        >>> labels = DDPMGaussianMixture(2, random_state=0).fit_predict(X)
        >>> len(set(labels[:50])), len(set(labels[50:]))
        (1, 1)
        """
        return self.fit(X, y).predict(X)

    def _initial_values(self, spec, n_features):
        """The user's starting values, checked as GaussianMixture checks them."""
        return initial_values(spec.model, weights_init=self.weights_init,
                              means_init=self.means_init,
                              precisions_init=self.precisions_init,
                              n_components=self.n_components, n_features=n_features)

    def _spec(self):
        """The parameters as the pipelines read them."""
        return FitSpec(
            n_components=self.n_components,
            model=covariance_model(self.covariance_type, self.reg_covar), tol=self.tol,
            max_iter=self.max_iter, n_init=self.n_init, init_params=self.init_params,
            noise_level=self.noise_level, n_noise_draws=self.n_noise_draws,
            n_jobs=self.n_jobs, verbose=self.verbose, verbose_interval=self.verbose_interval,
        )

    def _fit(self, X, sample_weight=None):
        """fit on in-memory X (labels are left to predict: a pass fit does not need)."""
        warm = self.warm_start and hasattr(self, "converged_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2,
                          reset=not warm, ensure_all_finite="allow-nan")
        missing = check_missing(X)
        sample_weight = self._checked_weights(sample_weight, X)
        n_samples, n_features = X.shape
        if n_samples < self.n_components:
            raise ValueError(
                f"Expected n_samples >= n_components but got n_components = "
                f"{self.n_components}, n_samples = {n_samples}"
            )
        spec = self._spec()
        given = self._initial_values(spec, n_features)
        random_state = check_random_state(self.random_state)
        if spec.single_level:
            if sample_weight is not None:
                raise ValueError(_WEIGHTS_NEED_INTEGRATED)
            if missing:
                raise ValueError(_NAN_NEEDS_INTEGRATED)
            return self._fit_single_level(X, spec, given, random_state=random_state,
                                          warm=warm)
        Z, centre, scale, _ = standardise(X, min_variance=spec.model.min_variance)
        return self._fit_rows(rows_of(Z, sample_weight), spec, given, random_state,
                              centre=centre, scale=scale, dtype=X.dtype, warm=warm)

    def _fit_dask(self, X):
        """fit on a Dask array: the passes of the final phase run on the blocks
        where they live (:mod:`.._core._dask`); the subsamples of the
        initialisation are gathered by row index."""
        if X.ndim != 2:
            raise ValueError(f"Expected a 2D Dask array, got {X.ndim} dimensions.")
        spec = self._spec()
        if spec.single_level or (self.init_params != "power" and self.means_init is None):
            raise ValueError(
                "A Dask array is fitted with noise_level='integrated' and "
                "init_params='power' (or all of weights_init, means_init and "
                "precisions_init given)."
            )
        # The initial values are checked before the pass that standardises.
        given = self._initial_values(spec, X.shape[1])
        if given[1] is not None and any(value is None for value in given):
            raise ValueError("With a Dask array give all of weights_init, means_init and "
                             "precisions_init, or none.")
        rows, centre, scale = dask_rows(X, self.n_components, spec.model.min_variance)
        self.n_features_in_ = rows.shape[1]
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        random_state = check_random_state(self.random_state)
        return self._fit_rows(rows, spec, given, random_state, centre=centre, scale=scale,
                              dtype=np.float64,
                              warm=self.warm_start and hasattr(self, "converged_"))

    def _fit_rows(self, rows, spec, given, random_state, *, centre, scale, dtype, warm):
        """The default fit of standardised rows, and its attributes."""
        warm = (self.weights_, self.means_, self.covariances_, self.lower_bound_,
                getattr(self, "_last_change_", np.inf)) if warm else None
        result = fit_likelihood(rows, spec, random_state, centre=centre, scale=scale,
                                dtype=dtype, given=given, warm=warm,
                                cold_start_cache=getattr(self, "_cold_start_cache", None))
        self._store(result)
        if result.singular:
            warnings.warn(_SINGULAR, SingularComponentWarning)
        self.lower_bound_ = result.lower_bound
        self.lower_bounds_ = result.lower_bounds
        self._last_change_ = result.last_change
        self.n_samples_seen_ = rows.shape[0]
        weights = rows.sample_weight
        self._weight_seen_ = float(rows.shape[0] if weights is None else weights.sum())
        # partial_fit works in the first fit's units and continues its stream.
        self._standardisation_ = (centre, scale)
        self._random_state_ = random_state
        return self

    def _fit_single_level(self, X, spec, given, *, random_state, warm):
        """The paper's single-level estimator (``noise_level="auto"`` or a float)."""
        warm = (self.weights_, self.means_, self.covariances_) if warm else None
        result = fit_single_level(X, spec, random_state, given=given, warm=warm)
        self._store(result)
        self.lower_bound_ = self.score(X)
        self.lower_bounds_ = [self.lower_bound_]
        self.n_samples_seen_ = X.shape[0]
        self._standardisation_ = (result.centre, result.scale)
        self._random_state_ = random_state
        return self

    def _store(self, result):
        """A pipeline's result as the fitted attributes; ConvergenceWarning as
        GaussianMixture warns."""
        self._warn_unless_converged(result)
        self._set_attributes(result.attributes)
        self.schedule_ = result.history.schedule
        self.loss_curve_ = result.history.loss_curve
        self.n_iter_ = result.n_iter
        self.converged_ = result.converged
        # The DDPM phases' regularisation (single-level partial_fit reuses it).
        self._phase_reg_ = result.phase_reg

    def _warn_unless_converged(self, result):
        if not result.converged and self.max_iter > 0:
            warnings.warn(_NOT_CONVERGED, ConvergenceWarning)

    def _set_attributes(self, attributes):
        for name, value in attributes.items():
            setattr(self, name, value)

    def _checked_weights(self, sample_weight, X):
        """Sample weights as float64 (n_samples,), or None: scikit-learn's
        checks (shape, finite, >= 0, not all zero)."""
        if sample_weight is None:
            return None
        return checked_sample_weight(sample_weight, X.shape[0])

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: ArrayLike, y: ArrayLike | None = None,
                    sample_weight: ArrayLike | None = None) -> Self:
        """Update the mixture with one chunk of data (streaming).

        The first call on an unfitted estimator fits the chunk as :meth:`fit`
        does (initialisation included). Each later call runs the final phase
        on the chunk from the current estimate (the exact integrated
        objective: EM-matched steps until the gains still to come are below
        ``tol``), and moves the parameters towards the chunk's optimum by the
        chunk's share of all rows seen, ``len(X) / n_samples_seen_``: a running
        average of per-chunk estimates, with memory bounded by the chunk. With
        ``noise_level="auto"`` or a float the chunk's phase is the single-level
        one (a cold-final phase with one fixed noise draw, then fresh-noise
        and averaged steps).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One chunk of training data.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the chunk's rows (see :meth:`fit`); the chunk's share
            is then its total weight over the total weight seen.

        Returns
        -------
        self : object
            The updated estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DDPMGaussianMixture
        >>> rng = np.random.default_rng(0)
        >>> gm = DDPMGaussianMixture(2, covariance_type="spherical", random_state=0)
        >>> for _ in range(5):
        ...     chunk = np.r_[rng.normal(-4, 1, (200, 2)), rng.normal(4, 1, (200, 2))]
        ...     gm = gm.partial_fit(chunk)
        >>> gm.n_samples_seen_, np.round(np.sort(gm.means_[:, 0]))
        (2000, array([-4.,  4.]))
        """
        if not hasattr(self, "means_"):
            return self.fit(X, sample_weight=sample_weight)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False,
                          ensure_all_finite="allow-nan")
        missing = check_missing(X)
        sample_weight = self._checked_weights(sample_weight, X)
        centre, scale = self._standardisation_
        # The chunk is taken in the first fit's units: with them, its spread
        # must be one float64 covariances hold.
        if missing:
            low, high = np.nanmin(X, axis=0), np.nanmax(X, axis=0)
        else:
            low, high = column_min_max(X)
        check_spread(np.minimum(low, centre), np.maximum(high, centre), X.dtype)
        spec = self._spec()
        current = (self.weights_, self.means_, self.covariances_)
        if not spec.single_level:
            weight = float(len(X) if sample_weight is None else sample_weight.sum())
            seen = getattr(self, "_weight_seen_", self.n_samples_seen_)
            result = partial_fit_likelihood(X, current, spec, centre=centre, scale=scale,
                                            sample_weight=sample_weight,
                                            share=weight / (seen + weight))
            self._weight_seen_ = seen + weight
        else:
            if sample_weight is not None:
                raise ValueError(_WEIGHTS_NEED_INTEGRATED)
            if missing:
                raise ValueError(_NAN_NEEDS_INTEGRATED)
            result = partial_fit_single_level(
                X, current, spec, random_state=self._random_state_, centre=centre, scale=scale,
                reg=self._phase_reg_, n_samples_seen=self.n_samples_seen_,
            )
        self._warn_unless_converged(result)
        self._set_attributes(result.attributes)
        self.schedule_ = self.schedule_ + result.history.schedule
        self.loss_curve_ = np.append(self.loss_curve_, result.history.losses)
        self.n_iter_ += result.n_iter
        self.n_samples_seen_ += len(X)
        return self

    # ---------------------------------------------------------------- inference
    def _mixture(self):
        return Mixture(self.weights_, self.means_, self.covariances_,
                       self.precisions_cholesky_)

    def _estimate_log_prob_resp(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64,
                          ensure_all_finite="allow-nan")
        return log_prob_resp(X, self._mixture(), self._spec().model)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def score_samples(self, X: ArrayLike) -> np.ndarray:
        """Log density of each sample under the fitted mixture.

        Missing entries (NaN) are marginalised: a row's density is that of
        its observed entries (0 for a row with none).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DDPMGaussianMixture
        >>> X = np.random.default_rng(0).normal(size=(500, 1))
        >>> gm = DDPMGaussianMixture(random_state=0).fit(X)
        >>> bool(abs(gm.score_samples([[0.0]])[0] + 0.92) < 0.05)
        True
        """
        if is_dask_array(X):  # block by block, a Dask array back
            return X.map_blocks(self.score_samples, drop_axis=1, dtype=np.float64)
        return self._estimate_log_prob_resp(X)[0]

    def score(self, X: ArrayLike, y: ArrayLike | None = None,
              sample_weight: ArrayLike | None = None) -> float:
        """Mean log density of the samples (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows: the weighted mean.

        Returns
        -------
        log_likelihood : float

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DDPMGaussianMixture
        >>> X = np.random.default_rng(0).normal(size=(500, 1))
        >>> gm = DDPMGaussianMixture(random_state=0).fit(X)
        >>> bool(gm.score(X) < 0)
        True
        """
        if is_dask_array(X):
            return float(self.score_samples(X).mean().compute())
        log_prob = self.score_samples(X)
        if sample_weight is not None:
            sample_weight = self._checked_weights(sample_weight, log_prob[:, np.newaxis])
        return float(np.average(log_prob, weights=sample_weight))

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Posterior probability of each component for each sample.

        Given a row's observed entries where some are missing (NaN).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DDPMGaussianMixture
        >>> X = np.r_[np.zeros((50, 1)), np.full((50, 1), 9.0)]
        >>> X += np.random.default_rng(0).normal(size=X.shape)
        >>> gm = DDPMGaussianMixture(2, random_state=0).fit(X)
        >>> gm.predict_proba([[0.0]]).round(3).max()
        np.float64(1.0)
        """
        if is_dask_array(X):
            return X.map_blocks(self.predict_proba, dtype=np.float64,
                                chunks=(X.chunks[0], (self.n_components,)))
        return self._estimate_log_prob_resp(X)[1]

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Most probable component of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DDPMGaussianMixture
        >>> X = np.r_[np.zeros((50, 1)), np.full((50, 1), 9.0)]
        >>> X += np.random.default_rng(0).normal(size=X.shape)
        >>> gm = DDPMGaussianMixture(2, random_state=0).fit(X)
        >>> int(gm.predict([[0.0]])[0] == gm.predict([[9.0]])[0])
        0
        """
        if is_dask_array(X):
            return X.map_blocks(self.predict, drop_axis=1, dtype=np.intp)
        return self.predict_proba(X).argmax(axis=1)

    def score_function(self, X: ArrayLike, t: float) -> np.ndarray:
        """Score of the fitted mixture noised to level ``t``.

        The forward process maps a clean point to ``a x + s z`` with
        ``a = exp(-t)``, ``s^2 = 1 - exp(-2 t)`` and ``z ~ N(0, I)`` in the data's
        own units; the noised model is the mixture of ``N(a mu_i, a^2 Sigma_i + s^2 I)``.
        This is the function the DDPM objective trains, so a fitted model can
        serve as the prior of a diffusion sampler.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points at which to evaluate the score.
        t : float
            Noise level, ``t >= 0`` (``t = 0``: the clean model's score).

        Returns
        -------
        score : ndarray of shape (n_samples, n_features)
            ``grad_x log q_t(x)``.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DDPMGaussianMixture
        >>> X = np.random.default_rng(0).normal(size=(500, 1))
        >>> gm = DDPMGaussianMixture(random_state=0).fit(X)
        >>> gm.score_function([[0.0], [2.0]], t=0.5).shape
        (2, 1)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return noised_score(X, _check_level(t), self._mixture(), self._spec().model)

    def sample(
        self, n_samples: int = 1, *,
        random_state: int | np.random.RandomState | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw samples from the fitted mixture.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.
        random_state : int, RandomState instance or None, default=None
            Source of randomness; None uses the estimator's ``random_state``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Samples, grouped by component as in GaussianMixture.sample.
        y : ndarray of shape (n_samples,)
            Component of each sample.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DDPMGaussianMixture
        >>> X = np.random.default_rng(0).normal(size=(200, 2))
        >>> gm = DDPMGaussianMixture(random_state=0).fit(X)
        >>> Xs, ys = gm.sample(5, random_state=1)
        >>> Xs.shape, ys.shape
        ((5, 2), (5,))
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples!r}. It must be an "
                "integer >= 1."
            )
        rng = check_random_state(self.random_state if random_state is None else random_state)
        return sample(n_samples, rng, self._mixture(), self._spec().model)

    def impute(self, X: ArrayLike, *, strategy: str = "mean",
               random_state: int | np.random.RandomState | None = None) -> np.ndarray:
        """Fill the missing entries (NaN) of X from the fitted mixture.

        Each row's missing coordinates given its observed ones follow a
        mixture of Gaussians: component k with the posterior probability of
        the observed part, and within it the Gaussian conditional
        ``N(mu_m + Sigma_mo Sigma_oo^{-1} (x_o - mu_o), Sigma_mm - Sigma_mo
        Sigma_oo^{-1} Sigma_om)``. ``strategy="mean"`` fills the conditional
        mean (the best guess in squared error); ``"sample"`` draws from the
        conditional law (multiple imputation: call again with other seeds).
        A row with nothing observed gets the mixture's mean, or a draw from it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            NaN where missing.
        strategy : {"mean", "sample"}, default="mean"
            Conditional mean or conditional draw.
        random_state : int, RandomState instance or None, default=None
            Source of the draws of ``"sample"``; None uses the estimator's
            ``random_state``.

        Returns
        -------
        X_filled : ndarray of shape (n_samples, n_features)
            A new array: X's observed entries, the missing ones filled.

        See Also
        --------
        sklearn_ddpm_gmm.MixtureImputer : The same as a transformer.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DDPMGaussianMixture
        >>> rng = np.random.default_rng(0)
        >>> X = rng.multivariate_normal([0, 0], [[1, 0.9], [0.9, 1]], size=500)
        >>> gm = DDPMGaussianMixture(random_state=0).fit(X)
        >>> filled = gm.impute([[2.0, np.nan]])
        >>> bool(abs(filled[0, 1] - 0.9 * 2.0) < 0.2)
        True
        >>> gm.impute([[2.0, np.nan]], strategy="sample", random_state=0).shape
        (1, 2)
        """
        check_is_fitted(self)
        if strategy not in ("mean", "sample"):
            raise ValueError(f"strategy must be 'mean' or 'sample'; got {strategy!r}.")
        X = validate_data(self, X, reset=False, dtype=np.float64,
                          ensure_all_finite="allow-nan")
        rng = None
        if strategy == "sample":
            rng = check_random_state(self.random_state if random_state is None
                                     else random_state)
        return impute(X, self._mixture(), self._spec().model, random_state=rng)

    # --------------------------------------------------------- model selection
    def _n_parameters(self):
        """Free parameters, counted as GaussianMixture counts them."""
        return self._spec().model.n_parameters(self.n_components, self.means_.shape[1])

    def bic(self, X: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """Bayesian information criterion for the model on X (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows (the number of rows is then their total).

        Returns
        -------
        bic : float

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DDPMGaussianMixture
        >>> X = np.random.default_rng(0).normal(size=(300, 2))
        >>> b1 = DDPMGaussianMixture(1, random_state=0).fit(X).bic(X)
        >>> b3 = DDPMGaussianMixture(3, random_state=0).fit(X).bic(X)
        >>> bool(b1 < b3)
        True
        """
        n_samples = _weighted_count(X, sample_weight)
        return (-2 * self.score(X, sample_weight=sample_weight) * n_samples
                + self._n_parameters() * np.log(n_samples))

    def aic(self, X: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """Akaike information criterion for the model on X (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows (the number of rows is then their total).

        Returns
        -------
        aic : float

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DDPMGaussianMixture
        >>> X = np.random.default_rng(0).normal(size=(300, 2))
        >>> gm = DDPMGaussianMixture(1, random_state=0).fit(X)
        >>> bool(gm.aic(X) < gm.bic(X))
        True
        """
        n_samples = _weighted_count(X, sample_weight)
        return (-2 * self.score(X, sample_weight=sample_weight) * n_samples
                + 2 * self._n_parameters())


def _weighted_count(X, sample_weight):
    """Rows of X, or their total weight."""
    if sample_weight is None:
        return X.shape[0] if is_dask_array(X) else np.asarray(X).shape[0]
    return float(np.sum(sample_weight))


def _check_level(t):
    """The noise level of score_function as a float: a real number >= 0."""
    if (isinstance(t, (str, bytes)) or np.ndim(t) != 0
            or not (np.issubdtype(np.asarray(t).dtype, np.integer)
                    or np.issubdtype(np.asarray(t).dtype, np.floating))):
        raise TypeError(f"t must be a real number; got {t!r}.")
    if not (np.isfinite(t) and t >= 0):
        raise ValueError(f"t must be a finite number >= 0; got {t!r}.")
    return float(t)
