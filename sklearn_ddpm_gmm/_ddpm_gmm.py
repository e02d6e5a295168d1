"""DDPMGaussianMixture: a Gaussian mixture learned by gradient descent on the DDPM objective."""

import functools
import hashlib
import inspect
import warnings
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, DensityMixin, _fit_context
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import pairwise_distances_argmin
from sklearn.mixture._gaussian_mixture import (
    _check_means,
    _check_precisions,
    _check_weights,
    _compute_precision_cholesky,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
from threadpoolctl import ThreadpoolController

from ._covariance import (
    COVARIANCE_TYPES,
    coordinates,
    covariances,
    from_spherical,
    mean_variances,
    n_covariance_parameters,
    noised,
)
from ._distributed import DaskRows, is_dask_array
from ._distributed import standardisation as dask_standardisation
from ._fastops import column_min_max, column_sums
from ._likelihood import (
    GaussianParams,
    InMemoryRows,
    LikelihoodResult,
    em_step,
    far_posteriors,
    gaussian_params,
    posteriors,
    run_likelihood_phase,
    stopping_tol,
)
from ._objective import draw_seeds, stein_objective
from ._optim import DataBounds, blend, data_bounds, run_fresh_noise, run_phase
from ._schedule import (
    cold_final_phase,
    cold_start_rows,
    em_level,
    final_phase,
    intermediate_phase,
    n_intermediate_phases,
    power_phase,
    power_phase_variance,
)
from ._score_model import MixtureParams, score


# Fewest noised rows a phase uses (see DDPMGaussianMixture._run).
_MIN_NOISED_ROWS = 4096
# Strides of the systematic subsamples the full-data stage first takes one
# step on each (see DDPMGaussianMixture._ladder).
_LADDER_STRIDES = (64, 8)
# Most runs of the cold-final phase, each at the level the last one's
# estimate calls for (see DDPMGaussianMixture._settle).
_MAX_SETTLE_PHASES = 3
# Relative regularisation of the cold start's phases (reg_covar's default in
# standardised units): they only have to find the components, and must not
# collapse one onto a point whatever reg_covar the final phase uses.
_COLD_REG_COVAR = 1e-6
# Most steps that converge each candidate start on the subsample
# (GaussianMixture's default max_iter).
_START_MAX_ITER = 100
# Smallest mass a component's weighted mean divides by.
_TINY_MASS = 1e-300
# Rows per block when computing the standardisation (the block's offsets
# stay in cache between their uses).
_STANDARDISATION_ROWS = 16384


@functools.cache
def _threadpool_controller():
    """threadpoolctl's view of the loaded thread pools, made once per process
    (making one scans the loaded libraries: 3-4 ms, a tenth of a fit of
    10^5 rows)."""
    return ThreadpoolController()


def _one_blas_thread():
    """Context in which BLAS runs one thread (see DDPMGaussianMixture._fit)."""
    return _threadpool_controller().limit(limits=1, user_api="blas")


def _standardise(X, dtype=None, min_variance=0.0):
    """``Z = (X - centre) / scale`` with one scale for all features, and the
    bounds of Z (:class:`._optim.DataBounds`).

    One scale keeps the spherical model spherical; Z has mean square one per
    entry. X is read in blocks of rows, so the only array the size of the
    data is Z, in ``dtype`` (X's own if None): float32 passes cost 0.6-0.7x
    float64 ones, and the offsets are taken in float64 before rounding, so
    data far from the origin keeps its precision.

    Nothing here squares a number in the data's units, so every scale float64
    holds is measured; data whose covariances float64 cannot hold are refused
    (see :func:`_check_spread`).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    dtype : numpy dtype, default=None
    min_variance : float, default=0.0
        The smallest variance the model gives a component (``reg_covar``; 1
        for "identity"). The scale is at least ``sqrt(eps * min_variance)``:
        a spread below it changes no covariance (they round to
        ``min_variance``), and the standardised model's variances stay
        below ``1 / eps``.

    Returns
    -------
    Z : ndarray of shape (n_samples, n_features)
    centre : ndarray of shape (n_features,)
    scale : float
    bounds : DataBounds
        Z's bounding box and the total of its features' variances.
    """
    n_samples = X.shape[0]
    blocks = [slice(i, i + _STANDARDISATION_ROWS)
              for i in range(0, n_samples, _STANDARDISATION_ROWS)]
    low, high = column_min_max(X)
    _check_spread(low, high, X.dtype)
    # The mean as an offset from the mid-range, which cannot overflow; kept in
    # [low, high], so that a constant column is centred exactly on its value.
    middle = low / 2 + high / 2
    offset = sum(column_sums(X[block] - middle) for block in blocks) / n_samples
    centre = np.clip(middle + offset, low, high)
    largest = float(max(np.max(high - centre), np.max(centre - low)))
    # Mean square of the offsets per entry, in units of the largest offset
    # when squaring could overflow or underflow (data near 1e150 or 1e-150).
    unit = 1.0 if 1e-100 < largest < 1e100 else largest
    mean_square = 0.0
    if largest > 0.0:
        for block in blocks:
            offsets = X[block] - centre
            if unit != 1.0:
                offsets /= unit
            mean_square += float(np.einsum("ij,ij->", offsets, offsets)) / X.size
    spread = unit * float(np.sqrt(mean_square))
    if min_variance == 0.0 and 0.0 < spread < np.sqrt(np.finfo(X.dtype).tiny):
        raise ValueError(
            f"The spread of X ({spread:.3g}) is below what {X.dtype.name} covariances "
            "can hold without regularisation: its variances underflow. Set "
            "reg_covar > 0 (in the data's units) or rescale X."
        )
    scale = max(spread, float(np.sqrt(np.finfo(float).eps * min_variance)))
    if scale == 0.0:
        scale = 1.0  # constant data, no regularisation: any unit will do
    Z = _standardised(X, centre, scale, dtype)
    # Z's features' variances total d (spread / scale)^2.
    total_variance = X.shape[1] * (spread / scale) ** 2
    bounds = DataBounds((low - centre) / scale, (high - centre) / scale, total_variance)
    return Z, centre, scale, bounds


def _check_spread(low, high, dtype):
    """Refuse data whose squared distances ``dtype`` cannot hold.

    Every component's variance along a feature is at most a quarter of the
    feature's squared range (Popoviciu), and every squared distance between
    points of the data at most the squared diagonal of their bounding box:
    when that is finite, so are the fitted covariances and the training
    data's log-densities.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        ranges = high - low
        widest = float(np.max(ranges))
        diagonal = (widest * float(np.sqrt(np.sum((ranges / widest) ** 2)))
                    if 0.0 < widest < np.inf else widest)
    limit = float(np.sqrt(np.finfo(dtype).max))
    if not diagonal <= limit:
        raise ValueError(
            f"The spread of X (range {widest:.3g} along a feature, diagonal "
            f"{diagonal:.3g}) exceeds what {np.dtype(dtype).name} covariances can "
            f"hold: squared distances above {limit:.3g}**2 overflow. Rescale X."
        )


def _standardised(X, centre, scale, dtype=None):
    """``(X - centre) / scale`` in ``dtype`` (X's if None), one copy of X."""
    Z = np.empty(X.shape, dtype=X.dtype if dtype is None else dtype)
    for start in range(0, X.shape[0], _STANDARDISATION_ROWS):
        block = slice(start, start + _STANDARDISATION_ROWS)
        np.multiply(X[block] - centre, 1.0 / scale, out=Z[block], casting="same_kind")
    return Z


def _params_from_attributes(means, cov, weights, centre, scale, reg_covar,
                            covariance_type):
    """Internal (standardised, unconstrained) parameters from caller-unit ones."""
    return MixtureParams(
        (np.asarray(means, dtype=float) - centre) / scale,
        coordinates(np.asarray(cov, dtype=float) / scale / scale, covariance_type, reg_covar),
        np.log(np.asarray(weights, dtype=float)),
    )


# Shapes of covariances_ / precisions_init for each covariance type, as in
# GaussianMixture ("identity" reports its unit variances like "spherical").
def _covariance_shape(covariance_type, n_components, n_features):
    return {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
        "identity": (n_components,),
    }[covariance_type]


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
        Most steps of the final phase on all rows; 0 returns the
        initialisation (the given ``weights_init``, ``means_init`` and
        ``precisions_init`` when all three are given).
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
        ``-inf`` with ``max_iter=0``.
    lower_bounds_ : list of float
        ``lower_bound_`` at each step of the final phase.
    schedule_ : list of dict
        The phases that ran for the kept start, in order: ``name`` ("power",
        "intermediate", "final"; for the single-level estimator also
        "cold-final", "final-subsample" and "averaging"; "partial_fit" for
        later ``partial_fit`` calls), noise level ``t`` (None for the
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
        "covariance_type": [StrOptions(set(COVARIANCE_TYPES))],
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
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="power",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        noise_level="integrated",
        n_noise_draws=16,
        random_state=None,
        n_jobs=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
    ):
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
    def fit(self, X, y=None, sample_weight=None):
        """Estimate the mixture's parameters by gradient descent on the DDPM objective.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data: an array, or a ``dask.array.Array`` chunked by rows
            (its blocks are passed over where they live).
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows, >= 0 (an integer weight counts a row that
            many times, a zero drops it): they weight every pass of the final
            phase, and the initialisation's subsample is drawn from the rows of
            positive weight and weighted there. Default fit only
            (``noise_level="integrated"``), in-memory X.

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

    def fit_predict(self, X, y=None):
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

    def _fit(self, X, sample_weight=None):
        """fit's work (labels are left to predict: a pass fit does not need)."""
        X = validate_data(
            self, X, dtype=[np.float64, np.float32], ensure_min_samples=2,
            reset=not (self.warm_start and hasattr(self, "converged_")),
        )
        sample_weight = self._checked_weights(sample_weight, X)
        n_samples, _ = X.shape
        if n_samples < self.n_components:
            raise ValueError(
                f"Expected n_samples >= n_components but got n_components = "
                f"{self.n_components}, n_samples = {n_samples}"
            )
        given = self._check_initial_parameters(X)
        random_state = check_random_state(self.random_state)
        if self.noise_level == "integrated":
            return self._fit_likelihood(X, given, random_state, sample_weight)
        if sample_weight is not None:
            raise ValueError("sample_weight is supported by the default final phase, "
                             "noise_level='integrated'.")
        Z, centre, scale, bounds = _standardise(X, self._pass_dtype(X),
                                                min_variance=self._min_variance())
        resolution = np.finfo(self._pass_dtype(X)).eps
        if self.covariance_type == "identity" and 1.0 / scale < resolution:
            # The single-level phases noise standardised data at the unit
            # variances' level: a noise below the passes' rounding of the data
            # is no noise.
            raise ValueError(
                f"The spread of X ({scale:.3g}) is too large for the single-level "
                f"estimator of covariance_type='identity': its unit standard "
                f"deviations are {1.0 / scale:.3g} of the data's, below the "
                f"{np.dtype(self._pass_dtype(X)).name} passes' resolution. Use "
                "noise_level='integrated' (the default) or rescale X."
            )
        # The passes cannot resolve a variance below their rounding of the
        # standardised data: a component collapsing further (reg_covar 1e-46
        # of the variance at spreads of 1e20) overflows them.
        self._phase_reg = max(self._standardised_reg(scale), resolution)
        # One BLAS thread: a pass is many small products on blocks of rows,
        # (8192, d) x (d, K); on a shared 2-core machine two threads made the
        # pass at n = 1e5, d = 50, K = 16 cost 4x the CPU time of one.
        with _one_blas_thread():
            if self.warm_start and hasattr(self, "means_"):
                params = _params_from_attributes(
                    self.means_, self.covariances_, self.weights_, centre, scale,
                    self._reg(), self.covariance_type,
                )
                schedule, losses = [], []
            else:
                params, schedule, losses = self._cold_start(Z, centre, scale, random_state)
            params, converged, n_iter = self._final_stage(
                Z, params, random_state, schedule, losses, bounds
            )
        self._set_parameters(params, centre, scale, X.dtype)
        self.schedule_ = schedule
        self.loss_curve_ = np.asarray(losses)
        self.n_iter_ = n_iter
        self.converged_ = converged
        self.lower_bound_ = self.score(X)
        self.lower_bounds_ = [self.lower_bound_]
        self.n_samples_seen_ = n_samples
        # partial_fit works in the first fit's units and continues its stream.
        self._standardisation_ = (centre, scale)
        self._random_state_ = random_state
        return self

    def _final_tol(self, shape):
        """Tolerance of the final phase on data of ``shape``."""
        n_samples, n_features = shape
        return stopping_tol(self.tol, self.n_components, n_samples, n_features)

    def _standardised_reg(self, scale):
        """reg_covar (given in the data's units) in standardised units."""
        # Divided twice: scale**2 may underflow where reg_covar / scale does not.
        return 0.0 if self.covariance_type == "identity" else self.reg_covar / scale / scale

    def _checked_weights(self, sample_weight, X):
        """Sample weights as float64 (n_samples,), or None: scikit-learn's
        checks (shape, finite, >= 0, not all zero)."""
        if sample_weight is None:
            return None
        return _check_sample_weight(sample_weight, X, dtype=np.float64,
                                    ensure_non_negative=True)

    def _fit_likelihood(self, X, given, random_state, sample_weight=None):
        """The default fit: cold start(s), then the exact integrated objective
        (:mod:`._likelihood`) on all rows; the start with the highest
        ``lower_bound_`` is kept, as in GaussianMixture."""
        Z, centre, scale, _ = _standardise(X, min_variance=self._min_variance())
        return self._fit_rows(InMemoryRows(Z, sample_weight), centre, scale, given,
                              random_state, X.dtype)

    def _fit_dask(self, X):
        """fit on a Dask array: the passes of the final phase run on the
        blocks where they live (:mod:`._distributed`); the subsamples of the
        initialisation are gathered by row index."""
        if X.ndim != 2:
            raise ValueError(f"Expected a 2D Dask array, got {X.ndim} dimensions.")
        if self.noise_level != "integrated" or (self.init_params != "power"
                                                 and self.means_init is None):
            raise ValueError(
                "A Dask array is fitted with noise_level='integrated' and "
                "init_params='power' (or all of weights_init, means_init and "
                "precisions_init given)."
            )
        if X.numblocks[1] != 1:
            X = X.rechunk({1: -1})
        if not np.issubdtype(X.dtype, np.floating):
            X = X.astype(np.float64)
        n_samples, n_features = X.shape
        if n_samples < max(2, self.n_components):
            raise ValueError(
                f"Expected n_samples >= max(2, n_components) but got n_components = "
                f"{self.n_components}, n_samples = {n_samples}"
            )
        self.n_features_in_ = n_features
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        given = self._check_initial_parameters(X)
        if given[1] is not None and any(value is None for value in given):
            raise ValueError("With a Dask array give all of weights_init, means_init and "
                             "precisions_init, or none.")
        random_state = check_random_state(self.random_state)
        centre, scale, low, high = dask_standardisation(X, self._min_variance())
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ValueError("Input X contains NaN or infinity.")
        _check_spread(low, high, np.dtype(np.float64))
        return self._fit_rows(DaskRows(X, centre, scale), centre, scale, given,
                              random_state, np.float64)

    def _fit_rows(self, Z, centre, scale, given, random_state, dtype):
        """The default fit on standardised rows Z (:class:`._likelihood.InMemoryRows`
        or :class:`._distributed.DaskRows`)."""
        n_samples, n_features = Z.shape
        log_scale = n_features * np.log(scale)
        weights, means, cov = given
        given = (weights,
                 None if means is None else (means - centre) / scale,
                 None if cov is None else cov / scale / scale)
        fixed = (np.full(self.n_components, 1.0 / scale / scale)
                 if self.covariance_type == "identity" else None)
        self._phase_reg = max(self._standardised_reg(scale), _COLD_REG_COVAR)
        if self.warm_start and hasattr(self, "converged_"):
            start = self._standardised_attributes(centre, scale)
            with _one_blas_thread():
                runs = [self._likelihood_run(Z, start, scale, fixed, [], [],
                                             self.lower_bound_ + log_scale)]
        elif self.n_init == 1:
            runs = [self._one_likelihood_init(Z, given, centre, scale, fixed, random_state, 0)]
        else:
            # A seed per start: the same starts whatever n_jobs. (On a Dask
            # array they run one after the other: its passes are already
            # spread over the cluster.)
            seeds = random_state.randint(np.iinfo(np.int32).max, size=self.n_init)
            jobs = 1 if isinstance(Z, DaskRows) else self.n_jobs
            runs = Parallel(n_jobs=jobs)(
                delayed(self._one_likelihood_init)(
                    Z, given, centre, scale, fixed, np.random.RandomState(seed), init
                )
                for init, seed in enumerate(seeds)
            )
        best = -np.inf
        for result, schedule, losses in runs:
            lower_bound = result.lower_bounds[-1] if result.lower_bounds else -np.inf
            if self.max_iter == 0 or lower_bound > best or best == -np.inf:
                best, kept = lower_bound, (result, schedule, losses)
        result, schedule, losses = kept
        if not result.converged and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
            )
        self._set_gaussian_parameters(result.params, centre, scale, dtype)
        self.schedule_ = schedule
        self.loss_curve_ = np.asarray(losses)
        self.n_iter_ = result.n_iter
        self.converged_ = result.converged
        self.lower_bound_ = best - log_scale
        self.lower_bounds_ = [value - log_scale for value in result.lower_bounds]
        self.n_samples_seen_ = n_samples
        weights = Z.sample_weight
        self._weight_seen_ = float(n_samples if weights is None else weights.sum())
        self._standardisation_ = (centre, scale)
        self._random_state_ = random_state
        return self

    def _one_likelihood_init(self, Z, given, centre, scale, fixed, random_state, init):
        """One start (:meth:`_likelihood_start`) and the final phase from it.

        Returns
        -------
        result : LikelihoodResult
        schedule, losses : list
        """
        if self.verbose:
            print(f"Initialization {init}")
        schedule, losses = [], []
        # One BLAS thread here and in joblib's workers: the same rounding, so
        # the same result, for any n_jobs.
        with _one_blas_thread():
            start = self._likelihood_start(Z, given, centre, scale, fixed, random_state,
                                           schedule, losses)
            return self._likelihood_run(Z, start, scale, fixed, schedule, losses)

    def _likelihood_run(self, Z, start, scale, fixed, schedule, losses,
                        lower_bound=-np.inf):
        """The final phase on all rows of Z from ``start``, logged in
        ``schedule`` (its loss: the negative mean log-likelihood, the integrated
        objective up to a constant)."""
        if self.max_iter == 0:
            return LikelihoodResult(start, [], False), schedule, losses
        if self.verbose:
            print(f"  Phase final on all noise levels (exact) on {Z.shape[0]} rows")
        result = Z.run_phase(
            start, covariance_type=self.covariance_type,
            reg_covar=self._standardised_reg(scale), tol=self._final_tol(Z.shape),
            max_iter=self.max_iter, lower_bound=lower_bound, fixed_covariances=fixed,
            verbose=self.verbose,
            verbose_interval=self.verbose_interval,
        )
        schedule.append(_likelihood_record("final", result, Z.shape[0]))
        losses += [-value for value in result.lower_bounds]
        return result, schedule, losses

    def _likelihood_start(self, Z, given, centre, scale, fixed, random_state, schedule,
                          losses):
        """Starting parameters of the final phase, on standardised Z.

        Posteriors on all rows from ``init_params`` (GaussianMixture's
        methods), one EM-matched step from them in the requested type, then
        the given initial values in place of the computed ones, as in
        GaussianMixture. For ``"power"`` see :meth:`_power_start`.
        """
        if all(value is not None for value in given):
            weights, means, covariances = given
            return gaussian_params(weights, means, covariances, self.covariance_type)
        if given[1] is not None:
            # Given means: each row to its nearest, as k-means labels would.
            resp = _one_hot(pairwise_distances_argmin(Z.array, given[1]), self.n_components,
                            Z.dtype)
        elif self.init_params == "power" and self.n_components > 1:
            start = self._power_start(Z, centre, scale, fixed, random_state, schedule,
                                      losses)
            return _with_given(start, given, self.covariance_type)
        elif self.init_params == "power":
            # One component: nothing to separate, every row in it (k-means++
            # put one row there, whose collapsed covariance could overflow).
            resp = np.ones((Z.shape[0], 1), dtype=Z.dtype)
        else:
            resp = _initial_posteriors(Z.array, self.n_components, self.init_params,
                                       random_state, Z.sample_weight)
        start = em_step(Z.array, resp, self._standardised_reg(scale), self.covariance_type,
                        fixed, Z.sample_weight)
        return _with_given(start, given, self.covariance_type)

    def _power_start(self, Z, centre, scale, fixed, random_state, schedule, losses):
        """The start of ``init_params="power"``, on a subsample of Z.

        The paper's cold start (power and intermediate levels, one variance per
        component, :meth:`_power_cold_start`) gives posteriors; so does
        GaussianMixture's k-means start on the same rows. Each is converged
        there by the exact final phase in the requested type, and the one with
        the higher likelihood is kept. Neither start finds the components
        every time, and each fails where the other does not: the power start
        when the weights or variances differ much (6 components in 5
        dimensions, weights 0.06-0.28: 2 of 10 seeds found every component,
        k-means 9), k-means on separated components in many dimensions (see
        the user guide); the likelihood tells which one did.
        """
        rows, cold = self._power_cold_start(Z, centre, scale, random_state, schedule,
                                            losses)
        Z_start = Z[rows]
        weights = Z.sample_weight
        weights = None if weights is None else weights[rows]
        reg = self._standardised_reg(scale)
        candidates = {
            "power": posteriors(Z_start, cold, "spherical")[1],
            "kmeans": _initial_posteriors(Z_start, self.n_components, "kmeans", random_state,
                                          weights),
        }
        best = None
        for name, resp in candidates.items():
            result = run_likelihood_phase(
                Z_start, em_step(Z_start, resp, reg, self.covariance_type, fixed, weights),
                covariance_type=self.covariance_type, reg_covar=reg,
                tol=self._final_tol(Z_start.shape), max_iter=_START_MAX_ITER,
                fixed_covariances=fixed, sample_weight=weights,
            )
            schedule.append(_likelihood_record(f"start-{name}", result, len(rows)))
            losses += [-value for value in result.lower_bounds]
            if best is None or result.lower_bounds[-1] > best.lower_bounds[-1]:
                best = result
        return best.params

    def _power_cold_start(self, Z, centre, scale, random_state, schedule, losses):
        """The paper's cold start (power and intermediate levels, one variance
        per component) on a subsample of Z. The exact final phase takes over
        from there: a single-level phase at the EM level in between could
        collapse a component onto a point (1-D, 200 rows, 6 seeds: once), a
        singular maximum of the likelihood that EM does not leave.

        Returns
        -------
        rows : ndarray of shape (n_rows,)
            The subsample's rows of Z.
        GaussianParams
            A spherical mixture in standardised units.
        """
        n_rows = cold_start_rows(Z.shape[0], self.n_components)
        weights = Z.sample_weight
        if weights is None:
            rows = np.sort(random_state.choice(Z.shape[0], n_rows, replace=False))
        else:  # rows of positive weight; the weights enter where they are used
            positive = np.flatnonzero(weights > 0)
            rows = np.sort(random_state.choice(positive, min(n_rows, len(positive)),
                                               replace=False))
        # The cold phases pass over the data in float32 (see _pass_dtype).
        Z_cold = Z[rows].astype(np.float32)
        seed = random_state.randint(np.iinfo(np.int32).max)
        # DDPMGaussianMixtureIC lends a cache: the cold start does not depend
        # on the covariance type, so one run serves every type of a grid.
        cache = getattr(self, "_cold_start_cache", None)
        key = (self.n_components, seed, self.tol, self._reg(), self.init_params,
               hashlib.sha1(Z_cold.tobytes()).hexdigest()) if cache is not None else None
        if key is not None and key in cache:
            params, cold_schedule, cold_losses = cache[key]
        else:
            params, cold_schedule, cold_losses = self._one_cold_start(
                Z_cold, centre, scale, seed, None, final_type=self._cold_type()
            )
            if key is not None:
                cache[key] = (params, cold_schedule, cold_losses)
        schedule += [dict(record) for record in cold_schedule]
        losses += cold_losses
        variances = covariances(params.covariance, "spherical", self._reg())
        return rows, gaussian_params(params.weights().astype(Z.dtype),
                                     params.means.astype(Z.dtype),
                                     variances.astype(Z.dtype), "spherical")

    def _standardised_attributes(self, centre, scale):
        """The fitted parameters as GaussianParams in standardised units."""
        covariances = np.asarray(self.covariances_, dtype=float) / scale / scale
        return gaussian_params(np.asarray(self.weights_, dtype=float),
                               (np.asarray(self.means_, dtype=float) - centre) / scale,
                               covariances, self.covariance_type)

    def _set_gaussian_parameters(self, params, centre, scale, dtype):
        """Fitted attributes, in the data's units and dtype, from GaussianParams
        in standardised units."""
        self.weights_ = params.weights.astype(dtype)
        self.means_ = (centre + scale * params.means).astype(dtype)
        if self.covariance_type == "identity":
            self.covariances_ = np.ones(self.n_components, dtype=dtype)
        else:
            self.covariances_ = (scale * scale * params.covariances).astype(dtype)
        self.precisions_cholesky_ = (params.precisions_cholesky / scale).astype(dtype)
        self._set_precisions()
        _check_representable(self.covariances_, self.precisions_, dtype,
                             self.covariance_type)

    def _set_precisions(self):
        if self.covariance_type in ("full", "tied"):
            chol = self.precisions_cholesky_
            self.precisions_ = chol @ np.swapaxes(chol, -1, -2)
        else:
            self.precisions_ = self.precisions_cholesky_**2

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
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
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        sample_weight = self._checked_weights(sample_weight, X)
        centre, scale = self._standardisation_
        # The chunk is taken in the first fit's units: with them, its spread
        # must be one float64 covariances hold.
        low, high = column_min_max(X)
        _check_spread(np.minimum(low, centre), np.maximum(high, centre), X.dtype)
        if self.noise_level == "integrated":
            return self._partial_fit_likelihood(X, centre, scale, sample_weight)
        if sample_weight is not None:
            raise ValueError("sample_weight is supported by the default final phase, "
                             "noise_level='integrated'.")
        Z = _standardised(X, centre, scale, self._pass_dtype(X))
        params = _params_from_attributes(
            self.means_, self.covariances_, self.weights_, centre, scale,
            self._reg(), self.covariance_type,
        )
        share = len(Z) / (self.n_samples_seen_ + len(Z))
        losses = []
        with _one_blas_thread():
            # The chunk's own optimum, then its averaged fresh-noise steps: a
            # running average of chunk optima reaches the accuracy of a fit on
            # all rows, an average of points short of them does not (a burn-in
            # that stops at the chunk's standard error left 1.09x the error of
            # fit on spherical data, 1.6x on full covariances).
            settled = self._settle(Z, params, self._random_state_, self.schedule_, losses,
                                   name="partial_fit-settle")
            n_settle = len(losses)
            chunk_params, _, n_iter = self._final_stage(
                Z, settled, self._random_state_, self.schedule_, losses, data_bounds(Z),
                name="partial_fit",
            )
            n_iter += n_settle
        self._set_parameters(blend(params, chunk_params, share), centre, scale)
        self.loss_curve_ = np.append(self.loss_curve_, losses)
        self.n_iter_ += n_iter
        self.n_samples_seen_ += len(Z)
        return self

    def _partial_fit_likelihood(self, X, centre, scale, sample_weight=None):
        """partial_fit's update by the exact final phase: the chunk's maximum of
        the likelihood from the current estimate, then a step towards it by
        the chunk's share of all rows seen."""
        Z = _standardised(X, centre, scale)
        fixed = (np.full(self.n_components, 1.0 / scale / scale)
                 if self.covariance_type == "identity" else None)
        current = self._standardised_attributes(centre, scale)
        with _one_blas_thread():
            result = run_likelihood_phase(
                Z, current, covariance_type=self.covariance_type,
                reg_covar=self._standardised_reg(scale), tol=self._final_tol(Z.shape),
                max_iter=self.max_iter, fixed_covariances=fixed, sample_weight=sample_weight,
            )
        weight = float(len(Z) if sample_weight is None else sample_weight.sum())
        seen = getattr(self, "_weight_seen_", self.n_samples_seen_)
        share = weight / (seen + weight)
        blended = gaussian_params(
            *((1.0 - share) * old + share * new for old, new in
              zip(current[:3], result.params[:3])),
            self.covariance_type,
        )
        self._set_gaussian_parameters(blended, centre, scale, X.dtype)
        self.schedule_ = self.schedule_ + [_likelihood_record("partial_fit", result, len(Z))]
        self.loss_curve_ = np.append(self.loss_curve_, [-v for v in result.lower_bounds])
        self.n_iter_ += result.n_iter
        self.n_samples_seen_ += len(Z)
        self._weight_seen_ = seen + weight
        return self

    def _reg(self):
        """Regularisation of the DDPM phases in standardised units, set by fit
        (the identity model has none)."""
        return 0.0 if self._cold_type() == "identity" else self._phase_reg

    def _min_variance(self):
        """Smallest variance of a component in the data's units: reg_covar, or
        the identity model's unit variances."""
        return 1.0 if self.covariance_type == "identity" else float(self.reg_covar)

    def _pass_dtype(self, X):
        """Precision of the passes over the data. The spherical types run in
        float32 whatever the input: a pass costs 0.6-0.7x a float64 one
        (bench_scaling.py passes), the data are standardised in float64
        first, and the statistics of a block are summed in float64, so the
        estimates do not change beyond their statistical error (float32 and
        float64 fits: the same errors in bench_scaling.py fits). Covariance
        types that resolve per-feature or full matrices keep X's precision."""
        if self.covariance_type in ("spherical", "identity"):
            return np.float32
        return X.dtype

    def _cold_type(self):
        """Covariance type of the cold start: one variance per component. The
        exact final phase fixes identity's covariances itself, so its cold
        start learns the variance (unit variances in standardised units can be
        1e-16 or 1e16, which the power phase cannot resolve); the single-level
        estimator keeps the identity model throughout."""
        if self.covariance_type == "identity" and self.noise_level != "integrated":
            return "identity"
        return "spherical"

    def _em_level(self, params, covariance_type=None):
        if self.noise_level in ("auto", "integrated"):
            return em_level(params, self._reg(), covariance_type or self.covariance_type)
        return float(self.noise_level)

    def _run(self, X, params, phase, random_state, schedule, losses, covariance_type=None):
        """Run one phase with fresh noise; log it in ``schedule`` and ``losses``."""
        if self.verbose:
            print(f"  Phase {phase.name} at noise level t = {phase.t:.3g} on {X.shape[0]} rows")
        X_noised = self._noised_rows(X)
        phase = phase._replace(bounds=data_bounds(X))
        result = run_phase(
            X_noised, params, phase, draw_seeds(random_state, X_noised.shape[0]),
            self._reg(), covariance_type or self.covariance_type,
            self.verbose, self.verbose_interval,
        )
        schedule.append(_phase_record(
            phase._replace(learning_rate=result.learning_rate), result.n_steps,
            X.shape[0], result.converged,
        ))
        losses += result.losses
        return result

    def _final_stage(self, Z, params, random_state, schedule, losses, bounds,
                     name="final"):
        """The full-data stage at the EM level (:func:`._optim.run_fresh_noise`):
        steps with fresh noise until the means move by less than their
        standard error, then averaged steps. ``name`` labels the burn-in in
        ``schedule``, ``"averaging"`` the rest; ``bounds`` are Z's
        (:class:`._optim.DataBounds`).

        Returns
        -------
        params, converged, n_iter
        """
        n_samples = Z.shape[0]
        phase = final_phase(self._em_level(params), self.max_iter, self.tol)._replace(
            name=name, bounds=bounds,
        )
        if name == "final" and self.max_iter > 0:
            params = self._ladder(Z, params, phase, random_state, schedule, losses)
        if self.verbose:
            print(f"  Phase {name} at noise level t = {phase.t:.3g} on {n_samples} rows, "
                  "fresh noise each step")
        result = run_fresh_noise(
            self._noised_rows(Z), params, phase, random_state, self._reg(),
            self.covariance_type, self.n_noise_draws, self.verbose,
            self.verbose_interval, n_samples=n_samples,
        )
        if self.max_iter > 0 and not result.converged:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
            )
        if self.verbose:
            status = "converged" if result.converged else "did not converge"
            print(f"Final phase {status} after {result.n_burn_in} steps; "
                  f"{result.n_averaged} iterates averaged.")
        phase = phase._replace(learning_rate=result.learning_rate)
        schedule.append(_phase_record(phase, result.n_burn_in, n_samples, result.converged))
        n_averaging = len(result.losses) - result.n_burn_in
        if self.max_iter > 0 and self.n_noise_draws > 1:
            schedule.append(_phase_record(phase._replace(name="averaging"), n_averaging,
                                          n_samples, result.converged))
        losses += result.losses
        return result.params, result.converged, len(result.losses)

    def _ladder(self, Z, params, phase, random_state, schedule, losses):
        """One fresh-noise step on every ``stride``-th row of Z, for each stride
        of ``_LADDER_STRIDES`` that leaves at least twice the cold start's rows.

        The cold start's estimate is ``sqrt(n / rows)`` standard errors from
        the full data's optimum; a step on a systematic subsample of ``n / 8``
        rows brings it to about ``sqrt(8)`` for an eighth of a pass, and the
        burn-in on all rows then needs one step fewer (at n = 10^6, d = 10,
        K = 4: 2 instead of 3).
        """
        cold_rows = cold_start_rows(Z.shape[0], self.n_components)
        for stride in _LADDER_STRIDES:
            if Z.shape[0] // stride < 2 * cold_rows:
                continue
            rows = Z[random_state.randint(stride)::stride]
            step = run_fresh_noise(rows, params, phase._replace(max_steps=1), random_state,
                                   self._reg(), self.covariance_type, 1)
            params = step.params
            schedule.append(_phase_record(phase._replace(name="final-subsample"), 1,
                                          rows.shape[0], step.converged))
            losses += step.losses
        return params

    def _noised_rows(self, X):
        """X, repeated so that a pass noises at least ``_MIN_NOISED_ROWS`` rows
        (several draws per point on small data, so the noise's own sample
        variance cannot drown the signal; with one draw per point, 100 rows in
        1-D sent the power phase to a collapse)."""
        draws = -(-_MIN_NOISED_ROWS // X.shape[0])
        return X if draws == 1 else np.tile(X, (draws, 1))

    def _initial_params(self, X, centre, scale, random_state, covariance_type,
                        use_given=True):
        """Starting parameters on standardised X, in ``covariance_type``: the cold
        start's type, or the requested one when ``means_init`` skips the cold
        start. With ``use_given=False`` the initial values the user gave are
        left to the caller."""
        n_samples, n_features = X.shape
        K = self.n_components
        if self.means_init is not None and use_given:
            means = (np.asarray(self.means_init, dtype=float) - centre) / scale
        elif K == 1:
            means = np.zeros((1, n_features))
        elif self.init_params == "power":
            # Small random start, centred like the data (for K = 2 this is the
            # paper's symmetric model mu_2 = -mu_1).
            means = random_state.standard_normal((K, n_features))
            means *= 0.1 / np.sqrt(n_features)
            means -= means.mean(axis=0)
        else:
            resp = _initial_posteriors(X, K, self.init_params, random_state)
            means = (resp.T @ X) / np.maximum(resp.sum(axis=0), _TINY_MASS)[:, np.newaxis]
        weights = (
            np.full(K, 1.0 / K) if self.weights_init is None or not use_given
            else np.asarray(self.weights_init, dtype=float)
        )
        reg = self._reg()
        if covariance_type == "identity":
            # Unit covariances in the caller's units.
            cov = coordinates(np.full(K, 1.0 / scale / scale), "identity", 0.0)
        elif self.precisions_init is not None and use_given:
            given = _invert(self.precisions_init, self.covariance_type) / scale / scale
            if covariance_type != self.covariance_type:  # the spherical cold start
                given = mean_variances(given, self.covariance_type, K)
            cov = coordinates(given, covariance_type, reg)
        else:
            if K > 1 and self.init_params == "power" and (self.means_init is None
                                                           or not use_given):
                variances = np.full(K, power_phase_variance(X, K))
            else:
                variances = np.ones(K)
            cov = from_spherical(variances, weights, covariance_type, n_features, reg)
        # Parameters are float64 whatever the data's precision.
        return MixtureParams(np.asarray(means, dtype=np.float64), cov, np.log(weights))

    def _to_requested_type(self, params, n_features):
        """Cold-start (one variance per component) parameters in the requested type."""
        if self.covariance_type == self._cold_type():
            return params
        variances = covariances(params.covariance, "spherical", self._reg())
        return params._replace(covariance=from_spherical(
            variances, params.weights(), self.covariance_type, n_features, self._reg()
        ))

    def _cold_start(self, Z, centre, scale, random_state):
        """Run ``n_init`` cold starts on a subsample; keep the lowest-loss one.

        Returns
        -------
        params, schedule, losses
        """
        n_samples, n_features = Z.shape
        n_rows = cold_start_rows(n_samples, self.n_components)
        rows = np.sort(random_state.choice(n_samples, n_rows, replace=False))
        Z_cold = Z[rows]
        if self.means_init is not None:
            # A given start skips the power and intermediate phases, like
            # GaussianMixture's means_init skips k-means; the EM level is
            # still reached on the subsample first, where a step that
            # overshoots is caught by the line search at little cost.
            params = self._initial_params(
                Z_cold, centre, scale, random_state, self.covariance_type
            )
            schedule, losses = [], []
            with _one_blas_thread():
                params = self._settle(Z_cold, params, random_state, schedule, losses)
            return params, schedule, losses
        # Common noise to compare the starts on one version of the objective.
        compare_seeds = draw_seeds(random_state, n_rows)
        # A seed per start: the same starts whatever n_jobs.
        start_seeds = random_state.randint(np.iinfo(np.int32).max, size=self.n_init)
        if self.n_init == 1:
            starts = [self._one_cold_start(Z_cold, centre, scale, start_seeds[0], 0)]
        else:
            starts = Parallel(n_jobs=self.n_jobs)(
                delayed(self._one_cold_start)(Z_cold, centre, scale, seed, init)
                for init, seed in enumerate(start_seeds)
            )
        if len(starts) == 1:
            return starts[0]
        # Compare at the smallest level any start called for, with common noise.
        level = min(self._em_level(params) for params, _, _ in starts)
        cold_losses = [
            stein_objective(Z_cold, params, level, compare_seeds, self._reg(),
                            self.covariance_type)[0]
            for params, _, _ in starts
        ]
        if self.verbose:
            print("Cold start losses: " + ", ".join(f"{v:.5f}" for v in cold_losses))
        return starts[int(np.argmin(cold_losses))]

    def _one_cold_start(self, Z_cold, centre, scale, seed, init, final_type=None):
        """One cold start on the subsample: power and intermediate phases, then
        (``final_type`` None) the cold-final phase in the requested type;
        otherwise the parameters in ``final_type`` after the intermediate phases.

        Returns
        -------
        params, schedule, losses
        """
        if self.verbose and init is not None:
            print(f"Initialization {init}")
        random_state = np.random.RandomState(seed)
        cold_type = self._cold_type()
        with _one_blas_thread():  # also in joblib workers
            params = self._initial_params(Z_cold, centre, scale, random_state, cold_type,
                                          use_given=final_type is None)
            schedule, losses = [], []
            # Each level is chosen from where the previous phase ended.
            if self.n_components > 1 and self.init_params == "power":
                params = self._run(
                    Z_cold, params, power_phase(Z_cold), random_state, schedule, losses,
                    cold_type,
                ).params
            for stage in range(n_intermediate_phases(self.n_components)):
                phase = intermediate_phase(stage, params, self._reg(), self.tol, cold_type,
                                           len(Z_cold))
                params = self._run(
                    Z_cold, params, phase, random_state, schedule, losses, cold_type
                ).params
            if final_type is None:
                params = self._to_requested_type(params, Z_cold.shape[1])
                params = self._settle(Z_cold, params, random_state, schedule, losses)
        return params, schedule, losses

    def _settle(self, Z_cold, params, random_state, schedule, losses, name="cold-final",
                covariance_type=None):
        """The cold start's last phase: the EM level on the subsample, with one
        fixed noise draw and a line search, so that the full-data stage starts
        close. The level follows the variance estimate; when the converged
        estimate calls for a level below half the one used (a start far from
        the clusters, or components collapsing), the phase runs again there."""
        for _ in range(_MAX_SETTLE_PHASES):
            level = self._em_level(params, covariance_type)
            phase = cold_final_phase(level, self.tol, len(Z_cold), params)._replace(name=name)
            params = self._run(Z_cold, params, phase, random_state, schedule, losses,
                               covariance_type).params
            if self._em_level(params, covariance_type) >= 0.5 * level:
                break
        return params

    def _check_initial_parameters(self, X):
        """Validate user-given starting values with GaussianMixture's checks
        and messages.

        Returns
        -------
        given : tuple of (weights, means, covariances), each None if not given
            Validated copies in the data's units.
        """
        n_features = X.shape[1]
        K = self.n_components
        weights = means = cov = None
        if self.weights_init is not None:
            weights = np.array(_gm_check(_check_weights, self.weights_init, K), dtype=float)
        if self.means_init is not None:
            means = np.array(_gm_check(_check_means, self.means_init, K, n_features),
                             dtype=float)
            if not np.all(np.isfinite(means)):
                raise ValueError("The parameter 'means' should be finite.")
        if self.precisions_init is not None and self.covariance_type != "identity":
            precisions = _gm_check(_check_precisions, self.precisions_init,
                                   self.covariance_type, K, n_features)
            cov = _invert(precisions, self.covariance_type)
        elif self.covariance_type == "identity":
            cov = None
        return weights, means, cov

    def _set_parameters(self, params, centre, scale, dtype=np.float64):
        """Fitted attributes from the DDPM phases' MixtureParams."""
        self.weights_ = params.weights().astype(dtype)
        self.means_ = (centre + scale * params.means).astype(dtype)
        cov = scale * scale * covariances(params.covariance, self.covariance_type, self._reg())
        if self.covariance_type == "identity":
            cov = np.ones(self.n_components)  # exact, without rounding from the scale
        self.covariances_ = cov.astype(dtype)
        self.precisions_cholesky_ = _compute_precision_cholesky(
            cov, self._eval_type()).astype(dtype)
        self._set_precisions()
        _check_representable(self.covariances_, self.precisions_, dtype,
                             self.covariance_type)

    # ---------------------------------------------------------------- inference
    def _eval_type(self):
        """The fitted model's type in scikit-learn's terms (identity is spherical)."""
        return "spherical" if self.covariance_type == "identity" else self.covariance_type

    def _reference(self):
        """Centre and scale for evaluating densities stably, from public attributes."""
        # Kept within the means: where they are equal, exactly on them (their
        # weighted sum can round by an ulp, 1e152 at 1e168).
        centre = np.clip(self.weights_ @ self.means_, self.means_.min(axis=0),
                         self.means_.max(axis=0))
        spread = mean_variances(self.covariances_, self._eval_type(), self.n_components)
        return centre, float(np.sqrt(np.max(spread)))

    def _estimate_log_prob_resp(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        centre, scale = self._reference()
        # GaussianMixture's E-step (per-component whitening through the
        # precisions' Cholesky factors, accurate at any condition number), in
        # a frame centred on the means, so that offsets far from the origin
        # keep their precision.
        kind = self._eval_type()
        params = GaussianParams(
            self.weights_, (self.means_ - centre) / scale,
            self.covariances_ / scale / scale, self.precisions_cholesky_ * scale,
        )
        Z = (X - centre) / scale
        with np.errstate(over="ignore", invalid="ignore"):
            log_prob, resp = posteriors(Z, params, kind)
        # Rows too far for their squared distances: their density is below
        # float64's (-inf), their posteriors the limit.
        far = ~np.all(np.isfinite(resp), axis=1)
        if np.any(far):
            resp[far] = far_posteriors(Z[far], params, kind)
            log_prob[far] = -np.inf
        return log_prob - X.shape[1] * np.log(scale), resp

    def score_samples(self, X):
        """Log density of each sample under the fitted mixture.

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

    def score(self, X, y=None, sample_weight=None):
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

    def predict_proba(self, X):
        """Posterior probability of each component for each sample.

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

    def predict(self, X):
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

    def score_function(self, X, t):
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
        t = _check_level(t)
        params = MixtureParams(
            self.means_,
            coordinates(self.covariances_, self._eval_type(), 0.0),
            np.log(self.weights_),
        )
        with np.errstate(over="ignore", invalid="ignore"):
            result = score(X, params, t, 0.0, self._eval_type())
        # Rows too far for their squared distances: the posteriors' limit, and
        # each component's score P_k (a mu_k - x), which is finite.
        far = ~np.all(np.isfinite(result), axis=1)
        if np.any(far):
            result[far] = self._far_score(X[far], t)
        return result

    def _far_score(self, X, t):
        """score_function at rows whose squared distances overflow."""
        a = np.exp(-t)
        s2 = -np.expm1(-2.0 * t)
        kind = self._eval_type()
        cov = noised(np.asarray(self.covariances_, dtype=float), kind, a, s2)
        means = a * self.means_
        centre = np.clip(self.weights_ @ means, means.min(axis=0), means.max(axis=0))
        scale = float(np.sqrt(np.max(mean_variances(cov, kind, self.n_components))))
        params = gaussian_params(self.weights_, (means - centre) / scale,
                                 cov / scale / scale, kind)
        Z = (X - centre) / scale
        resp = far_posteriors(Z, params, kind)
        # P_k (mu_k - z) / scale in the data's units, from the precisions' factors.
        chol = params.precisions_cholesky
        offsets = params.means[np.newaxis] - Z[:, np.newaxis]  # (n, K, d)
        if kind == "full":
            white = np.einsum("kji,nkj->nki", chol, offsets)
            scores = np.einsum("kij,nkj->nki", chol, white)
        elif kind == "tied":
            scores = offsets @ chol @ chol.T
        elif kind == "diag":
            scores = offsets * chol**2
        else:
            scores = offsets * (chol**2)[:, np.newaxis]
        return np.einsum("nk,nki->ni", resp, scores) / scale

    def sample(self, n_samples=1, *, random_state=None):
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
        counts = rng.multinomial(n_samples, self.weights_)
        n_features = self.means_.shape[1]
        # Square roots of the covariances, one (d, d) factor per component.
        cov = self.covariances_
        if self._eval_type() == "spherical":
            factors = [np.sqrt(v) * np.eye(n_features) for v in cov]
        elif self.covariance_type == "diag":
            factors = [np.diag(np.sqrt(v)) for v in cov]
        elif self.covariance_type == "tied":
            factors = [np.linalg.cholesky(cov)] * self.n_components
        else:
            factors = list(np.linalg.cholesky(cov))
        X = np.vstack([
            mean + rng.standard_normal((count, n_features)) @ factor.T
            for mean, factor, count in zip(self.means_, factors, counts)
        ])
        y = np.repeat(np.arange(self.n_components), counts)
        return X, y

    # --------------------------------------------------------- model selection
    def _n_parameters(self):
        """Free parameters, counted as GaussianMixture counts them: means,
        covariances (none for "identity") and K - 1 weights."""
        n_features = self.means_.shape[1]
        K = self.n_components
        cov_params = n_covariance_parameters(self.covariance_type, K, n_features)
        return K * n_features + cov_params + K - 1

    def bic(self, X, sample_weight=None):
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
        n_samples = self._weighted_count(X, sample_weight)
        return (-2 * self.score(X, sample_weight=sample_weight) * n_samples
                + self._n_parameters() * np.log(n_samples))

    def aic(self, X, sample_weight=None):
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
        n_samples = self._weighted_count(X, sample_weight)
        return (-2 * self.score(X, sample_weight=sample_weight) * n_samples
                + 2 * self._n_parameters())

    @staticmethod
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


def _check_representable(covariances, precisions, dtype, covariance_type):
    """Refuse fitted covariances or precisions that ``dtype`` cannot hold (a
    variance that underflows without reg_covar, or its inverse overflows),
    and matrices that are positive definite in standardised units only (at
    condition numbers beyond 1 / eps, where GaussianMixture refuses too)."""
    if not (np.all(np.isfinite(covariances)) and np.all(np.isfinite(precisions))):
        raise ValueError(
            f"The fitted covariances or precisions overflow or underflow "
            f"{np.dtype(dtype).name}: the spread of X is too large or too small for "
            "this covariance type. Rescale X or increase reg_covar."
        )
    if covariance_type in ("full", "tied"):
        try:
            np.linalg.cholesky(covariances)
        except np.linalg.LinAlgError:
            raise ValueError(
                "Fitting the mixture model failed because some components have "
                "ill-defined empirical covariance (for instance caused by singleton "
                "or collapsed samples): in the data's units it is not positive "
                "definite. Try to decrease the number of components, increase "
                "reg_covar, or scale the input data."
            ) from None


def _invert(precisions, covariance_type):
    """Covariances from precisions given in GaussianMixture's shapes."""
    precisions = np.asarray(precisions, dtype=float)
    if covariance_type in ("spherical", "diag"):
        return 1.0 / precisions
    return np.linalg.inv(precisions)


def _positive(precisions, covariance_type):
    """Whether user-given precisions are positive (definite)."""
    if covariance_type in ("spherical", "diag"):
        return bool(np.all(precisions > 0))
    symmetric = np.allclose(precisions, np.swapaxes(precisions, -1, -2))
    return symmetric and bool(np.all(np.linalg.eigvalsh(precisions) > 0))


def _phase_record(phase, n_steps, n_rows, converged):
    """One entry of ``schedule_``."""
    return {
        "name": phase.name,
        "t": phase.t,
        "n_steps": n_steps,
        "learning_rate": phase.learning_rate,
        "n_rows": n_rows,
        "converged": converged,
    }


def _gm_check(check, *args):
    """One of GaussianMixture's own checks of initial values (array-API aware
    from scikit-learn 1.8: given numpy as the namespace there)."""
    if "xp" in inspect.signature(check).parameters:
        return check(*args, xp=np)
    return check(*args)


def _likelihood_record(name, result, n_rows):
    """One entry of ``schedule_`` for a phase of the exact integrated objective."""
    return {"name": name, "t": None, "n_steps": result.n_iter, "learning_rate": 1.0,
            "n_rows": n_rows, "converged": result.converged}


def _one_hot(labels, n_components, dtype):
    """Posteriors that put each row in one component, shape (n, n_components)."""
    resp = np.zeros((len(labels), n_components), dtype=dtype)
    resp[np.arange(len(labels)), labels] = 1.0
    return resp


def _initial_posteriors(X, n_components, init_params, random_state, sample_weight=None):
    """GaussianMixture's initial posteriors for ``init_params`` ("kmeans",
    "k-means++", "random", "random_from_data"), shape (n, n_components); the
    same draws from ``random_state`` as GaussianMixture makes."""
    n_samples = X.shape[0]
    if init_params == "kmeans":
        labels = KMeans(n_components, n_init=1, random_state=random_state).fit(
            X, sample_weight=sample_weight).labels_
        return _one_hot(labels, n_components, X.dtype)
    if init_params == "random":
        resp = random_state.uniform(size=(n_samples, n_components)).astype(X.dtype)
        return resp / resp.sum(axis=1)[:, np.newaxis]
    if init_params == "random_from_data":
        indices = random_state.choice(n_samples, size=n_components, replace=False)
    else:  # k-means++
        _, indices = kmeans_plusplus(X, n_components, random_state=random_state)
    resp = np.zeros((n_samples, n_components), dtype=X.dtype)
    resp[indices, np.arange(n_components)] = 1.0
    return resp


def _with_given(params, given, covariance_type):
    """GaussianParams with the user's initial values (standardised; None where
    not given) in place of the computed ones."""
    weights, means, cov = given
    if weights is None and means is None and cov is None:
        return params
    return gaussian_params(
        params.weights if weights is None else weights.astype(params.weights.dtype),
        params.means if means is None else means.astype(params.means.dtype),
        params.covariances if cov is None else cov.astype(params.covariances.dtype),
        covariance_type,
    )
