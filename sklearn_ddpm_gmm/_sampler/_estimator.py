"""DiffusionMixtureSampler: piecewise polynomial scores at every noise level, then reverse diffusion."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy.spatial.distance import cdist
from scipy.special import log_softmax, logsumexp
from sklearn.base import BaseEstimator, DensityMixin, _fit_context
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .._mixture._estimator import DDPMGaussianMixture
from .._ddpm._forward import noise_coefficients
from ._poly_score import (
    SIGNIFICANCE,
    MixtureBaseline,
    denoise,
    draw_clean_point,
    fit_mixture_baseline,
    fit_poly_denoiser,
    n_poly_features,
    nearest_centre,
)
from ._reverse import (
    ancestral_sample,
    gaussian_log_density,
    ode_log_likelihood,
    ode_sample,
    sigma_from_t,
)

# degree="auto" chooses, at each level, among 0..p where p is the largest degree
# <= _AUTO_MAX_DEGREE whose monomials number at most _AUTO_MAX_TERMS (2-D: 10,
# 3-D: 7, 5-D: 4, 10-D: 2, 15-D and up: 1): the normal equations cost
# n_pairs * n_terms^2 per level. On blurred curves with 4 cells, degrees up to
# 10 were chosen in 2-D (held-out log-likelihood on two moons -0.50 with a cap
# of 6, -0.42 with 10).
_AUTO_MAX_DEGREE = 10
_AUTO_MAX_TERMS = 128
# The warm-start mixture is fitted on at most this many rows (plus some per
# component): its centres only partition the space, and its cold start costs
# ~1 ms per step per 1000 rows.
_WARM_START_ROWS = 1000
_WARM_START_ROWS_PER_COMPONENT = 100
# Full-covariance EM iterations that refresh the warm-start mixture on all
# the data (its one M-step from the DDPM posteriors gave a poor baseline: held-out
# log-likelihood 3.83 against 4.04 after EM on 5-D segments, K = 8).
_EM_STEPS = 20
# Noised pairs per monomial of the top degree in an average regression cell:
# tuned on a ring, two moons and a closed curve in 10-D (4 -> 24 cells in 10-D:
# energy distance to held-out data 5x lower).
_CELL_PAIRS_PER_TERM = 20
# Times the cells may be doubled past the pairs' count when a held-out test
# prefers the finer cells' mixture (see _finer_cells).
_CELL_DOUBLINGS = 1
# Lloyd iterations for the regression cells (they only partition the space).
_KMEANS_ITER = 20
# Floor of the pooled variance in predict_proba (standardised units, where the
# data's variance is 1 unless it is constant).
_MIN_ASSIGNMENT_VARIANCE = 1e-12
# Heun steps of the likelihood ODE (at least one per trained level): on two
# moons 16 steps overstated the held-out log-likelihood by 0.035 nats, 64 by 0.003
# (against 128).
_LIKELIHOOD_STEPS = 64
# Rows per chunk in score_samples (memory only; each row's value is its own).
_LIKELIHOOD_CHUNK = 2048


def _standardisation(X, sample_weight=None):
    """Mean and one overall scale of X, shape (n_samples, n_features).

    The scale is the root mean square of the per-feature standard deviations,
    the same for every feature: the forward process adds isotropic noise, and
    only a scalar scale (with a shift) maps isotropic noise in the caller's
    units to isotropic noise inside, so that ``score_function`` can be exact in
    the caller's units. It is computed after dividing by the largest offset, so
    data near 1e-150 or 1e150 neither under- nor overflows; constant data get
    scale 1. With ``sample_weight``, both are weighted.

    Returns
    -------
    mean : ndarray of shape (n_features,)
    scale : ndarray of shape (n_features,)
        One value repeated.
    """
    if sample_weight is None:
        mean = X.mean(axis=0)
    else:
        mean = np.average(X, axis=0, weights=sample_weight)
    offsets = X - mean
    largest = float(np.max(np.abs(offsets)))
    safe = largest if largest > 0 else 1.0
    if sample_weight is None:
        scale = safe * np.sqrt(np.mean((offsets / safe) ** 2))
    else:
        scale = safe * np.sqrt(np.average(np.mean((offsets / safe) ** 2, axis=1),
                                          weights=sample_weight))
    if not (np.isfinite(scale) and scale > 0):
        scale = 1.0
    return mean, np.full(X.shape[1], scale)


def _distances(Z, centres):
    """Euclidean distances, shape (n, K), finite for rows far beyond 1e154.

    Rows whose squared distances overflow are divided by their largest entry
    first (the distance scales back linearly).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        dist = cdist(Z, centres)
    for i in np.flatnonzero(~np.all(np.isfinite(dist), axis=1)):
        r = np.max(np.abs(Z[i]))
        dist[i] = r * np.linalg.norm(Z[i] / r - centres / r, axis=1)
    return dist


