"""EM with missing coordinates (Ghahramani & Jordan 1994): the E-step on each
row's observed marginal, the M-step from the missing part's conditional moments.

A row ``x`` with observed coordinates ``o`` and missing ``m`` has, under
component k with precision ``P = Sigma^{-1}``, the conditional law::

    x_m | x_o, k  ~  N(mu_m - P_mm^{-1} P_mo (x_o - mu_o),  P_mm^{-1})

(``P_mm^{-1}`` is the Schur complement ``Sigma_mm - Sigma_mo Sigma_oo^{-1}
Sigma_om``) and the observed marginal ``N(x_o; mu_o, Sigma_oo)``. With
``e`` the offset ``x - mu`` whose missing entries are zero and ``u = P e``,
both come from q x q systems (q = |m|), not p x p ones::

    e_o^T Sigma_oo^{-1} e_o = e^T P e - u_m^T P_mm^{-1} u_m
    log det Sigma_oo        = log det Sigma + log det P_mm

so the E-step costs the complete-data products plus a Cholesky factor of
``P_mm`` per missingness pattern and component. The M-step takes the
expected sufficient statistics: the rows completed by each component's
conditional mean, and the conditional covariances ``P_mm^{-1}`` weighted by
the posteriors (:meth:`._covariance.CovarianceType.expected_second_statistic`),
then the covariance type's own M-step. Rows are grouped by how many and which
coordinates are missing, so each pattern's factor is computed once per pass;
complete rows take the ordinary E-step and statistics, and the EM loop is
:func:`._em.iterate`, unchanged.

Missing coordinates are NaN in the (standardised) rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from .._numerics._fastops import column_sums
from .._numerics._small_spd import inverse_and_log_det
from ._covariance import CovarianceType, Statistics, floored
from ._em import (
    InMemoryRows,
    LikelihoodResult,
    posteriors,
    run_statistics_phase,
    weighted_posteriors,
)
from ._mixture import Mixture
from ._prior import PSEUDO_ROWS, CovariancePrior, column_variances

# Entries of a block's largest temporaries, (K, n_b, d) or (K, n_b, q, q):
# 2**17 doubles (1 MiB) stay in the cache (2 MiB of L2 here); 2**21 took a
# full pass's conditional moments from 53-60 to 88 ms (d = 10, K = 4, 10^5
# rows, 30% missing).
_BLOCK_ENTRIES = 2**17


class PatternGroup(NamedTuple):
    """The rows with ``q`` coordinates missing, by missingness pattern."""

    rows: np.ndarray  # (n_q,) indices of the rows
    pattern: np.ndarray  # (n_q,) each row's pattern, an index into missing
    missing: np.ndarray  # (G_q, q) the missing coordinates of each pattern


class MissingPatterns(NamedTuple):
    """Rows grouped by which coordinates are missing (computed once per fit)."""

    n_samples: int
    complete: np.ndarray  # indices of the rows with nothing missing
    groups: list  # of PatternGroup, by increasing q

    @property
    def has_missing(self) -> bool:
        return bool(self.groups)


def missing_patterns(X: np.ndarray) -> MissingPatterns:
    """The missingness patterns of X (NaN entries), shape (n_samples, n_features)."""
    mask = np.isnan(X)
    counts = mask.sum(axis=1)
    groups = []
    for q in np.unique(counts[counts > 0]):
        rows = np.flatnonzero(counts == q)
        # Patterns as byte strings: np.unique over rows of booleans
        # (axis=0) costs 15x more.
        packed = np.ascontiguousarray(np.packbits(mask[rows], axis=1))
        keys = packed.view(f"S{packed.shape[1]}").ravel()
        _, first, pattern = np.unique(keys, return_index=True, return_inverse=True)
        missing = np.nonzero(mask[rows[first]])[1].reshape(len(first), int(q))
        groups.append(PatternGroup(rows, pattern.ravel(), missing))
    return MissingPatterns(len(X), np.flatnonzero(counts == 0), groups)


class Conditional(NamedTuple):
    """One block of incomplete rows under every component."""

    rows: np.ndarray  # (n_b,) indices of the rows
    log_gaussian: np.ndarray  # (n_b, K) log N(x_o; mu_ko, Sigma_k,oo)
    offsets: np.ndarray  # (K, n_b, d) E[x | x_o, k] - mu_k
    # (K, G, q, q) Cov[x_m | x_o, k] of each pattern; (1, G, q, q) where
    # the covariance type shares one matrix between the components.
    covariances: np.ndarray
    pattern: np.ndarray  # (n_b,) each row's pattern
    group: int  # the rows' PatternGroup, an index into MissingPatterns.groups


def conditionals(X: np.ndarray, patterns: MissingPatterns, params: Mixture,
                 model: CovarianceType) -> Iterator[Conditional]:
    """The observed marginals and conditional moments of the incomplete rows
    of X, in blocks (see the module's docstring).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        NaN where missing.
    patterns : MissingPatterns
        Of X.
    params : Mixture
        In X's units.
    model : CovarianceType

    Yields
    ------
    Conditional
    """
    n_components, n_features = params.means.shape
    chol = params.precisions_cholesky
    precisions = model.precision_matrices(chol, n_components, n_features)
    if model.is_shared:  # one P_mm per pattern, not one per component
        precisions = precisions[:1]
    log_det = model.log_det_cholesky(chol, n_features)
    for index, group in enumerate(patterns.groups):
        q = group.missing.shape[1]
        covariances, for_shift, log_det_mm = _pattern_covariances(precisions, group.missing)
        step = max(1, _BLOCK_ENTRIES // (n_components * max(q * q, n_features)))
        for start in range(0, len(group.rows), step):
            block = slice(start, start + step)
            rows, pattern = group.rows[block], group.pattern[block]
            # The missing entries' flat indices in an (n_b, d) block, one
            # row of them per missing coordinate: gathers and scatters on
            # them cost a fraction of put/take_along_axis's.
            entries = (np.arange(len(rows)) * n_features
                       + group.missing[pattern].T)  # (q, n_b)
            # Laid out (K, n_b, d): each component's products are one BLAS
            # call. The missing entries are zeroed in the (n_b, d) rows and
            # by a mask, not scattered in the (K, n_b, d) offsets (0.6x).
            values = np.take(X, rows, axis=0)  # 0.5x X[rows]
            observed = np.ones_like(values)
            values.reshape(-1)[entries] = 0.0
            observed.reshape(-1)[entries] = 0.0
            offsets = values - params.means[:, np.newaxis, :]
            offsets *= observed
            flat_offsets = offsets.reshape(n_components, -1)
            u = np.matmul(offsets, precisions)  # P_k e (P symmetric)
            # (K, q, n_b); np.take costs 0.4x the fancy index.
            u_m = np.take(u.reshape(n_components, -1), entries, axis=1)
            shift = _shift(for_shift, pattern, u_m)
            # e^T P e summed by a product with ones in u's memory (einsum's
            # sum over the d entries of a row cost 3x).
            u *= offsets
            distances = u @ np.ones(n_features, dtype=u.dtype)
            distances -= np.einsum("kqn,kqn->kn", u_m, shift)
            np.maximum(distances, 0.0, out=distances)  # rounding below zero
            log_gaussian = (-0.5 * ((n_features - q) * math.log(2 * math.pi) + distances.T)
                            + log_det - 0.5 * log_det_mm[:, pattern].T)
            flat_offsets[:, entries] = -shift
            yield Conditional(rows, log_gaussian, offsets, covariances, pattern, index)


# Most missing coordinates for which each pattern's conditional covariance
# is computed entry by entry across the patterns (:mod:`.._numerics.
# _small_spd`; 0.43 against LAPACK's 0.80 ms for 4 x 120 matrices at q = 7,
# equal at q = 8), and for which the conditional means' shift gathers every
# row's covariance entries at once and sums them by einsum rather than by one
# small matmul per row and component (K = 4, blocks of 2**17 entries: 0.12
# against 0.30 ms at q = 6, 0.13 against 0.16 at q = 9, 0.13 against 0.10 at
# q = 12; against the former sums entry by entry, 0.11 against 0.20 at q = 3).
_ENTRYWISE_INVERSE_MAX_Q = 7
_GATHERED_SHIFT_MAX_Q = 9


def _pattern_covariances(precisions: np.ndarray, missing: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each pattern's conditional covariance ``P_mm^{-1}`` and ``log det P_mm``.

    Parameters
    ----------
    precisions : ndarray of shape (K, d, d)
    missing : ndarray of shape (G, q)
        The missing coordinates of each pattern.

    Returns
    -------
    covariances : ndarray of shape (K, G, q, q)
    for_shift : ndarray
        The same as :func:`_shift` reads them: laid out (q, q, K, G) for its
        gathered sums, else contiguous (K, G, q, q).
    log_det_mm : ndarray of shape (K, G)
    """
    q = missing.shape[1]
    components = np.arange(len(precisions))[:, None, None, None]
    p_mm = precisions[components, missing[None, :, :, None], missing[None, :, None, :]]
    by_entry = None
    if q <= _ENTRYWISE_INVERSE_MAX_Q:
        by_entry, log_det_mm = inverse_and_log_det(p_mm)
        if not np.all(np.isfinite(log_det_mm)):
            by_entry = None
    if by_entry is None:
        # LAPACK, which also says where a P_mm is not positive definite.
        factor = np.linalg.cholesky(p_mm)
        inverse_factor = np.linalg.solve(factor, np.broadcast_to(np.eye(q), p_mm.shape))
        covariances = np.swapaxes(inverse_factor, -1, -2) @ inverse_factor
        log_det_mm = 2.0 * np.sum(np.log(np.diagonal(factor, axis1=-2, axis2=-1)), axis=-1)
        by_entry = np.moveaxis(covariances, (2, 3), (0, 1))
    covariances = np.moveaxis(by_entry, (0, 1), (2, 3))
    if q <= _GATHERED_SHIFT_MAX_Q:
        return covariances, np.ascontiguousarray(by_entry), log_det_mm
    return covariances, np.ascontiguousarray(covariances), log_det_mm


def _shift(covariances: np.ndarray, pattern: np.ndarray, u_m: np.ndarray) -> np.ndarray:
    """``Cov[x_m | x_o, k] u_m`` for each row, shape (K, q, n_b), from the
    conditional covariances (:func:`_pattern_covariances`' ``for_shift``,
    of K or one shared component) and ``u_m`` (K, q, n_b)."""
    q = u_m.shape[1]
    if q > _GATHERED_SHIFT_MAX_Q:
        product = np.matmul(covariances[:, pattern], np.swapaxes(u_m, 1, 2)[..., np.newaxis])
        return np.swapaxes(product[..., 0], 1, 2)
    # Every row's (q, q) entries in one gather, (q, q, K or 1, n_b).
    return np.einsum("abkn,kbn->kan", np.take(covariances, pattern, axis=3), u_m)


def observed_posteriors(X: np.ndarray, patterns: MissingPatterns, params: Mixture,
                        model: CovarianceType) -> tuple[np.ndarray, np.ndarray]:
    """The E-step on the observed coordinates: the log-density of each row's
    observed part and the posteriors given it (:func:`._em.posteriors` where
    nothing is missing).

    Returns
    -------
    log_prob : ndarray of shape (n_samples,)
    resp : ndarray of shape (n_samples, n_components)
    """
    log_prob = np.empty(len(X), dtype=X.dtype)
    resp = np.empty((len(X), len(params.weights)), dtype=X.dtype)
    complete = patterns.complete
    if len(complete):
        log_prob[complete], resp[complete] = posteriors(X[complete], params, model)
    for block in conditionals(X, patterns, params, model):
        log_prob[block.rows], resp[block.rows] = weighted_posteriors(block.log_gaussian,
                                                                     params.weights)
    return log_prob, resp


def observed_statistics(X: np.ndarray, patterns: MissingPatterns, params: Mixture,
                        model: CovarianceType, sample_weight: np.ndarray | None = None,
                        X_complete: np.ndarray | None = None,
                        design: ElementwiseDesign | None = None) -> Statistics:
    """One pass: the observed-data E-step and the expected sufficient
    statistics of the covariance type (standardised units).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    patterns : MissingPatterns
    params : Mixture
    model : CovarianceType
    sample_weight : ndarray of shape (n_samples,), default=None
    X_complete : ndarray, default=None
        ``X[patterns.complete]``, if the caller keeps it.
    design : ElementwiseDesign, default=None
        ``elementwise_design(X, patterns)``, if the caller keeps it (read
        by diagonal types only).

    Returns
    -------
    Statistics
        ``log_likelihood`` is the (weighted) sum of the observed parts'
        log-densities.
    """
    stats = None
    complete = patterns.complete
    if len(complete):
        rows = X[complete] if X_complete is None else X_complete
        weights = None if sample_weight is None else sample_weight[complete]
        log_prob, resp = posteriors(rows, params, model)
        stats = model.statistics(rows, resp, log_prob, weights)
    if model.is_elementwise and patterns.has_missing:
        if design is None:
            design = elementwise_design(X, patterns)
        part = _elementwise_statistics(design, params, model, sample_weight)
        return part if stats is None else model.merged(stats, part)
    # Each pattern's conditional covariance counts with its rows' summed
    # posteriors: summed per group, added once per group.
    pattern_mass: dict[int, np.ndarray] = {}
    covariances: dict[int, np.ndarray] = {}
    for block in conditionals(X, patterns, params, model):
        log_prob, resp = weighted_posteriors(block.log_gaussian, params.weights)
        weights = None if sample_weight is None else sample_weight[block.rows]
        if weights is not None:
            resp = resp * weights[:, np.newaxis]
        part = _completed_statistics(block, resp, log_prob, params, model, weights)
        stats = part if stats is None else model.merged(stats, part)
        mass = _pattern_mass(block, resp, len(patterns.groups[block.group].missing))
        pattern_mass[block.group] = pattern_mass.get(block.group, 0.0) + mass
        covariances[block.group] = block.covariances
    assert stats is not None  # some rows are incomplete, or X_complete holds rows
    if pattern_mass:
        n_features = X.shape[1]
        conditional = np.sum([_placed(mass, covariances[g], patterns.groups[g].missing,
                                      n_features)
                              for g, mass in pattern_mass.items()], axis=0)
        stats = model.merged(stats, _conditional_statistics(conditional, params, model))
    return stats


class ElementwiseDesign(NamedTuple):
    """The incomplete rows as diagonal types' pass reads them (computed
    once per fit): with the coordinates independent given the component,
    every sum over the observed entries is a product with ``values``."""

    rows: np.ndarray  # (n_m,) indices of the incomplete rows
    # (n_m, 3 d): [x^2, x, 1] on the observed entries, zero on the missing.
    values: np.ndarray
    n_observed: np.ndarray  # (n_m,) observed entries of each row


def elementwise_design(X: np.ndarray, patterns: MissingPatterns) -> ElementwiseDesign:
    """The :class:`ElementwiseDesign` of the incomplete rows of X."""
    rows = np.concatenate([group.rows for group in patterns.groups])
    Z = X[rows]
    observed = ~np.isnan(Z)
    Z = np.where(observed, Z, 0.0)
    values = np.concatenate([Z * Z, Z, observed.astype(Z.dtype)], axis=1)
    return ElementwiseDesign(rows, values, observed.sum(axis=1))


def _elementwise_statistics(design: ElementwiseDesign, params: Mixture,
                            model: CovarianceType,
                            sample_weight: np.ndarray | None) -> Statistics:
    """:func:`observed_statistics` of the incomplete rows for diagonal
    covariances, where the coordinates are independent given the component:
    the observed marginal is the product over the observed coordinates, a
    missing entry's conditional law is its component's ``N(mu_kj, var_kj)``.
    The E-step is then one product of the (n_m, 3d) design with a (3d, K)
    array and the statistics one product of the posteriors with the design
    (no pattern groups): the general pass costs 10-20x the complete-data
    one here."""
    n_components, n_features = params.means.shape
    precisions = np.diagonal(model.precision_matrices(params.precisions_cholesky,
                                                      n_components, n_features),
                             axis1=1, axis2=2)  # (K, d)
    means = params.means
    # log N(x_o; mu_ko, diag) = [x^2, x, 1] . [-p/2, mu p, (log p - mu^2 p)/2]
    # summed over the observed entries, less |o| log(2 pi) / 2.
    coefficients = np.concatenate([-0.5 * precisions, means * precisions,
                                   0.5 * (np.log(precisions) - means * means * precisions)],
                                  axis=1)  # (K, 3d)
    log_gaussian = (design.values @ coefficients.T
                    - (0.5 * math.log(2 * math.pi)) * design.n_observed[:, np.newaxis])
    log_prob, resp = weighted_posteriors(log_gaussian, params.weights)
    weights = None if sample_weight is None else sample_weight[design.rows]
    if weights is not None:
        resp = resp * weights[:, np.newaxis]
    sums = resp.T @ design.values  # (K, 3d)
    observed_second, observed_first = sums[:, :n_features], sums[:, n_features:2 * n_features]
    mass = column_sums(resp)
    missing_mass = mass[:, np.newaxis] - sums[:, 2 * n_features:]  # (K, d)
    first = observed_first + means * missing_mass
    second = observed_second + (means * means + 1.0 / precisions) * missing_mass
    weight = float(len(design.rows) if weights is None else np.sum(weights))
    log_likelihood = float(np.sum(log_prob if weights is None else weights * log_prob))
    return Statistics(mass, first, second, log_likelihood, weight)


def _completed_statistics(block: Conditional, resp: np.ndarray, log_prob: np.ndarray,
                          params: Mixture, model: CovarianceType,
                          sample_weight: np.ndarray | None) -> Statistics:
    """The statistics of a block of incomplete rows completed by each
    component's conditional means, ``resp`` already weighted; their
    conditional covariances are added per group (:func:`_conditional_statistics`)."""
    n_components, n_features = params.means.shape
    mass = column_sums(resp)
    # The completions' weighted sums from their offsets to the current means.
    offsets_sum = np.matmul(resp.T[:, np.newaxis, :], block.offsets)[:, 0]
    first = offsets_sum + mass[:, np.newaxis] * params.means
    no_conditional = np.zeros((n_components, n_features, n_features), dtype=resp.dtype)
    second = model.expected_second_statistic(
        block.offsets, resp, params.means,
        params.means + offsets_sum / floored(mass)[:, np.newaxis], no_conditional)
    weight = float(len(log_prob) if sample_weight is None else np.sum(sample_weight))
    log_likelihood = float(np.sum(log_prob if sample_weight is None
                                  else sample_weight * log_prob))
    return Statistics(mass, first, second, log_likelihood, weight)


def _pattern_mass(block: Conditional, resp: np.ndarray, n_patterns: int) -> np.ndarray:
    """The (weighted) posteriors of the block's rows summed by pattern,
    shape (K, G), or (1, G) summed over the components where they share
    one conditional covariance."""
    n_components = resp.shape[1]
    if len(block.covariances) == 1:
        return np.bincount(block.pattern, weights=resp.sum(axis=1),
                           minlength=n_patterns)[np.newaxis]
    # One bincount over (pattern, component) pairs.
    keys = block.pattern[:, np.newaxis] * n_components + np.arange(n_components)
    mass = np.bincount(keys.ravel(), weights=resp.ravel(), minlength=n_patterns * n_components)
    return mass.reshape(n_patterns, n_components).T


def _placed(pattern_mass: np.ndarray, covariances: np.ndarray, missing: np.ndarray,
            n_features: int) -> np.ndarray:
    """``sum_g pattern_mass[k, g] covariances[k, g]`` placed in the missing
    coordinates' rows and columns of a (K', d, d) array (K' = 1 where the
    covariance is shared)."""
    n_components = len(covariances)
    # Flat indices of (k, missing_i, missing_j) in a (K', d, d) array: a
    # one-dimensional bincount (np.add.at on broadcast indices is 10x slower).
    flat = (np.arange(n_components)[:, None, None, None] * n_features**2
            + missing[None, :, :, None] * n_features + missing[None, :, None, :])
    values = pattern_mass[:, :, None, None] * covariances
    placed = np.bincount(np.broadcast_to(flat, values.shape).ravel(), weights=values.ravel(),
                         minlength=n_components * n_features**2)
    return placed.reshape(n_components, n_features, n_features)


def _conditional_statistics(conditional: np.ndarray, params: Mixture,
                            model: CovarianceType) -> Statistics:
    """The conditional covariances' part of the statistics (no rows, no mass):
    the type's second statistic of ``conditional`` (K or 1, d, d) alone."""
    n_components, n_features = params.means.shape
    dtype = params.means.dtype
    if len(conditional) != n_components:  # shared: the type sums over components
        conditional = np.concatenate(
            [conditional, np.zeros((n_components - 1, n_features, n_features))])
    zero = np.zeros(n_components, dtype=dtype)
    second = model.expected_second_statistic(
        np.empty((n_components, 0, n_features), dtype=dtype),
        np.empty((0, n_components), dtype=dtype), params.means, params.means,
        conditional.astype(dtype))
    return Statistics(zero, np.zeros_like(params.means), second, 0.0, 0.0)


def completed(X: np.ndarray, patterns: MissingPatterns, params: Mixture,
              model: CovarianceType,
              random_state: np.random.RandomState | None = None) -> np.ndarray:
    """X with its missing entries filled: by the mixture's conditional mean
    ``E[x_m | x_o]`` (``random_state=None``), or by a draw from the
    conditional law (a component from the posteriors given ``x_o``, then
    ``x_m`` from that component's conditional Gaussian).

    Returns
    -------
    ndarray of shape (n_samples, n_features)
        A new array; the observed entries are X's.
    """
    mean, draw = completions(X, patterns, params, model, random_state=random_state)
    return mean if draw is None else draw


def completions(X: np.ndarray, patterns: MissingPatterns, params: Mixture,
                model: CovarianceType, random_state: np.random.RandomState | None = None
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """X filled by the conditional mean and, with ``random_state``, by a
    conditional draw (see :func:`completed`), from one pass of
    :func:`conditionals`.

    Returns
    -------
    mean : ndarray of shape (n_samples, n_features)
    draw : ndarray of shape (n_samples, n_features) or None
        None without ``random_state``.
    """
    filled = X.copy()
    drawn = None if random_state is None else X.copy()
    for block in conditionals(X, patterns, params, model):
        _, resp = weighted_posteriors(block.log_gaussian, params.weights)
        missing = patterns.groups[block.group].missing[block.pattern]  # (n_b, q)
        means = np.take_along_axis(block.offsets + params.means[:, np.newaxis, :],
                                   missing[np.newaxis], axis=2)  # (K, n_b, q)
        _put_rows(filled, block.rows, missing, np.einsum("nk,knq->nq", resp, means))
        if random_state is None:
            continue
        # A component per row by inversion of its posteriors, then the
        # component's conditional Gaussian.
        cumulative = np.cumsum(resp, axis=1)
        draws = random_state.uniform(size=(len(resp), 1)) * cumulative[:, -1:]
        component = np.minimum((cumulative < draws).sum(axis=1), resp.shape[1] - 1)
        rows = np.arange(len(resp))
        shared = len(block.covariances) == 1
        factor = np.linalg.cholesky(
            block.covariances[0 if shared else component, block.pattern])
        noise = random_state.standard_normal(missing.shape)
        _put_rows(drawn, block.rows, missing,
                  means[component, rows] + np.einsum("nij,nj->ni", factor, noise))
    return filled, drawn


def _put_rows(X, rows, missing, values):
    """``X[rows]``'s entries at ``missing`` (n_b, q) set to ``values`` (n_b, q), in place."""
    target = X[rows]
    np.put_along_axis(target, missing, values, axis=1)
    X[rows] = target


class MissingRows(InMemoryRows):
    """Rows held in memory with missing entries (NaN): the final phase is EM
    on the observed coordinates; the starts read :attr:`imputed`, the rows
    with each missing entry at its column's mean (zero in standardised
    units)."""

    def __init__(self, array: np.ndarray, sample_weight: np.ndarray | None = None,
                 patterns: MissingPatterns | None = None,
                 variances: np.ndarray | None = None,
                 pseudo_rows: float = PSEUDO_ROWS) -> None:
        super().__init__(array, sample_weight)
        self.patterns = missing_patterns(array) if patterns is None else patterns
        # The prior's scatter comes from all the rows, subsets included.
        self.column_variances = (column_variances(array, sample_weight) if variances is None
                                 else variances)
        self.pseudo_rows = pseudo_rows
        self._imputed = np.where(np.isnan(array), 0.0, array).astype(array.dtype, copy=False)
        self._complete = array[self.patterns.complete]
        self._design: ElementwiseDesign | None = None

    @property
    def imputed(self) -> np.ndarray:
        return self._imputed

    @property
    def observed_features(self) -> float:
        """Observed entries per row, on average (weighted by the rows' weights)."""
        counts = np.sum(~np.isnan(self.array), axis=1)
        return float(np.average(counts, weights=self.sample_weight))

    def subset(self, rows: np.ndarray) -> InMemoryRows:
        return rows_of(self.array[rows],
                       None if self.sample_weight is None else self.sample_weight[rows],
                       variances=self.column_variances, pseudo_rows=self.pseudo_rows)

    def cold_start_rows(self, rows: np.ndarray) -> np.ndarray:
        """The rows of the subsample ``rows`` the cold start reads: its
        complete rows when they are at least half of it (then a sample of
        the data's law where values are missing completely at random),
        otherwise the subsample with missing entries at their columns'
        means; the final phase on the observed entries corrects either."""
        complete = ~np.any(np.isnan(self.array[rows]), axis=1)
        if 2 * np.count_nonzero(complete) >= len(rows):
            return self.array[rows[complete]]
        return self.imputed[rows]

    def posteriors(self, params: Mixture,
                   model: CovarianceType) -> tuple[np.ndarray, np.ndarray]:
        return observed_posteriors(self.array, self.patterns, params, model)

    def run_phase(self, params: Mixture, model: CovarianceType,
                  **kwargs: Any) -> LikelihoodResult:
        """The EM loop (:func:`._em.iterate`) on the observed-data likelihood
        with :mod:`._prior`'s pseudo-row where an entry is missing (keywords
        as :func:`._em.run_likelihood_phase`'s)."""
        if model.is_elementwise and self.patterns.has_missing and self._design is None:
            self._design = elementwise_design(self.array, self.patterns)

        def pass_statistics(current: Mixture) -> Statistics:
            return observed_statistics(self.array, self.patterns, current, model,
                                       self.sample_weight, X_complete=self._complete,
                                       design=self._design)

        prior = (CovariancePrior.of(self.column_variances, len(params.weights),
                                    self.pseudo_rows)
                 if self.patterns.has_missing else None)
        return run_statistics_phase(pass_statistics, params, model, prior=prior, **kwargs)


def rows_of(array: np.ndarray, sample_weight: np.ndarray | None = None,
            **kwargs: Any) -> InMemoryRows:
    """Rows in memory: :class:`MissingRows` where an entry is NaN, else
    :class:`._em.InMemoryRows` (the complete-data path, unchanged)."""
    if has_nan(array):
        return MissingRows(array, sample_weight, **kwargs)
    return InMemoryRows(array, sample_weight)


def refuse_unobserved(columns: np.ndarray, rows: np.ndarray) -> None:
    """ValueError where a column or a row of X has no observed entry
    (nothing to fit it to).

    Parameters
    ----------
    columns : ndarray of int
        Indices of the columns of X missing (NaN) in every row.
    rows : ndarray of int
        Indices of the rows of X with every feature missing.
    """
    if len(columns):
        raise ValueError(
            f"{len(columns)} feature(s) of X are missing (NaN) in every row (column(s) "
            f"{columns[:10].tolist()}): there is nothing to fit them to. Drop them."
        )
    if len(rows):
        raise ValueError(
            f"{len(rows)} row(s) of X have every feature missing (NaN) (row(s) "
            f"{rows[:10].tolist()}): there is nothing to fit them to. Drop them."
        )


def check_missing(X: np.ndarray) -> bool:
    """Whether X has missing entries (NaN); ValueError where a row or a
    column has no observed entry (nothing to fit it to)."""
    if not has_nan(X):
        return False
    missing = np.isnan(X)
    refuse_unobserved(np.flatnonzero(missing.all(axis=0)),
                      np.flatnonzero(missing.all(axis=1)))
    return True


def has_nan(X: np.ndarray) -> bool:
    """Whether X has a NaN entry; a sum first, so that complete data cost
    one reduction and no boolean array."""
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.sum(X)
    return bool(np.isnan(total)) and bool(np.isnan(X).any())
