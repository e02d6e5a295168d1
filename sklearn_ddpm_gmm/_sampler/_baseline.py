"""The baseline mixture and the regression cells, fitted on the standardised data.

The data are standardised by one overall scale; a DDPMGaussianMixture gives
the warm start, refreshed on all rows by full-covariance EM; its means are the
centres. With ``degree="auto"`` the regression may use finer k-means cells,
whose own mixture replaces the components' as the baseline when held-out rows
prefer it.
"""

import warnings

import numpy as np
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.exceptions import ConvergenceWarning

from .._core._covariance import FullCovariance, Statistics
from .._core._em import iterate, run_likelihood_phase
from .._core._mixture import make_mixture
from .._core._standardise import standardise
from .._mixture._estimator import DDPMGaussianMixture, SingularComponentWarning
from ._cell_regression import SIGNIFICANCE
from ._mixture_denoiser import (
    MixtureBaseline,
    fit_mixture_baseline,
    hard_mixture_baseline,
    mixture_log_density,
    nearest_centre,
    posterior_groups,
)
from ._near_cells import NEAR_CELLS, NearCells

# The warm-start mixture is fitted on at most this many rows (plus some per
# component): its centres only partition the space, and its cold start costs
# ~1 ms per step per 1000 rows.
_WARM_START_ROWS = 1000
_WARM_START_ROWS_PER_COMPONENT = 100
# Full-covariance EM iterations that refresh the warm-start mixture on all the data.
# 5-D segments, K = 8: held-out log-likelihood 3.83 after one M-step, 4.04 after EM.
_EM_STEPS = 20
# Their stop on the gain per row (GaussianMixture's default tol).
_EM_TOL = 1e-4
# The refresh's covariance type, reg_covar in standardised units.
_FULL = FullCovariance(1e-6)
# Noised pairs per monomial of the top degree in an average regression cell.
# Closed 10-D curve: 4 -> 24 cells put the energy distance to held-out data 5x lower.
_CELL_PAIRS_PER_TERM = 20
# Times the cells may be doubled past the pairs' count when a held-out test
# prefers the finer cells' mixture (see finer_cells).
_CELL_DOUBLINGS = 1
# Lloyd iterations for the regression cells (they only partition the space).
_KMEANS_ITER = 20
# k-means rows per cell (a random subsample beyond): centres only partition the space.
_KMEANS_ROWS_PER_CELL = 1000
# Rows beyond which the cells' count grows as n^(1/5) (see n_regression_cells).
_CELL_ROWS = 8192
# Rows (drawn at random beyond) of the held-out test that decides the cells'
# mixture: two EM fits on 80% of them per test.
_TEST_ROWS = 1 << 15


def standardisation(X, sample_weight=None):
    """Mean and one overall scale of X, shape (n_samples, n_features): the
    core's standardisation (:func:`.._core._standardise.standardise`,
    weighted with ``sample_weight``).

    One scale for every feature: the forward process adds isotropic noise,
    and only a scalar scale (with a shift) maps isotropic noise in the
    caller's units to isotropic noise inside, so that ``score_function`` can
    be exact in the caller's units.

    Returns
    -------
    mean : ndarray of shape (n_features,)
    scale : ndarray of shape (n_features,)
        One value repeated.
    """
    _, centre, scale, _ = standardise(X, sample_weight=sample_weight)
    return centre, np.full(X.shape[1], scale)


