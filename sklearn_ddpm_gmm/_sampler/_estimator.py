"""DiffusionMixtureSampler: piecewise polynomial scores at every noise level, then reverse diffusion."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Self

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import log_softmax
from sklearn.base import BaseEstimator, DensityMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._core._validation import checked_sample_weight
from .._ddpm._forward import noise_coefficients
from ._baseline import fit_baseline, fit_cells, standardisation
from ._cell_regression import auto_max_degree
from ._features import n_poly_features
from ._inpainting import inpaint
from ._mixture_denoiser import centre_distances, mixture_log_density, nearest_centre
from ._noise_schedule import NoiseSchedule
from ._poly_denoiser import denoise, draw_clean_point, fit_poly_denoiser, mixture_from
from ._reverse import ancestral_sample, gaussian_log_density, ode_log_likelihood, ode_sample

# Floor of the pooled variance in predict_proba (standardised units, where the
# data's variance is 1 unless it is constant).
_MIN_ASSIGNMENT_VARIANCE = 1e-12
# Heun steps of the likelihood ODE (at least one per trained level).
# Two moons, against 128: held-out log-likelihood 0.035 nats high at 16, 0.003 at 64.
_LIKELIHOOD_STEPS = 64
# Rows per chunk in score_samples (memory only, bounded by the posteriors' blocks;
# each row's value is its own; one chunk of 5 000 rows shares the near cells' groups).
_LIKELIHOOD_CHUNK = 8192


class DiffusionMixtureSampler(DensityMixin, BaseEstimator):
    """Density model learned by piecewise polynomial score regression and reverse diffusion.

    Implements Gatmiry, Kelner & Lee (2024) for data that a Gaussian mixture
    describes badly: mixtures whose components are blurred curves, segments,
    rings or small manifolds. The data are shifted to mean zero and divided by
    one overall scale (the root mean square of the features' standard
    deviations: one scale for all features keeps the forward process's noise
    isotropic, so the model is the same in the caller's units); then

    1. **centres**: a :class:`DDPMGaussianMixture` with ``n_components``
       components (power-iteration-then-EM schedule, on a subsample) is
       refreshed on all the data by full-covariance EM steps; its means are
       ``means_``, and its exact denoiser is the baseline of the regression.
       With ``degree="auto"`` the regression's Voronoi cells are finer where
       the data allow: as many k-means centres as keep about 20 noised pairs
       per monomial of the top degree in a cell (at least ``n_components``),
       so that cells follow a curve's bends that the low degrees allowed in
       many dimensions cannot; the baseline is then the cells' own mixture
       (one full-covariance Gaussian per cell, refreshed by EM on all the
       data) if its held-out log-likelihood (20% of the rows, both mixtures
       refitted on the rest) beats the components' by two standard errors;
       twice as many cells then replace them once if their mixture passes
       the same test against the cells' (at most a tenth of the rows).
       With a given degree the cells are the components'.
       The paper's centre ``a mu`` at level t is ``mu`` in the
       variance-exploding coordinates used inside, so a point's cell is the
       same at every level;
    2. **score regression**: at each of ``n_levels`` noise levels, geometric in
       t from ``t_min`` to ``t_max``, every training point is noised
       ``n_noise_draws`` times (antithetic pairs). In each cell the denoising
       target ``x0`` (Tweedie's label: its regression on the noised point is
       ``E[x0 | x_t]``), less the exact denoiser of the refreshed mixture, is
       ridge-regressed on the monomials of the point's standardised offset
       from the centre. Feature inputs are clamped to the range seen in
       training for that cell and level (its central 99%), the denoised point
       to the data's bounding box (widened by one standard deviation), and a
       cell with too few pairs for a degree falls back to a lower one, down
       to the mixture's denoiser alone. The learned score is
       ``(a D(x, t) - x) / s^2`` with ``D`` the fitted denoiser;
    3. **sampling**: from the noised data's Gaussian at ``t_max`` (``N(0, I)``
       to within ``exp(-2 t_max)``), the reverse SDE by ancestral
       (exponential-integrator) steps, each drawing the clean point from the
       refreshed mixture's posterior shifted to the fitted denoiser's mean
       (exact for the mixture at any step length), or the probability-flow
       ODE by Heun steps (``method="ode"``, deterministic, ending with the
       denoised point);
    4. **likelihood**: the probability-flow ODE carried up the trained levels
       with the exact divergence of the fitted denoiser, up to the highest
       level with a correction; above it the fitted field is the refreshed
       mixture's score, and its noised density is known in closed form.

    ``score_samples`` is the log-density of the data smoothed by the forward
    process at ``t_min`` (a Gaussian blur of standard deviation
    ``sqrt(exp(2 t_min) - 1)`` times ``data_scale_``: 0.0045 of the data's
    scale at the default).
    The fitted field is piecewise, so it is not an exact gradient, and the
    density it implies is normalised only approximately (see the user
    guide's measurements).

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components (the regression may use more cells).
    degree : "auto" or int, default="auto"
        Polynomial degree of the per-cell regressions. ``"auto"`` chooses it at
        each level from the held-out denoising loss (20% of the points held out,
        then refitted on all): the degree is raised from -1 (no correction)
        and a higher one kept when it lowers the loss by more than two
        standard errors of the paired difference, up to 10 in 1-D and
        2-D, 7 in 3-D, 4 in 5-D, 2 in 10-D and 1 from 15-D on (at most 128
        monomials). A cell uses a lower degree when it has fewer than 10 noised
        pairs per monomial.
    n_levels : int, default=16
        Number of trained noise levels, geometric in t.
    t_min : float, default=1e-5
        Smallest noise level (standardised units: the VE noise there is
        ``data_scale_ * sqrt(exp(2 t_min) - 1)`` in the data's units).
    t_max : float, default=5.0
        Largest noise level (standardised units), where the noised data is ``N(0, I)`` to within
        ``exp(-2 t_max)``. Must exceed ``t_min``.
    n_noise_draws : int, default=4
        Noised copies of each training point per level.
    alpha : float, default=1e-3
        Ridge penalty per pair on the polynomial coefficients (the features are
        whitened per cell, so it is scale-free).
    method : {"sde", "ode"}, default="sde"
        Default sampler: ancestral steps of the reverse SDE, or Heun steps of the
        probability-flow ODE (deterministic given the starting noise).
    n_sample_steps : int or None, default=200
        Levels the samplers step through, geometric in t from ``t_max`` to
        ``t_min`` (the denoiser is interpolated in log(sigma) between trained
        levels), then a last step to the denoised point; None steps through
        the trained levels. Each ancestral step evaluates the denoiser once,
        each Heun step twice. Each ancestral step draws the clean point from
        the mixture's posterior, so the mixture part is exact at any step
        count; the steps only resolve how the polynomial corrections vary
        with the level, and those above the highest level with a correction
        are run as one (the mixture's exact reverse kernel).
    random_state : int, RandomState instance or None, default=None
        Controls the warm start, the noise draws, the held-out split and, unless
        ``sample`` is given its own, the samples.

    Attributes
    ----------
    means_ : ndarray of shape (n_components, n_features)
        Means of the refreshed mixture's components, in the data's units.
    weights_ : ndarray of shape (n_components,)
        Share of the training points (by weight) nearest to each of ``means_``.
    levels_ : ndarray of shape (n_levels,)
        Trained noise levels t (standardised units).
    degrees_ : ndarray of shape (n_levels,)
        Degree used at each level (before per-cell fallbacks); -1: no
        correction, the mixture's denoiser alone.
    cell_degrees_ : ndarray of shape (n_levels, n_cells)
        Degree fitted in each cell at each level; -1 means the mixture's
        denoiser alone (a cell with fewer than two pairs).
    heldout_loss_ : ndarray of shape (n_levels, top_degree + 2) or None
        When ``degree="auto"``: held-out squared denoising error per pair at
        each level for degrees -1 (the mixture's denoiser alone), 0, 1, ...
        (NaN for degrees not reached).
    data_mean_ : ndarray of shape (n_features,)
        Per-feature mean used to standardise.
    data_scale_ : ndarray of shape (n_features,)
        The overall scale used to standardise (one value, repeated per feature).
    score_model_ : PolyDenoiser
        The fitted piecewise polynomial denoiser (standardised, VE coordinates).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string feature names.

    See Also
    --------
    DDPMGaussianMixture : The warm start: a mixture learned with the DDPM objective.
    sklearn.mixture.GaussianMixture : Mixture of Gaussians fitted by EM.
    sklearn.neighbors.KernelDensity : Kernel density estimate.

    References
    ----------
    K. Gatmiry, J. Kelner and H. Lee. Learning Mixtures of Gaussians Using
    Diffusion Models. COLT 2025. arXiv:2404.18869.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ddpm_gmm import DiffusionMixtureSampler
    >>> rng = np.random.default_rng(0)
    >>> angle = rng.uniform(0, 2 * np.pi, 1000)
    >>> X = np.c_[np.cos(angle), np.sin(angle)] + 0.05 * rng.normal(size=(1000, 2))
    >>> model = DiffusionMixtureSampler(4, n_levels=20, random_state=0).fit(X)
    >>> X_new, y_new = model.sample(200, random_state=0)
    >>> radius = np.linalg.norm(X_new, axis=1)
    >>> bool(abs(np.median(radius) - 1) < 0.05)
    True
    >>> bool(model.score(X) > model.score(X + 0.3))
    True
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "degree": [StrOptions({"auto"}), Interval(Integral, 0, None, closed="left")],
        "n_levels": [Interval(Integral, 2, None, closed="left")],
        "t_min": [Interval(Real, 0.0, None, closed="neither")],
        "t_max": [Interval(Real, 0.0, None, closed="neither")],
        "n_noise_draws": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0.0, None, closed="left")],
        "method": [StrOptions({"sde", "ode"})],
        "n_sample_steps": [Interval(Integral, 2, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components: int = 1,
        *,
        degree: str | int = "auto",
        n_levels: int = 16,
        t_min: float = 1e-5,
        t_max: float = 5.0,
        n_noise_draws: int = 4,
        alpha: float = 1e-3,
        method: str = "sde",
        n_sample_steps: int | None = 200,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.n_components = n_components
        self.degree = degree
        self.n_levels = n_levels
        self.t_min = t_min
        self.t_max = t_max
        self.n_noise_draws = n_noise_draws
        self.alpha = alpha
        self.method = method
        self.n_sample_steps = n_sample_steps
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: ArrayLike | None = None,
            sample_weight: ArrayLike | None = None) -> Self:
        """Fit the centres and the denoiser at every noise level.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; at least two rows and ``n_components`` rows (of
            positive weight).
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative, finite frequency weights: a row of weight 2 counts
            as two rows (in the standardisation, the warm start, the EM
            refresh, the regression cells, the regression sums and the
            held-out losses, and in the counts of pairs that decide the cells
            and degrees; its noised copies are drawn once, not twice, so
            integer weights match repeated rows only in distribution). Rows of
            weight 0 are dropped first, exactly; all-ones weights are the
            unweighted fit. None: all 1.

        Returns
        -------
        self : object
            The fitted estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DiffusionMixtureSampler
        >>> X = np.random.default_rng(0).normal(size=(300, 2))
        >>> model = DiffusionMixtureSampler(n_levels=10, random_state=0).fit(X)
        >>> model.means_.shape, model.levels_.shape
        ((1, 2), (10,))
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2,
                          ensure_all_finite="allow-nan")
        X = np.asarray(X, dtype=np.float64)
        if np.isnan(X).any():
            raise ValueError(
                "Input X contains NaN. DiffusionMixtureSampler cannot be fitted with "
                "missing values: fit it on the complete rows, or fill them first "
                "(MixtureImputer); impute() then completes rows with NaN.")
        if sample_weight is not None:
            sample_weight = checked_sample_weight(sample_weight, X.shape[0])
            keep = sample_weight > 0
            if not np.all(keep):
                X, sample_weight = X[keep], sample_weight[keep]
                if len(X) < 2:
                    raise ValueError(
                        f"Expected at least 2 rows of positive weight; got {len(X)}.")
            if np.all(sample_weight == 1.0):
                sample_weight = None
        w = sample_weight
        n_samples, n_features = X.shape
        if n_samples < self.n_components:
            raise ValueError(
                f"Expected n_samples >= n_components but got n_components = "
                f"{self.n_components}, n_samples = {n_samples}"
            )
        if not self.t_min < self.t_max:
            raise ValueError(
                f"t_min must be smaller than t_max; got t_min={self.t_min!r}, "
                f"t_max={self.t_max!r}."
            )
        random_state = check_random_state(self.random_state)
        self.data_mean_, self.data_scale_ = standardisation(X, w)
        Z = (X - self.data_mean_) / self.data_scale_
        baseline, variance = fit_baseline(Z, self.n_components, random_state, w)
        # Constant data have zero variance; predict_proba's logits would be 0/0.
        self._assignment_variance = max(variance, _MIN_ASSIGNMENT_VARIANCE)
        centres = baseline.means
        schedule = NoiseSchedule(self.t_min, self.t_max, self.n_levels)
        self.levels_ = schedule.levels()
        if self.degree == "auto":
            degrees = range(-1, auto_max_degree(n_features) + 1)
        else:
            degrees = int(self.degree)
        # Finer cells only where the held-out choice guards the degree: a given
        # high degree in small cells swings between neighbours (two moons,
        # degree 8 in 12 cells: a density of mass 48).
        cells = centres
        if self.degree == "auto":
            cells, baseline = fit_cells(
                Z, baseline, n_noise_draws=self.n_noise_draws,
                n_terms=n_poly_features(n_features, max(degrees)),
                random_state=random_state, sample_weight=w,
            )
        model, level_degrees, heldout = fit_poly_denoiser(
            Z, cells, baseline, schedule=schedule, degrees=degrees, alpha=float(self.alpha),
            n_noise_draws=self.n_noise_draws, random_state=random_state, sample_weight=w,
        )
        self.score_model_ = model
        self.degrees_ = level_degrees
        self.cell_degrees_ = model.degrees.copy()
        self.heldout_loss_ = heldout if self.degree == "auto" else None
        self.means_ = self.data_mean_ + self.data_scale_ * centres
        cells = nearest_centre(Z, centres)
        counts = np.bincount(cells, weights=w, minlength=self.n_components)
        self.weights_ = counts / counts.sum()
        return self

    # ---------------------------------------------------------------- inference
    def _standardise(self, X):
        return (self._complete_rows(X) - self.data_mean_) / self.data_scale_

    def _complete_rows(self, X):
        """X validated, refusing NaN with what to do about it (scikit-learn's
        own message suggests supervised estimators)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64,
                          ensure_all_finite="allow-nan")
        if np.isnan(X).any():
            raise ValueError(
                "Input X contains NaN. DiffusionMixtureSampler scores and classifies "
                "complete rows only: impute() completes rows with NaN "
                "(DDPMGaussianMixture's score_samples and predict marginalise them).")
        return X

    def _denoiser(self, Y, sigma, divergence=False):
        """The fitted denoiser in the interface of :mod:`._reverse`."""
        return denoise(self.score_model_, Y, sigma, divergence=divergence)

    def _log_prior(self, sigma):
        model = self.score_model_

        def log_prior(Y):
            return gaussian_log_density(Y, model.mean, model.eigvals, eigvecs=model.eigvecs,
                                        sigma=sigma)

        return log_prior

    def score_samples(self, X: ArrayLike) -> np.ndarray:
        """Log density of each sample (the data's law smoothed at ``t_min``).

        Computed through the probability-flow ODE, by Heun steps geometric in
        t from ``t_min`` to ``t_max`` (64, or one per trained level if more),
        with the exact divergence of the polynomial denoiser: deterministic,
        and each row's value depends on that row only. The ODE stops at the
        lowest level above which no level keeps a correction, where the
        refreshed mixture's noised density is exact (with no correction at
        any level: that density at ``t_min``, no ODE).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_density : ndarray of shape (n_samples,)

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DiffusionMixtureSampler
        >>> X = np.random.default_rng(0).normal(size=(2000, 1))
        >>> model = DiffusionMixtureSampler(n_levels=20, random_state=0).fit(X)
        >>> log_density = model.score_samples([[0.0], [1.0]])
        >>> np.round(log_density, 1)  # N(0, 1): -0.92, -1.42
        array([-0.9, -1.4])
        """
        Z = self._standardise(X)
        model = self.score_model_
        sigmas = model.schedule.likelihood_sigmas(_LIKELIHOOD_STEPS)
        top = max(mixture_from(model), sigmas[0])
        if top < sigmas[-1]:
            # From ``top`` up the field is the mixture's score, whose noised
            # density is known: the ODE stops there (no steps if it is t_min).
            sigmas = np.append(sigmas[sigmas < top], top)

            def log_prior(Y):
                return mixture_log_density(model.baseline, Y, top, near=model.near)
        else:
            log_prior = self._log_prior(sigmas[-1])
        out = np.empty(len(Z))
        for start in range(0, len(Z), _LIKELIHOOD_CHUNK):
            sl = slice(start, start + _LIKELIHOOD_CHUNK)
            out[sl] = ode_log_likelihood(self._denoiser, Z[sl], sigmas, log_prior)
        return out - np.sum(np.log(self.data_scale_))

    def score(self, X: ArrayLike, y: ArrayLike | None = None) -> float:
        """Mean log density of the samples (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        log_likelihood : float

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DiffusionMixtureSampler
        >>> X = np.random.default_rng(0).normal(size=(500, 2))
        >>> model = DiffusionMixtureSampler(n_levels=10, random_state=0).fit(X)
        >>> bool(model.score(X) > model.score(3 * X))
        True
        """
        return float(np.mean(self.score_samples(X)))

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Soft assignment of each sample to the components (centres ``means_``).

        ``softmax_j(-|z - c_j|^2 / (2 v))`` in standardised units, with ``v`` the
        warm-start mixture's pooled variance: the posterior of an equal-weight,
        equal-variance mixture on the centres, so its argmax is the nearest
        centre that ``predict`` returns.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_components)
            Rows sum to 1.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DiffusionMixtureSampler
        >>> rng = np.random.default_rng(0)
        >>> X = np.r_[rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 8]
        >>> model = DiffusionMixtureSampler(2, n_levels=10, random_state=0).fit(X)
        >>> model.predict_proba([[0.0, 0.0]]).round(3).max()
        np.float64(1.0)
        """
        Z = self._standardise(X)
        centres = (self.means_ - self.data_mean_) / self.data_scale_
        # Squared distances less the nearest one, as a product of finite
        # factors: far queries would give inf - inf with squared distances.
        dist = centre_distances(Z, centres)
        nearest = dist.min(axis=1, keepdims=True)
        with np.errstate(over="ignore"):
            logits = -((dist - nearest) * (dist + nearest)) / (2.0 * self._assignment_variance)
        return np.exp(log_softmax(logits, axis=1))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Component (nearest of ``means_``) of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DiffusionMixtureSampler
        >>> rng = np.random.default_rng(0)
        >>> X = np.r_[rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 8]
        >>> model = DiffusionMixtureSampler(2, n_levels=10, random_state=0).fit(X)
        >>> labels = model.predict([[0.0, 0.0], [8.0, 8.0]])
        >>> bool(labels[0] != labels[1])
        True
        """
        Z = self._standardise(X)
        return nearest_centre(Z, (self.means_ - self.data_mean_) / self.data_scale_)

    def score_function(self, X: ArrayLike, t: float) -> np.ndarray:
        """Learned score of the data noised to level ``t``, in the data's units.

        As for :meth:`DDPMGaussianMixture.score_function`, the forward process
        maps a clean point to ``a x + s z`` with ``a = exp(-t)``,
        ``s^2 = 1 - exp(-2 t)`` and ``z ~ N(0, I)`` in the data's own units,
        and this returns ``grad_x log q_t(x)`` of the noised law:
        ``(a E[x | x_t] - x_t) / s^2`` with the fitted denoiser. Inside, the
        data are shifted and divided by one overall scale, which keeps the
        noise isotropic, so this is the same model at the level that matches
        (VE noise ``sigma / data_scale_``). Below the smallest trained level
        or above the largest, the denoiser of the end level is used.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points at which to evaluate the score.
        t : float
            Noise level in the data's units, ``t > 0``.

        Returns
        -------
        score : ndarray of shape (n_samples, n_features)

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DiffusionMixtureSampler
        >>> X = np.random.default_rng(0).normal(size=(2000, 1))
        >>> model = DiffusionMixtureSampler(n_levels=10, random_state=0).fit(X)
        >>> score = model.score_function([[2.0]], t=0.5)  # N(0, 1) stays N(0, 1)
        >>> score.shape, bool(abs(score[0, 0] + 2.0) < 0.2)  # its score is -x
        ((1, 1), True)
        """
        X = self._complete_rows(X)
        if not (np.isscalar(t) and np.isfinite(t) and t > 0):
            raise ValueError(f"t must be a finite number > 0; got {t!r}.")
        a, s2 = noise_coefficients(float(t))
        scale = self.data_scale_[0]
        Y = (X / a - self.data_mean_) / scale
        sigma = float(NoiseSchedule.sigma_from_t(t)) / scale
        D = self.data_mean_ + scale * self._denoiser(Y, sigma)
        return (a * D - X) / s2

    def impute(self, X: ArrayLike, *,
               random_state: int | np.random.RandomState | None = None) -> np.ndarray:
        """Draw the missing entries (NaN) of X given the observed ones, by reverse diffusion.

        The counterpart of :meth:`DDPMGaussianMixture.impute` with
        ``strategy="sample"`` (inpainting): each row's missing coordinates
        are a draw from the learned law given its observed ones. A fitted
        model with no polynomial correction (``degrees_`` all -1) is its
        baseline mixture, and the draw is that mixture's exact conditional
        (a component from the posteriors of the observed part, then its
        conditional Gaussian). Otherwise the reverse diffusion of
        :meth:`sample` runs on the whole row, its observed coordinates
        replaced after each step by their forward-noised values at the new
        level, and each step repeated five times with a jump back by forward
        noise in between (RePaint's resampling), so that the missing part
        agrees with the observed one: five times the cost of :meth:`sample`.
        Call again with other seeds for multiple imputation. A row with
        nothing observed gets a draw from the model, a row with nothing
        missing is returned as is.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            NaN where missing.
        random_state : int, RandomState instance or None, default=None
            Source of the draws; None uses the estimator's ``random_state``.

        Returns
        -------
        X_filled : ndarray of shape (n_samples, n_features)
            A new array: X's observed entries, the missing ones drawn.

        See Also
        --------
        DDPMGaussianMixture.impute : The same from a fitted Gaussian mixture.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DiffusionMixtureSampler
        >>> from sklearn_ddpm_gmm.datasets import make_blurred_ring
        >>> X = make_blurred_ring(2000, random_state=0)
        >>> model = DiffusionMixtureSampler(4, n_levels=10, random_state=0).fit(X)
        >>> filled = model.impute(np.tile([[0.0, np.nan]], (200, 1)), random_state=0)
        >>> bool(np.median(np.abs(filled[:, 1])) > 0.9)  # on the ring: near -1 or 1
        True
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64,
                          ensure_all_finite="allow-nan")
        rows = np.flatnonzero(np.isnan(X).any(axis=1))
        result = X.copy()
        if len(rows) == 0:
            return result
        rng = check_random_state(self.random_state if random_state is None else random_state)
        Z = (X[rows] - self.data_mean_) / self.data_scale_
        sigmas = self.score_model_.schedule.sample_sigmas(self.n_sample_steps)
        filled = inpaint(self.score_model_, Z, sigmas, random_state=rng)
        result[rows] = self.data_mean_ + self.data_scale_ * filled
        # The observed entries exactly as given (no round trip through the scale).
        result[rows] = np.where(np.isnan(X[rows]), result[rows], X[rows])
        return result

    def sample(
        self, n_samples: int = 1, *,
        random_state: int | np.random.RandomState | None = None,
        method: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw samples by reverse diffusion from the noised data's Gaussian.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.
        random_state : int, RandomState instance or None, default=None
            Source of randomness; None uses the estimator's ``random_state``.
        method : {"sde", "ode"} or None, default=None
            Sampler; None uses the estimator's ``method``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Samples, in the data's units.
        y : ndarray of shape (n_samples,)
            Component (nearest of ``means_``) of each sample's final position.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ddpm_gmm import DiffusionMixtureSampler
        >>> X = 100 + np.random.default_rng(0).normal(size=(500, 2))
        >>> model = DiffusionMixtureSampler(n_levels=10, random_state=0).fit(X)
        >>> X_new, y_new = model.sample(400, random_state=1, method="ode")
        >>> X_new.shape, y_new.shape, bool(abs(X_new.mean() - 100) < 0.3)
        ((400, 2), (400,), True)
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples!r}. It must be an "
                "integer >= 1."
            )
        method = self.method if method is None else method
        if method not in ("sde", "ode"):
            raise ValueError(f"method must be 'sde' or 'ode'; got {method!r}.")
        rng = check_random_state(self.random_state if random_state is None else random_state)
        model = self.score_model_
        sigmas = model.schedule.sample_sigmas(self.n_sample_steps)
        std = np.sqrt(model.eigvals + sigmas[0] ** 2)
        Y = model.mean + (rng.standard_normal((n_samples, len(std))) * std) @ model.eigvecs.T
        sigmas = np.append(sigmas, 0.0)
        if method == "sde":
            # A step that starts where the denoiser is the mixture's alone is
            # the mixture's exact reverse kernel, so a run of them is one step.
            merged = sigmas[1:-1] >= mixture_from(model)
            sigmas = sigmas[np.r_[True, ~merged, True]]
            # The baseline mixture's posterior spread makes each step exact for
            # the mixture part, however long (see ancestral_sample).
            def clean_point(Y, sigma, random_state):
                return draw_clean_point(model, Y, sigma, random_state)

            Z = ancestral_sample(self._denoiser, Y, sigmas, random_state=rng,
                                 clean_point=clean_point)
        else:
            Z = ode_sample(self._denoiser, Y, sigmas)
        labels = nearest_centre(Z, (self.means_ - self.data_mean_) / self.data_scale_)
        return self.data_mean_ + self.data_scale_ * Z, labels