def auto_max_degree(n_features):
    """Highest degree that ``degree="auto"`` considers for ``n_features`` features.

    Examples
    --------
    >>> from sklearn_ddpm_gmm._sampler._estimator import auto_max_degree
    >>> auto_max_degree(2), auto_max_degree(5), auto_max_degree(10), auto_max_degree(20)
    (10, 4, 2, 1)
    """
    top = 1
    for p in range(2, _AUTO_MAX_DEGREE + 1):
        if n_poly_features(n_features, p) <= _AUTO_MAX_TERMS:
            top = p
    return top


def _warm_start(Z, n_components, random_state, sample_weight=None):
    """Posteriors of a DDPMGaussianMixture, and its pooled variance.

    The mixture (power-iteration-then-EM schedule) is fitted on a subsample of
    the standardised data Z, shape (n_samples, d), and its posteriors computed
    on all of Z. Its ConvergenceWarning is silenced: it is a warm start. Should
    it return non-finite parameters (degenerate data), k-means++ seeds and
    hard assignments take over. ``sample_weight`` (positive, or None) goes
    to the mixture's fit on the subsample, and to the k-means++ seeding.

    Returns
    -------
    resp : ndarray of shape (n_samples, n_components)
    variance : float
        Weighted mean of the components' (spherical) variances.
    """
    n_samples = Z.shape[0]
    w = sample_weight
    if n_components == 1:
        if w is None:
            return np.ones((n_samples, 1)), float(np.mean(Z.var(axis=0)))
        mean = np.average(Z, axis=0, weights=w)
        return np.ones((n_samples, 1)), float(np.average(np.mean((Z - mean) ** 2, axis=1),
                                                          weights=w))
    n_rows = min(n_samples, _WARM_START_ROWS + _WARM_START_ROWS_PER_COMPONENT * n_components)
    rows = np.sort(random_state.choice(n_samples, n_rows, replace=False))
    seed = random_state.randint(np.iinfo(np.int32).max)
    # Spherical: the warm start only has to place the centres; the EM refresh
    # learns full covariances afterwards.
    mixture = DDPMGaussianMixture(n_components, covariance_type="spherical",
                                  random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mixture.fit(Z[rows], sample_weight=None if w is None else w[rows])
        resp = mixture.predict_proba(Z)
    variance = float(mixture.weights_ @ mixture.covariances_)
    if np.all(np.isfinite(resp)) and np.isfinite(variance) and variance > 0:
        return resp, variance
    centres, _ = kmeans_plusplus(Z[rows], n_components, random_state=random_state,
                                 sample_weight=None if w is None else w[rows])
    resp = np.eye(n_components)[nearest_centre(Z, centres)]
    return resp, float(np.mean(Z.var(axis=0))) / n_components or 1.0


def _em_refresh(Z, baseline, max_iter):
    """Full-covariance EM steps on all of Z from the baseline mixture.

    scikit-learn's GaussianMixture, initialised at the baseline (so no random
    start), run for at most ``max_iter`` iterations; its ConvergenceWarning is
    silenced (the result only has to be better than the start).
    """
    precisions = np.stack([
        (V / lam) @ V.T for lam, V in zip(baseline.eigvals, baseline.eigvecs)
    ])
    weights = np.maximum(baseline.weights, 1e-12)
    mixture = GaussianMixture(
        len(weights), covariance_type="full", max_iter=max_iter, tol=1e-4,
        weights_init=weights / weights.sum(), means_init=baseline.means,
        precisions_init=precisions, reg_covar=1e-6,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mixture.fit(Z)
    eigvals, eigvecs = np.linalg.eigh(mixture.covariances_)
    return MixtureBaseline(mixture.weights_, mixture.means_, np.maximum(eigvals, 1e-12),
                           eigvecs)


def _component_log_density(Z, baseline):
    """``log pi_k + log N(z; mu_k, C_k)`` for each row and component, shape (n, K)."""
    log_prob = np.empty((len(Z), len(baseline.weights)))
    with np.errstate(divide="ignore"):
        log_w = np.log(baseline.weights)
    for k, (mu, lam, V) in enumerate(zip(baseline.means, baseline.eigvals, baseline.eigvecs)):
        P = (Z - mu) @ V
        log_prob[:, k] = log_w[k] - 0.5 * (np.sum(P * P / lam, axis=1)
                                          + np.sum(np.log(2.0 * np.pi * lam)))
    return log_prob


def _weighted_em(Z, sample_weight, baseline, max_iter, tol=1e-4, reg=1e-6):
    """Full-covariance EM with frequency weights, from the baseline mixture.

    The weighted counterpart of :func:`_em_refresh` (scikit-learn's
    GaussianMixture takes no weights): the same E-step, an M-step whose
    sufficient statistics are weighted (:func:`fit_mixture_baseline` with
    ``resp * w``), ``reg`` added to the covariances' eigenvalues (as
    ``reg_covar``), and the same stopping rule (change of the weighted mean
    log-likelihood below ``tol``).
    """
    w = sample_weight
    previous = -np.inf
    for _ in range(max_iter):
        log_prob = _component_log_density(Z, baseline)
        log_norm = logsumexp(log_prob, axis=1)
        resp = np.exp(log_prob - log_norm[:, np.newaxis])
        baseline = fit_mixture_baseline(Z, resp * w[:, np.newaxis], reg=reg)
        current = float(np.average(log_norm, weights=w))
        if abs(current - previous) < tol:
            break
        previous = current
    return baseline


def _cell_mixture(Z, cells, sample_weight=None):
    """A mixture of finer cells: one full-covariance Gaussian per cell.

    Started from the cells' own points (one M-step from the hard Voronoi
    assignment) and refreshed by ``_EM_STEPS`` (weighted) EM iterations on
    Z. Its exact denoiser follows a curve's bends at every noise level,
    where the components' few Gaussians cannot: on bench_sampler's sets
    (8 000 rows, seeds 0-1) it raised the held-out log-likelihood by
    0.01-0.17 nats in 2-D, 3-D and 5-D, 0.1 in 12-D and 0.5 on the 10-D curve
    against the components' mixture; energy distances moved within their
    noise.

    Returns
    -------
    baseline : MixtureBaseline
    """
    w = np.ones(len(Z)) if sample_weight is None else sample_weight
    resp = np.eye(len(cells))[nearest_centre(Z, cells)]
    baseline = fit_mixture_baseline(Z, resp * w[:, np.newaxis])
    return _weighted_em(Z, w, baseline, _EM_STEPS)


def _cells_beat_components(Z, cells, components, sample_weight, random_state):
    """Whether the cells' mixture has a higher held-out log-likelihood.

    Both mixtures are refitted on 80% of the rows (the components' from
    ``components``, by the same EM steps) and compared on the other 20%: the
    cells' is kept only if its mean log-density is higher by more than
    ``SIGNIFICANCE`` standard errors of the per-row difference. On data that
    are a Gaussian mixture, a mixture of more cells only adds estimation
    error (on two Gaussians, 9 cells put the learned score 0.26 away from the
    exact one at small noise in relative RMS, against 0.05).
    """
    w = np.ones(len(Z)) if sample_weight is None else sample_weight
    val = np.zeros(len(Z), dtype=bool)
    val[random_state.permutation(len(Z))[:max(2, len(Z) // 5)]] = True
    if val.all() or np.sum(~val) <= len(cells):
        return False
    train = ~val
    ours = _cell_mixture(Z[train], cells, w[train])
    theirs = _weighted_em(Z[train], w[train], components, _EM_STEPS)
    diff = (logsumexp(_component_log_density(Z[val], ours), axis=1)
            - logsumexp(_component_log_density(Z[val], theirs), axis=1))
    wv = w[val] / w[val].sum()
    mean = float(wv @ diff)
    spread = float(np.sqrt(wv @ (diff - mean) ** 2))
    n_eff = 1.0 / float(wv @ wv)
    return bool(np.isfinite(mean) and mean > SIGNIFICANCE * spread / np.sqrt(n_eff))


def _regression_cells(Z, centres, n_pairs, n_terms, random_state, sample_weight=None):
    """Centres of the regression cells: the mixture's, or finer k-means ones.

    A cell is worth splitting while the halves still have enough pairs to fit
    the top degree: the cells number ``n_pairs / (CELL_PAIRS_PER_TERM *
    n_terms)``, at least the mixture's components (whose means are then the
    centres) and at most a tenth of the rows (of the weights' sum, and of the
    distinct rows, with ``sample_weight``). Finer cells follow a curve
    whose bends a low degree cannot (the cap on the degree falls with the
    dimension).

    Returns
    -------
    cells : ndarray of shape (n_cells, d)
    """
    n_rows = len(Z) if sample_weight is None else min(len(Z), sample_weight.sum())
    n_cells = min(int(n_pairs / (_CELL_PAIRS_PER_TERM * n_terms)), int(n_rows) // 10)
    if n_cells <= len(centres):
        return centres
    kmeans = KMeans(n_cells, n_init=1, max_iter=_KMEANS_ITER,
                    random_state=random_state.randint(np.iinfo(np.int32).max))
    return kmeans.fit(Z, sample_weight=sample_weight).cluster_centers_


def _finer_cells(Z, cells, baseline, n_rows, sample_weight, random_state):
    """Double the cells (at most ``_CELL_DOUBLINGS`` times) while their mixture wins.

    ``baseline`` is the mixture of ``cells``. Twice as many k-means cells
    replace them when their mixture beats it on held-out rows (the test of
    :func:`_cells_beat_components`), up to a tenth of the rows. The pairs'
    count sets the cells for the top degree's regression; a curve that bends
    more than the cells' Gaussians follow gains from finer ones even where
    the held-out choice then falls back to a lower degree (bench_sampler,
    seeds 0-1: held-out log-likelihood +0.26 nats in 12-D, +0.02-0.06 on a
    3-D knot, +0.03-0.05 on a 2-D spiral; the tuning sets and 5-D segments
    kept their cells).

    Returns
    -------
    cells : ndarray of shape (n_cells, d)
    baseline : MixtureBaseline
    """
    for _ in range(_CELL_DOUBLINGS):
        if 2 * len(cells) > int(min(len(Z), n_rows)) // 10:
            break
        kmeans = KMeans(2 * len(cells), n_init=1, max_iter=_KMEANS_ITER,
                        random_state=random_state.randint(np.iinfo(np.int32).max))
        finer = kmeans.fit(Z, sample_weight=sample_weight).cluster_centers_
        if not _cells_beat_components(Z, finer, baseline, sample_weight, random_state):
            break
        cells, baseline = finer, _cell_mixture(Z, finer, sample_weight)
    return cells, baseline


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
       with the exact divergence of the fitted denoiser.

    ``score_samples`` is the log-density of the data smoothed by the forward
    process at ``t_min`` (a Gaussian blur of standard deviation
    ``sqrt(exp(2 t_min) - 1)`` times ``data_scale_``: 0.0045 of the data's
    scale at the default).
    The fitted field is piecewise (it jumps across cell boundaries), so it is
    not an exact gradient and the density it implies is normalised only
    approximately: on 2-D rings and moons it integrated to 0.99-1.01.

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
        each Heun step twice. Ancestral steps with the posterior mean alone
        need many (on 5-D blurred segments, 200 of them put 36.7% of the
        mass on a segment whose mixture has 35.1%); with the mixture's
        posterior draws the mixture part is exact at any step count, and the
        steps only resolve how the polynomial corrections vary with the level.
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
        n_components=1,
        *,
        degree="auto",
        n_levels=16,
        t_min=1e-5,
        t_max=5.0,
        n_noise_draws=4,
        alpha=1e-3,
        method="sde",
        n_sample_steps=200,
        random_state=None,
    ):
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
    def fit(self, X, y=None, sample_weight=None):
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
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        X = np.asarray(X, dtype=np.float64)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                                 ensure_non_negative=True)
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
        self.data_mean_, self.data_scale_ = _standardisation(X, w)
        Z = (X - self.data_mean_) / self.data_scale_
        resp, variance = _warm_start(Z, self.n_components, random_state, w)
        # Constant data have zero variance; predict_proba's logits would be 0/0.
        self._assignment_variance = max(variance, _MIN_ASSIGNMENT_VARIANCE)
        # Refresh on all the data: one M-step with full covariances gives the
        # baseline mixture, whose means are the centres of the cells.
        baseline = fit_mixture_baseline(Z, resp if w is None else resp * w[:, np.newaxis])
        if self.n_components > 1:
            if w is None:
                baseline = _em_refresh(Z, baseline, _EM_STEPS)
            else:
                baseline = _weighted_em(Z, w, baseline, _EM_STEPS)
        centres = baseline.means
        self.levels_ = np.geomspace(self.t_min, self.t_max, self.n_levels)
        if self.degree == "auto":
            degrees = range(-1, auto_max_degree(n_features) + 1)
        else:
            degrees = int(self.degree)
        # Finer cells only where the held-out choice guards the degree: a given
        # high degree in small cells swings between neighbours (two moons,
        # degree 8 in 12 cells: a density of mass 48).
        cells = centres
        if self.degree == "auto":
            n_rows = n_samples if w is None else w.sum()
            cells = _regression_cells(Z, centres, n_rows * self.n_noise_draws,
                                      n_poly_features(n_features, max(degrees)), random_state,
                                      w)
            if len(cells) > len(centres) and _cells_beat_components(
                    Z, cells, baseline, w, random_state):
                baseline = _cell_mixture(Z, cells, w)
                cells, baseline = _finer_cells(Z, cells, baseline, n_rows, w, random_state)
        model, level_degrees, heldout = fit_poly_denoiser(
            Z, cells, baseline, sigma_from_t(self.levels_), degrees,
            float(self.alpha), self.n_noise_draws, random_state, sample_weight=w,
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
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return (X - self.data_mean_) / self.data_scale_

    def _denoiser(self, Y, sigma, divergence=False):
        """The fitted denoiser in the interface of :mod:`._reverse`."""
        return denoise(self.score_model_, Y, sigma, divergence=divergence)

    def _log_prior(self, sigma):
        model = self.score_model_

        def log_prior(Y):
            return gaussian_log_density(Y, model.mean, model.eigvals, model.eigvecs, sigma)

        return log_prior

    def score_samples(self, X):
        """Log density of each sample (the data's law smoothed at ``t_min``).

        Computed through the probability-flow ODE, by Heun steps geometric in
        t from ``t_min`` to ``t_max`` (64, or one per trained level if more),
        with the exact divergence of the polynomial denoiser: deterministic,
        and each row's value depends on that row only.

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
        sigmas = sigma_from_t(np.geomspace(self.t_min, self.t_max,
                                           max(self.n_levels, _LIKELIHOOD_STEPS)))
        log_prior = self._log_prior(sigmas[-1])
        out = np.empty(len(Z))
        for start in range(0, len(Z), _LIKELIHOOD_CHUNK):
            sl = slice(start, start + _LIKELIHOOD_CHUNK)
            out[sl] = ode_log_likelihood(self._denoiser, Z[sl], sigmas, log_prior)
        return out - np.sum(np.log(self.data_scale_))

    def score(self, X, y=None):
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

    def predict_proba(self, X):
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
        dist = _distances(Z, centres)
        nearest = dist.min(axis=1, keepdims=True)
        with np.errstate(over="ignore"):
            logits = -((dist - nearest) * (dist + nearest)) / (2.0 * self._assignment_variance)
        return np.exp(log_softmax(logits, axis=1))

    def predict(self, X):
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

    def score_function(self, X, t):
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
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        if not (np.isscalar(t) and np.isfinite(t) and t > 0):
            raise ValueError(f"t must be a finite number > 0; got {t!r}.")
        a, s2 = noise_coefficients(float(t))
        scale = self.data_scale_[0]
        Y = (X / a - self.data_mean_) / scale
        D = self.data_mean_ + scale * self._denoiser(Y, float(sigma_from_t(t)) / scale)
        return (a * D - X) / s2

    def _sample_sigmas(self):
        """Decreasing VE levels the samplers step through (ending at t_min)."""
        if self.n_sample_steps is None:
            t = self.levels_[::-1]
        else:
            t = np.geomspace(self.t_max, self.t_min, self.n_sample_steps)
        return sigma_from_t(t)

    def sample(self, n_samples=1, *, random_state=None, method=None):
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
        sigmas = self._sample_sigmas()
        std = np.sqrt(model.eigvals + sigmas[0] ** 2)
        Y = model.mean + (rng.standard_normal((n_samples, len(std))) * std) @ model.eigvecs.T
        sigmas = np.append(sigmas, 0.0)
        if method == "sde":
            # The baseline mixture's posterior spread makes each step exact for
            # the mixture part, however long (see ancestral_sample).
            def clean_point(Y, sigma, random_state):
                return draw_clean_point(model, Y, sigma, random_state)

            Z = ancestral_sample(self._denoiser, Y, sigmas, rng, clean_point)
        else:
            Z = ode_sample(self._denoiser, Y, sigmas)
        labels = nearest_centre(Z, (self.means_ - self.data_mean_) / self.data_scale_)
        return self.data_mean_ + self.data_scale_ * Z, labels