def warm_start(Z, n_components, random_state, sample_weight=None):
    """Posteriors of a DDPMGaussianMixture, and its pooled variance.

    The mixture (power-iteration-then-EM schedule) is fitted on a subsample of
    the standardised data Z, shape (n_samples, d), and its posteriors computed
    on all of Z. Its ConvergenceWarning and singular-maximum warning are
    silenced: it is a warm start, which only places the centres. Should
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
        # A warm start: it only places the centres.
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", SingularComponentWarning)
        mixture.fit(Z[rows], sample_weight=None if w is None else w[rows])
        resp = mixture.predict_proba(Z)
    variance = float(mixture.weights_ @ mixture.covariances_)
    if np.all(np.isfinite(resp)) and np.isfinite(variance) and variance > 0:
        return resp, variance
    centres, _ = kmeans_plusplus(Z[rows], n_components, random_state=random_state,
                                 sample_weight=None if w is None else w[rows])
    resp = np.eye(n_components)[nearest_centre(Z, centres)]
    return resp, float(np.mean(Z.var(axis=0))) / n_components or 1.0


def refreshed(Z, baseline, *, max_iter, sample_weight=None, tol=_EM_TOL):
    """Full-covariance EM on all of Z from the baseline mixture, at most
    ``max_iter`` steps of the core's loop (:func:`.._core._em.iterate`,
    weighted with ``sample_weight``); it only has to improve on the start,
    so its stop needs no warning.

    With more components than ``NEAR_CELLS``, each row's E-step runs over
    its near cells (:func:`near_em_step`), so a pass costs rows x
    ``NEAR_CELLS``, not rows x components; with fewer, the core's
    :func:`.._core._em.run_likelihood_phase` as it is.
    """
    weights = np.maximum(baseline.weights, 1e-12)
    start = baseline._replace(weights=weights / weights.sum()).to_mixture(_FULL)
    if len(weights) <= NEAR_CELLS:
        result = run_likelihood_phase(Z, start, _FULL, tol=tol, max_iter=max_iter,
                                      sample_weight=sample_weight)
    else:
        result = iterate(lambda mixture: near_em_step(Z, mixture, sample_weight),
                         start, tol=tol, max_iter=max_iter)
    return MixtureBaseline.from_mixture(result.params)


def near_em_step(Z, mixture, sample_weight=None):
    """One EM step whose E-step runs over each row's near cells.

    The posteriors are those of :func:`._mixture_denoiser.posterior_groups`
    at noise 0 (within ``TRUNCATION_TOL`` of the full E-step's); the
    statistics are summed group by group, the scatter around the current
    means (in each cell's eigenbasis, where the offsets already are) then
    moved to the new means; the M-step is the core's.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, d)
    mixture : Mixture
        Full covariances.
    sample_weight : ndarray of shape (n_samples,) or None

    Returns
    -------
    log_likelihood : float
        Mean (weighted) log-likelihood of ``mixture``.
    stepped : Mixture
    """
    baseline = MixtureBaseline.from_mixture(mixture)
    K, d = baseline.means.shape
    mass, first = np.zeros(K), np.zeros((K, d))
    second = np.zeros((K, d, d))
    total = 0.0
    for rows, post in posterior_groups(baseline, Z, 0.0, near=NearCells(baseline.means)):
        w = post.w if sample_weight is None else post.w * sample_weight[rows, np.newaxis]
        log_density = (post.log_density if sample_weight is None
                       else post.log_density * sample_weight[rows])
        total += float(np.sum(log_density))
        cells = post.cells
        mass[cells] += w.sum(axis=0)
        first[cells] += w.T @ Z[rows]
        # At noise 0 the standardised offsets are V_j^T (z - mu_j) / sqrt(lam_j).
        P = post.Q * np.sqrt(post.var)
        # Two operands, optimised: a batched product (the three-operand
        # einsum's loop took a third of a 10-D curve's fit).
        scatter = np.einsum("nke,nkf->kef", P * w[:, :, np.newaxis], P, optimize=True)
        V = baseline.eigvecs[cells]
        second[cells] += V @ scatter @ V.transpose(0, 2, 1)
    weight = float(len(Z) if sample_weight is None else np.sum(sample_weight))
    shift = first / np.maximum(mass, 1e-300)[:, np.newaxis] - baseline.means
    second -= mass[:, np.newaxis, np.newaxis] * np.einsum("ki,kj->kij", shift, shift)
    stats = Statistics(mass, first, second, total, weight)
    return total / weight, make_mixture(*_FULL.m_step(stats), _FULL)


def cell_mixture(Z, cells, sample_weight=None):
    """A mixture of finer cells: one full-covariance Gaussian per cell.

    Started from the cells' own points (one M-step from the hard Voronoi
    assignment) and refreshed by ``_EM_STEPS`` (weighted) EM iterations on
    Z. Its exact denoiser follows a curve's bends at every noise level,
    where the components' few Gaussians cannot.

    Returns
    -------
    baseline : MixtureBaseline
    """
    labels = NearCells(cells).home(Z)
    baseline = hard_mixture_baseline(Z, labels, len(cells), sample_weight)
    return refreshed(Z, baseline, max_iter=_EM_STEPS, sample_weight=sample_weight)


def cells_beat_components(Z, cells, components, *, sample_weight, random_state):
    """Whether the cells' mixture has a higher held-out log-likelihood.

    Both mixtures are refitted on 80% of the rows (of at most
    ``_TEST_ROWS`` drawn at random; the components' from ``components``, by
    the same EM steps) and compared on the other 20%: the
    cells' is kept only if its mean log-density is higher by more than
    ``SIGNIFICANCE`` standard errors of the per-row difference. On data that
    are a Gaussian mixture, a mixture of more cells only adds estimation
    error.
    """
    if len(Z) > _TEST_ROWS:
        rows = np.sort(random_state.choice(len(Z), _TEST_ROWS, replace=False))
        Z = Z[rows]
        sample_weight = None if sample_weight is None else sample_weight[rows]
    w = np.ones(len(Z)) if sample_weight is None else sample_weight
    val = np.zeros(len(Z), dtype=bool)
    val[random_state.permutation(len(Z))[:max(2, len(Z) // 5)]] = True
    if val.all() or np.sum(~val) <= len(cells):
        return False
    train = ~val
    ours = cell_mixture(Z[train], cells, w[train])
    theirs = refreshed(Z[train], components, max_iter=_EM_STEPS,
                       sample_weight=None if sample_weight is None else w[train])
    diff = (mixture_log_density(ours, Z[val], 0.0, near=NearCells(ours.means))
            - mixture_log_density(theirs, Z[val], 0.0, near=NearCells(theirs.means)))
    wv = w[val] / w[val].sum()
    mean = float(wv @ diff)
    spread = float(np.sqrt(wv @ (diff - mean) ** 2))
    n_eff = 1.0 / float(wv @ wv)
    return bool(np.isfinite(mean) and mean > SIGNIFICANCE * spread / np.sqrt(n_eff))


def n_regression_cells(n_rows, n_noise_draws, n_terms, *, n_distinct=None):
    """Number of regression cells for ``n_rows`` rows (their weights' sum;
    ``n_distinct`` distinct ones, default ``n_rows``) and ``n_terms``
    monomials of the top degree.

    Up to ``_CELL_ROWS`` rows, as many as leave an average cell
    ``_CELL_PAIRS_PER_TERM`` noised pairs per monomial, at most a tenth of
    the rows (of both counts). Beyond, the count grows as ``n^(1/5)``. Why: the cells' mixture
    (the whole fit wherever the degree test keeps no correction) trades the
    bias of Gaussian pieces, whose cross-section misses a curve's sagitta
    ``kappa h^2 / 8`` over a cell of length ``h``, an excess log-likelihood
    ``~ (kappa h^2 / noise)^2 ~ K^-4``, against the estimation error ``~ K p /
    (2 n)`` of ``p`` parameters per cell; their sum is least at ``K ~
    n^(1/5)``. The extra rows then go into more pairs per cell, which the
    degree test can spend on higher degrees, and each pass over rows at
    large noise, where a point's posterior spreads over all cells, stays
    linear in n. (On the ring at 32 000 rows, seed 0: held-out
    log-likelihood -2.2302 with 24 cells, -2.2288 with 48, -2.2334 with the
    pairs' count, 96.)
    """
    n_distinct = n_rows if n_distinct is None else min(n_rows, n_distinct)
    scale = max(1.0, n_distinct / _CELL_ROWS) ** 0.2
    count = min(int(min(n_rows, _CELL_ROWS) * n_noise_draws
                    / (_CELL_PAIRS_PER_TERM * n_terms)),
                int(min(n_distinct, _CELL_ROWS)) // 10)
    return int(count * scale)


def _kmeans_centres(Z, n_cells, *, random_state, sample_weight=None):
    """k-means centres of Z, fitted on at most ``_KMEANS_ROWS_PER_CELL``
    rows per cell drawn at random (they only partition the space)."""
    seed = random_state.randint(np.iinfo(np.int32).max)
    n_rows = _KMEANS_ROWS_PER_CELL * n_cells
    if len(Z) > n_rows:
        rows = np.sort(random_state.choice(len(Z), n_rows, replace=False))
        Z = Z[rows]
        sample_weight = None if sample_weight is None else sample_weight[rows]
    kmeans = KMeans(n_cells, n_init=1, max_iter=_KMEANS_ITER, random_state=seed)
    return kmeans.fit(Z, sample_weight=sample_weight).cluster_centers_


def regression_cells(Z, centres, n_cells, *, random_state, sample_weight=None):
    """Centres of the regression cells: the mixture's, or ``n_cells`` k-means ones.

    A cell is worth splitting while the halves still have enough pairs to fit
    the top degree (see :func:`n_regression_cells`); with no more than the
    mixture's components the components' means are the centres. Finer cells
    follow a curve whose bends a low degree cannot (the cap on the degree
    falls with the dimension).

    Returns
    -------
    cells : ndarray of shape (n_cells, d)
    """
    if n_cells <= len(centres):
        return centres
    return _kmeans_centres(Z, n_cells, random_state=random_state,
                           sample_weight=sample_weight)


def finer_cells(Z, cells, baseline, *, n_rows, sample_weight, random_state):
    """Double the cells (at most ``_CELL_DOUBLINGS`` times) while their mixture wins.

    ``baseline`` is the mixture of ``cells``. Twice as many k-means cells
    replace them when their mixture beats it on held-out rows (the test of
    :func:`cells_beat_components`), up to a tenth of the rows. The pairs'
    count sets the cells for the top degree's regression; a curve that bends
    more than the cells' Gaussians follow gains from finer ones even where
    the held-out choice then falls back to a lower degree.

    Returns
    -------
    cells : ndarray of shape (n_cells, d)
    baseline : MixtureBaseline
    """
    for _ in range(_CELL_DOUBLINGS):
        if 2 * len(cells) > int(min(len(Z), n_rows)) // 10:
            break
        finer = _kmeans_centres(Z, 2 * len(cells), random_state=random_state,
                                sample_weight=sample_weight)
        if not cells_beat_components(Z, finer, baseline, sample_weight=sample_weight,
                                     random_state=random_state):
            break
        cells, baseline = finer, cell_mixture(Z, finer, sample_weight)
    return cells, baseline



def fit_baseline(Z, n_components, random_state, sample_weight=None):
    """The warm start, refreshed by full-covariance EM on all of Z.

    The warm start's posteriors give one M-step with full covariances, then
    ``_EM_STEPS`` EM iterations (weighted with ``sample_weight``) on all rows;
    with one component the M-step alone (the data's mean and covariance).

    Returns
    -------
    baseline : MixtureBaseline
        Its means are the centres (the components).
    variance : float
        The warm start's pooled variance (see :func:`warm_start`).
    """
    w = sample_weight
    resp, variance = warm_start(Z, n_components, random_state, w)
    baseline = fit_mixture_baseline(Z, resp if w is None else resp * w[:, np.newaxis])
    if n_components > 1:
        baseline = refreshed(Z, baseline, max_iter=_EM_STEPS, sample_weight=w)
    return baseline, variance


def fit_cells(Z, baseline, *, n_noise_draws, n_terms, random_state, sample_weight=None):
    """Regression cells finer than the components, and the baseline to use with them.

    The cells are :func:`regression_cells` for ``n_noise_draws`` pairs per
    row and ``n_terms`` monomials of the top degree. If there are more of
    them than components and their mixture wins the held-out test of
    :func:`cells_beat_components`, it replaces the components' as the
    baseline, and :func:`finer_cells` may double them; otherwise the cells
    are the components' means and the baseline is unchanged.

    Returns
    -------
    cells : ndarray of shape (n_cells, d)
    baseline : MixtureBaseline
    """
    w = sample_weight
    centres = baseline.means
    n_rows = len(Z) if w is None else w.sum()
    n_cells = n_regression_cells(n_rows, n_noise_draws, n_terms, n_distinct=len(Z))
    cells = regression_cells(Z, centres, n_cells, random_state=random_state, sample_weight=w)
    if len(cells) > len(centres) and cells_beat_components(
            Z, cells, baseline, sample_weight=w, random_state=random_state):
        baseline = cell_mixture(Z, cells, w)
        return finer_cells(Z, cells, baseline, n_rows=n_rows, sample_weight=w,
                           random_state=random_state)
    return centres, baseline
