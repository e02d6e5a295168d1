"""DDPMGaussianMixture: a Gaussian mixture learned by gradient descent on the DDPM objective."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, DensityMixin, _fit_context
from sklearn.cluster import kmeans_plusplus
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._forward import noise_points
from ._optim import run_averaging, run_phase
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
from ._score_model import SphericalParams, log_prob_and_resp, score, stein_loss_grad


def _standardisation(X):
    """Centre and overall scale of X, shape (n_samples, n_features).

    One scale for all features keeps the spherical model spherical. It is
    computed after dividing by the largest offset so that data near 1e-150 or
    1e150 neither underflows nor overflows when squared.
    """
    centre = X.mean(axis=0)
    offsets = X - centre
    largest = np.max(np.abs(offsets))
    if not np.isfinite(largest) or largest == 0.0:
        return centre, 1.0
    return centre, float(largest * np.sqrt(np.mean((offsets / largest) ** 2)))


def _params_from_attributes(means, covariances, weights, centre, scale, reg_covar):
    """Internal (standardised, unconstrained) parameters from caller-unit ones."""
    variances = np.asarray(covariances, dtype=float) / scale**2
    return SphericalParams(
        (np.asarray(means, dtype=float) - centre) / scale,
        np.log(np.maximum(variances - reg_covar, 1e-300)),
        np.log(np.asarray(weights, dtype=float)),
    )


class DDPMGaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture learned by gradient descent on the DDPM objective.

    The score of a Gaussian mixture noised by the forward (Ornstein-Uhlenbeck)
    process is again a mixture's score; this estimator fits that score model to
    data with the denoising (DDPM) objective of diffusion models, following Shah,
    Chen & Klivans (NeurIPS 2023). The schedule is chosen from the data:

    1. a power-iteration phase at a large noise level, from a small random start,
       which turns the means towards the span of the true means;
    2. for more than two components, two intermediate noise levels, set from
       the current variance estimate, that move the means into their own basins;
    3. an EM phase at a small noise level, whose preconditioned gradient step
       acts like an EM step, run on the whole data until the parameters stop
       moving, then ``n_noise_draws`` more steps with fresh noise, averaged.

    Phases 1-2 (the cold start) run on a subsample of at most
    ``max(5000, 1000 * n_components)`` rows and end with steps at the final level
    there; ``n_init`` repeats the cold start and keeps the one with the lowest
    DDPM loss, and phase 3 runs once, on all rows, from that start.

    Means and variances move by gradient steps on the DDPM objective, evaluated
    in its Stein form (same expectation over the noise, lower variance), with a
    diagonal Gauss-Newton preconditioner that makes a unit step on the means an
    EM-like step. The weights are the one closed form: each step sets them to the
    mean posterior of the noised points, ``pi_j = E[w_j(x_t)]``, the point where
    the DDPM loss is stationary in the weights. Gradient steps reach the same
    point (tested) but crawl towards it, because at small noise the score of
    well-separated components hardly depends on their weights.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : {"spherical"}, default="spherical"
        One variance per component (the only type so far).
    tol : float, default=1e-3
        The final phase stops when no parameter moves by more than ``tol`` in a
        step: means in units of their component's standard deviation,
        log-variances and log-weights in absolute terms. (GaussianMixture's
        ``tol`` bounds the change of the log-likelihood instead.)
    reg_covar : float, default=1e-6
        Added to every variance, relative to the data's overall variance (the
        mean variance per feature), so the fit does not depend on the data's units.
    max_iter : int, default=100
        Maximum number of steps of the final phase.
    n_init : int, default=1
        Number of cold starts; the one with the lowest DDPM loss at the final
        level (same noise draws for all) is kept.
    init_params : {"power", "k-means++", "random_from_data"}, default="power"
        How the cold start begins: ``"power"`` is the paper's large-noise phase
        from a small random start; the others pick starting means from the data.
        Ignored for the means when ``means_init`` is given.
    weights_init : array-like of shape (n_components,), default=None
        Initial weights (uniform if None).
    means_init : array-like of shape (n_components, n_features), default=None
        Initial means. When given the cold start is skipped.
    precisions_init : array-like of shape (n_components,), default=None
        Initial precisions (inverse variances); the data's overall variance if None.
    noise_level : "auto" or float, default="auto"
        Noise level ``t`` of the final phase (``a = exp(-t)``), in standardised
        units. ``"auto"`` sets the noise variance to 0.6 times the mean
        component variance of the current estimate, with ``t <= 0.1``. Smaller
        levels approach plain score matching, which is less accurate than
        maximum likelihood; larger ones blur the mixture.
    n_noise_draws : int, default=16
        Independent noise draws averaged at the end of the final phase. Once the
        parameters stop moving under one fixed (antithetic) draw, this many more
        steps are taken, each with a fresh draw, and their iterates averaged:
        the noise's share of the estimate's variance falls like
        ``1 / n_noise_draws``, each draw costing one step. 0 keeps the single draw.
    random_state : int, RandomState instance or None, default=None
        Controls the random start, the subsample and the noise draws.
    warm_start : bool, default=False
        If True, ``fit`` starts the final phase from the previous solution.
    verbose : int, default=0
        1 prints each phase, 2 also prints the loss and time every
        ``verbose_interval`` steps, in GaussianMixture's format.
    verbose_interval : int, default=10
        Steps between two progress lines.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        Mixing weights.
    means_ : ndarray of shape (n_components, n_features)
        Component means.
    covariances_ : ndarray of shape (n_components,)
        Component variances (spherical covariances).
    precisions_ : ndarray of shape (n_components,)
        Inverse variances.
    precisions_cholesky_ : ndarray of shape (n_components,)
        Square roots of the precisions.
    converged_ : bool
        Whether the final phase met ``tol``.
    n_iter_ : int
        Full-data steps: the final phase's plus the ``n_noise_draws`` averaged ones.
    schedule_ : list of dict
        The phases that ran for the kept start, in order: ``name``, noise level
        ``t``, ``n_steps``, ``learning_rate``, ``n_rows`` and ``converged``.
    loss_curve_ : ndarray of shape (total steps,)
        DDPM loss at each step of those phases (levels differ between phases;
        ``schedule_`` tells where each begins).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
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
        "covariance_type": [StrOptions({"spherical"})],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions({"power", "k-means++", "random_from_data"})],
        "weights_init": ["array-like", None],
        "means_init": ["array-like", None],
        "precisions_init": ["array-like", None],
        "noise_level": [StrOptions({"auto"}), Interval(Real, 0.0, None, closed="neither")],
        "n_noise_draws": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "verbose_interval": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="spherical",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="power",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        noise_level="auto",
        n_noise_draws=16,
        random_state=None,
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
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None):
        """Estimate the mixture's parameters by gradient descent on the DDPM objective.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency by convention.

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
        self.fit_predict(X, y)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
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
        X = validate_data(
            self, X, dtype=[np.float64, np.float32], ensure_min_samples=2,
            reset=not (self.warm_start and hasattr(self, "means_")),
        )
        X = np.asarray(X, dtype=np.float64)
        n_samples, _ = X.shape
        if n_samples < self.n_components:
            raise ValueError(
                f"Expected n_samples >= n_components but got n_components = "
                f"{self.n_components}, n_samples = {n_samples}"
            )
        random_state = check_random_state(self.random_state)
        centre, scale = _standardisation(X)
        Z = (X - centre) / scale
        if self.warm_start and hasattr(self, "means_"):
            params = _params_from_attributes(
                self.means_, self.covariances_, self.weights_, centre, scale,
                self.reg_covar,
            )
            schedule, losses = [], []
        else:
            params, schedule, losses = self._cold_start(Z, centre, scale, random_state)
        params, converged, n_iter = self._final_stage(Z, params, random_state, schedule, losses)
        self._set_parameters(params, centre, scale)
        self.schedule_ = schedule
        self.loss_curve_ = np.asarray(losses)
        self.n_iter_ = n_iter
        self.converged_ = converged
        return self.predict(X)

    def _em_level(self, params):
        if self.noise_level == "auto":
            return em_level(params, self.reg_covar)
        return float(self.noise_level)

    def _run(self, X, params, phase, random_state, schedule, losses):
        """Run one phase with fresh noise; log it in ``schedule`` and ``losses``."""
        if self.verbose:
            print(f"  Phase {phase.name} at noise level t = {phase.t:.3g} "
                  f"on {X.shape[0]} rows")
        noise = random_state.standard_normal(X.shape)
        result = run_phase(
            X, params, phase, noise, self.reg_covar, self.verbose, self.verbose_interval
        )
        schedule.append(_phase_record(phase, result.n_steps, X.shape[0], result.converged))
        losses += result.losses
        return result

    def _final_stage(self, Z, params, random_state, schedule, losses):
        """EM phase on all rows, then the averaged steps with fresh noise.

        The level follows the current variance estimate; when the converged
        estimate calls for a level less than half the one used (a start far
        from the data's clusters), the phase runs once more at the new level.

        Returns
        -------
        params, converged, n_iter
        """
        if self.verbose:
            print("Final phase")
        level = self._em_level(params)
        result = self._run(
            Z, params, final_phase(level, self.max_iter, self.tol), random_state,
            schedule, losses,
        )
        n_iter = result.n_steps
        new_level = self._em_level(result.params)
        if self.max_iter > 0 and new_level < 0.5 * level:
            level = new_level
            result = self._run(
                Z, result.params, final_phase(level, self.max_iter, self.tol),
                random_state, schedule, losses,
            )
            n_iter += result.n_steps
        if self.max_iter > 0 and not result.converged:
            warnings.warn(
                "The final phase of DDPMGaussianMixture did not converge in "
                f"max_iter={self.max_iter} steps. Try a larger max_iter or tol, "
                "or check the data.",
                ConvergenceWarning,
            )
        if self.verbose:
            status = "converged" if result.converged else "did not converge"
            print(f"Final phase {status} after {result.n_steps} steps.")
        params = result.params
        if self.n_noise_draws and self.max_iter > 0:
            phase = final_phase(level, self.n_noise_draws, self.tol)
            params, avg_losses = run_averaging(
                Z, params, phase, self.n_noise_draws, random_state, self.reg_covar
            )
            schedule.append(_phase_record(
                phase._replace(name="averaging"), len(avg_losses), Z.shape[0],
                result.converged,
            ))
            losses += avg_losses
            n_iter += len(avg_losses)
        return params, result.converged, n_iter

    def _initial_params(self, X, centre, scale, random_state):
        """Starting parameters for one cold start on standardised X."""
        n_samples, n_features = X.shape
        K = self.n_components
        if self.means_init is not None:
            means = (np.asarray(self.means_init, dtype=float) - centre) / scale
        elif K == 1:
            means = np.zeros((1, n_features))
        elif self.init_params == "power":
            # Small random start, centred like the data (for K = 2 this is the
            # paper's symmetric model mu_2 = -mu_1).
            means = random_state.standard_normal((K, n_features))
            means *= 0.1 / np.sqrt(n_features)
            means -= means.mean(axis=0)
        elif self.init_params == "k-means++":
            means, _ = kmeans_plusplus(X, K, random_state=random_state)
        else:  # random_from_data
            means = X[random_state.choice(n_samples, K, replace=False)].copy()
        if self.precisions_init is not None:
            variances = 1.0 / (np.asarray(self.precisions_init, dtype=float) * scale**2)
        elif K > 1 and self.init_params == "power" and self.means_init is None:
            variances = np.full(K, power_phase_variance(X, K))
        else:
            variances = np.ones(K)
        weights = (
            np.full(K, 1.0 / K) if self.weights_init is None
            else np.asarray(self.weights_init, dtype=float)
        )
        return SphericalParams(
            means,
            np.log(np.maximum(variances - self.reg_covar, 1e-300)),
            np.log(weights),
        )

    def _cold_start(self, Z, centre, scale, random_state):
        """Run ``n_init`` cold starts on a subsample; keep the lowest-loss one.

        Returns
        -------
        params, schedule, losses
        """
        n_samples, n_features = Z.shape
        self._check_initial_parameters(Z.shape)
        n_rows = cold_start_rows(n_samples, self.n_components)
        rows = np.sort(random_state.choice(n_samples, n_rows, replace=False))
        Z_cold = Z[rows]
        if self.means_init is not None:
            # A given start skips the cold start, like GaussianMixture's means_init.
            return self._initial_params(Z_cold, centre, scale, random_state), [], []
        # Common noise to compare the starts on one version of the objective.
        compare_noise = random_state.standard_normal(Z_cold.shape)
        starts = []
        for init in range(self.n_init):
            if self.verbose:
                print(f"Initialization {init}")
            params = self._initial_params(Z_cold, centre, scale, random_state)
            schedule, losses = [], []
            # Each level is chosen from where the previous phase ended.
            if self.n_components > 1 and self.init_params == "power":
                params = self._run(
                    Z_cold, params, power_phase(Z_cold), random_state, schedule, losses
                ).params
            for stage in range(n_intermediate_phases(self.n_components)):
                phase = intermediate_phase(stage, params, self.reg_covar, self.tol)
                params = self._run(Z_cold, params, phase, random_state, schedule, losses).params
            phase = cold_final_phase(self._em_level(params), self.tol)
            params = self._run(Z_cold, params, phase, random_state, schedule, losses).params
            starts.append((params, schedule, losses))
        if len(starts) == 1:
            return starts[0]
        # Compare at the smallest level any start called for, with common noise.
        level = min(self._em_level(params) for params, _, _ in starts)
        Zt = noise_points(Z_cold, compare_noise, level)
        cold_losses = [
            stein_loss_grad(Zt, params, level, self.reg_covar)[0] for params, _, _ in starts
        ]
        if self.verbose:
            print("Cold start losses: " + ", ".join(f"{v:.5f}" for v in cold_losses))
        return starts[int(np.argmin(cold_losses))]

    def _check_initial_parameters(self, shape):
        """Validate user-given starting values."""
        n_samples, n_features = shape
        K = self.n_components
        if self.weights_init is not None:
            w = np.asarray(self.weights_init, dtype=float)
            if w.shape != (K,) or np.any(w <= 0) or not np.isclose(w.sum(), 1.0):
                raise ValueError(
                    "weights_init must be positive, of shape (n_components,) "
                    f"= ({K},), and sum to 1; got {w!r}."
                )
        if self.means_init is not None:
            m = np.asarray(self.means_init, dtype=float)
            if m.shape != (K, n_features) or not np.all(np.isfinite(m)):
                raise ValueError(
                    f"means_init must be finite with shape ({K}, {n_features}); "
                    f"got shape {m.shape}."
                )
        if self.precisions_init is not None:
            p = np.asarray(self.precisions_init, dtype=float)
            if p.shape != (K,) or np.any(~np.isfinite(p)) or np.any(p <= 0):
                raise ValueError(
                    "precisions_init must be positive and finite with shape "
                    f"(n_components,) = ({K},) for covariance_type='spherical'."
                )

    def _set_parameters(self, params, centre, scale):
        self.weights_ = params.weights()
        self.means_ = centre + scale * params.means
        self.covariances_ = scale**2 * params.variances(self.reg_covar)
        self.precisions_ = 1.0 / self.covariances_
        self.precisions_cholesky_ = np.sqrt(self.precisions_)

    # ---------------------------------------------------------------- inference
    def _reference(self):
        """Centre and scale for evaluating densities stably, from public attributes."""
        centre = self.weights_ @ self.means_
        return centre, float(np.sqrt(np.max(self.covariances_)))

    def _estimate_log_prob_resp(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        centre, scale = self._reference()
        params = SphericalParams(
            (self.means_ - centre) / scale,
            np.log(self.covariances_ / scale**2),
            np.log(self.weights_),
        )
        log_prob, resp = log_prob_and_resp((X - centre) / scale, params, 0.0)
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
        return self._estimate_log_prob_resp(X)[0]

    def score(self, X, y=None):
        """Mean log density of the samples (higher is better).

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
        >>> from sklearn_ddpm_gmm import DDPMGaussianMixture
        >>> X = np.random.default_rng(0).normal(size=(500, 1))
        >>> gm = DDPMGaussianMixture(random_state=0).fit(X)
        >>> bool(gm.score(X) < 0)
        True
        """
        return float(self.score_samples(X).mean())

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
        return self.predict_proba(X).argmax(axis=1)

    def score_function(self, X, t):
        """Score of the fitted mixture noised to level ``t``.

        The forward process maps a clean point to ``a x + s z`` with
        ``a = exp(-t)``, ``s^2 = 1 - exp(-2 t)`` and ``z ~ N(0, I)`` in the data's
        own units; the noised model is the mixture of ``N(a mu_i, a^2 v_i + s^2)``.
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
        if not (np.isscalar(t) and np.isfinite(t) and t >= 0):
            raise ValueError(f"t must be a finite number >= 0; got {t!r}.")
        params = SphericalParams(
            self.means_, np.log(self.covariances_), np.log(self.weights_)
        )
        return score(X, params, float(t), 0.0)

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
        X = np.vstack([
            mean + np.sqrt(var) * rng.standard_normal((count, n_features))
            for mean, var, count in zip(self.means_, self.covariances_, counts)
        ])
        y = np.repeat(np.arange(self.n_components), counts)
        return X, y

    # --------------------------------------------------------- model selection
    def _n_parameters(self):
        """Free parameters: means, one variance per component, K - 1 weights."""
        n_features = self.means_.shape[1]
        K = self.n_components
        return K * n_features + K + K - 1

    def bic(self, X):
        """Bayesian information criterion for the model on X (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

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
        n_samples = np.asarray(X).shape[0]
        return -2 * self.score(X) * n_samples + self._n_parameters() * np.log(n_samples)

    def aic(self, X):
        """Akaike information criterion for the model on X (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

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
        n_samples = np.asarray(X).shape[0]
        return -2 * self.score(X) * n_samples + 2 * self._n_parameters()


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
