"""Covariance types as classes behind one registry.

A covariance type is everything a Gaussian mixture needs to know about how its
covariances are shaped: the shape of ``covariances_`` (GaussianMixture's), the
check of a user's precisions, the precisions' Cholesky factors and their
log-determinants, the log-densities of the E-step, the sufficient statistics
of the M-step and the M-step from them, the parameter count, sampling factors,
the positive-definiteness check of the fitted attributes, and the conversions
the DDPM phases use (unconstrained coordinates, the noised covariances
``a^2 Sigma + s^2 I``, a spherical start in this type).

Every function below the fitting pipelines receives one of these objects (a
type with its ``reg_covar``), never a type's name. A new type is one subclass
and one :func:`register_covariance_type` call (``tests/test_covariance_types.py``
registers a tied-diagonal type outside the package and fits it).

========== ==================== ===============================================
type       ``covariances_``     model
========== ==================== ===============================================
full       (K, d, d)            a matrix per component
tied       (d, d)               one matrix shared by all components
diag       (K, d)               a diagonal matrix per component
spherical  (K,)                 one variance per component
identity   (K,)                 the paper's model: unit variances in the data's
                                units, fixed; reported like "spherical"
========== ==================== ===============================================

The E-step's and M-step's arithmetic is GaussianMixture's, operation for
operation, so that fits agree with it to rounding (tests compare to 1e-7).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Set
from dataclasses import dataclass, replace
from typing import Any, ClassVar, NamedTuple, cast

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
from scipy.linalg import get_lapack_funcs
from sklearn.utils import check_array

from .._numerics._fastops import TINY, column_sums, row_sums
from ._prior import CovariancePrior



def floored(mass):
    """Each component's mass plus GaussianMixture's floor (ten ulps of one in
    the posteriors' precision), which the M-step divides by."""
    return mass + 10 * np.finfo(mass.dtype).eps

# Floor of a covariance's part beyond reg_covar, as a share of reg_covar, in
# the DDPM coordinates (smaller is invisible next to it, and a collapsing
# factor would overflow the matrix steps).
FLOOR_OF_REG = 1e-8

_ILL_DEFINED = (
    "Fitting the mixture model failed because some components have "
    "ill-defined empirical covariance (for instance caused by singleton "
    "or collapsed samples). Try to decrease the number of components, "
    "increase reg_covar, or scale the input data."
)


class Statistics(NamedTuple):
    """Sufficient statistics of one E-step over some rows (standardised units).

    ``second`` is the type's own (:meth:`CovarianceType.second_statistic`):
    the scatter around each component's mean (full), the rows' weighted
    second moment (tied), or the posterior-weighted squares (diag, spherical).
    Two sets of rows combine with :meth:`CovarianceType.merged`.
    """

    mass: np.ndarray  # (K,) sum of the (weighted) posteriors
    first: np.ndarray  # (K, d) posterior-weighted sums of the rows
    second: np.ndarray  # the type's second-order statistic
    log_likelihood: float  # (weighted) sum of the rows' log-densities
    weight: float  # number of rows (sum of their weights)


@dataclass(frozen=True)
class CovarianceType:
    """A covariance type with its ``reg_covar`` (added to every covariance's
    diagonal, in the units of the data it is applied to).

    Subclasses set the class attributes and implement the methods that raise
    ``NotImplementedError`` here.
    """

    reg_covar: float = 1e-6

    name: ClassVar[str]
    #: GaussianMixture's name of the attributes' layout.
    sklearn_type: ClassVar[str]
    #: Covariances fixed, not learned (only the identity model).
    is_fixed: ClassVar[bool] = False
    #: One variance per component.
    is_spherical: ClassVar[bool] = False
    #: Covariances held as arrays of variances (no matrices).
    is_elementwise: ClassVar[bool] = False
    #: One covariance matrix shared by every component (tied): the DDPM
    #: phases broadcast it to the components and sum their gradients.
    is_shared: ClassVar[bool] = False

    # ------------------------------------------------------------ naming
    @property
    def covariance_type(self) -> str:
        """The type's name, as ``DDPMGaussianMixture(covariance_type=...)`` takes it."""
        return self.name

    def with_reg(self, reg_covar: float) -> CovarianceType:
        """The same type with another ``reg_covar`` (e.g. in standardised units)."""
        return replace(self, reg_covar=float(reg_covar))

    def cold_type(self, single_level: bool) -> CovarianceType:
        """Type of the cold start's DDPM phases: one variance per component.
        The single-level estimator keeps the identity model throughout; the
        exact final phase fixes identity's covariances itself, so its cold
        start learns the variance (unit variances in standardised units can
        be 1e-16 or 1e16, which the power phase cannot resolve)."""
        if self.is_fixed and single_level:
            return self
        return SphericalCovariance(self.reg_covar)

    def pass_dtype(self, dtype: DTypeLike) -> DTypeLike:
        """Precision of the single-level estimator's passes: float32 for one
        variance per component (a pass costs 0.6-0.7x a float64 one, the data
        are standardised in float64 first and each block's statistics summed
        in float64: the same errors in ``bench_scaling.py fits``); ``dtype``
        for the types that resolve per-feature or full matrices."""
        return np.float32 if self.is_spherical else dtype

    # ------------------------------------------------------------- units
    @property
    def min_variance(self) -> float:
        """Smallest variance of a component in the data's units."""
        return 1.0 if self.is_fixed else float(self.reg_covar)

    def standardised_reg(self, scale: float) -> float:
        """reg_covar in standardised units (none for identity)."""
        # Divided twice: scale**2 may underflow where reg_covar / scale does not.
        return 0.0 if self.is_fixed else self.reg_covar / scale / scale

    def fixed_covariances(self, n_components: int, scale: float) -> np.ndarray | None:
        """The identity model's unit variances in standardised units, else None."""
        return None

    # ------------------------------------------------------ shapes, checks
    def shape(self, n_components: int, n_features: int) -> tuple:
        """Shape of ``covariances_`` (and ``precisions_init``)."""
        raise self._not_defined("shape")

    def check_precisions(self, precisions: ArrayLike, n_components: int,
                         n_features: int) -> np.ndarray:
        """A user's ``precisions_init``, checked as GaussianMixture checks it
        (shape, symmetry, positivity; its messages)."""
        shape = self.shape(n_components, n_features)
        checked = check_array(precisions, dtype=[np.float64, np.float32],
                              ensure_2d=False, allow_nd=len(shape) > 2)
        check_shape(checked, shape, f"{self.sklearn_type} precision")
        if self.is_elementwise:
            if np.any(checked <= 0.0):
                raise ValueError(f"'{self.sklearn_type} precision' should be positive")
            return checked
        for matrix in checked.reshape((-1,) + checked.shape[-2:]):
            if not (np.all(np.isclose(matrix, matrix.T))
                    and np.all(np.linalg.eigvalsh(matrix) > 0.0)):
                raise ValueError(f"'{self.sklearn_type} precision' should be symmetric, "
                                 "positive-definite")
        return checked

    def from_precisions(self, precisions: ArrayLike) -> np.ndarray:
        """Covariances from precisions in GaussianMixture's shapes."""
        array = np.asarray(precisions, dtype=float)
        return 1.0 / array if self.is_elementwise else np.linalg.inv(array)

    def n_parameters(self, n_components: int, n_features: int) -> int:
        """Free parameters, counted as GaussianMixture counts them: means,
        covariances (none for "identity") and K - 1 weights."""
        return (n_components * n_features + self.n_covariance_parameters(n_components,
                                                                          n_features)
                + n_components - 1)

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        raise self._not_defined("n_covariance_parameters")

    # ------------------------------------------- precisions and densities
    def precisions_cholesky(self, covariances: np.ndarray) -> np.ndarray:
        """Cholesky factors of the precisions (GaussianMixture's upper factor
        ``P = U U^T``); ValueError where a covariance is not positive definite."""
        raise self._not_defined("precisions_cholesky")

    def precisions(self, precisions_cholesky: np.ndarray) -> np.ndarray:
        """Precisions from their Cholesky factors (GaussianMixture's shapes)."""
        raise self._not_defined("precisions")

    def precision_matrices(self, precisions_cholesky: np.ndarray, n_components: int,
                           n_features: int) -> np.ndarray:
        """Every component's precision as a (d, d) matrix, shape (K, d, d)."""
        raise self._not_defined("precision_matrices")

    def log_det_cholesky(self, precisions_cholesky: np.ndarray, n_features: int) -> np.ndarray:
        """``log det`` of each component's precision factor, shape (K,) (or a
        scalar shared by all, tied)."""
        raise self._not_defined("log_det_cholesky")

    def squared_distances(self, X: np.ndarray, means: np.ndarray,
                          precisions_cholesky: np.ndarray) -> np.ndarray:
        """Mahalanobis distances squared, shape (n_samples, n_components): a
        new array, which :meth:`log_gaussian_prob` overwrites."""
        raise self._not_defined("squared_distances")

    def log_gaussian_prob(self, X: np.ndarray, means: np.ndarray,
                          precisions_cholesky: np.ndarray) -> np.ndarray:
        """``log N(x_i; mu_k, Sigma_k)``, shape (n_samples, n_components)."""
        n_features = X.shape[1]
        log_det = self.log_det_cholesky(precisions_cholesky, n_features)
        distances = self.squared_distances(X, means, precisions_cholesky)
        if (np.result_type(distances, log_det) != distances.dtype
                or not distances.flags.writeable):
            return -0.5 * (n_features * math.log(2 * math.pi) + distances) + log_det
        # The same numbers in the distances' memory (a fresh array is ours).
        distances += n_features * math.log(2 * math.pi)
        distances *= -0.5
        distances += log_det
        return distances

    # ------------------------------------------------------------ M-step
    def statistics(self, X: np.ndarray, resp: np.ndarray, log_prob: np.ndarray | None,
                   sample_weight: np.ndarray | None = None) -> Statistics:
        """Sufficient statistics of rows X with posteriors ``resp`` and
        log-densities ``log_prob`` (each row counting ``sample_weight`` times)."""
        if sample_weight is not None:
            resp = resp * sample_weight[:, np.newaxis]
        mass = resp.sum(axis=0)
        first = resp.T @ X
        second = self.second_statistic(X, resp, first / floored(mass)[:, np.newaxis],
                                       sample_weight)
        weight = float(len(X) if sample_weight is None else np.sum(sample_weight))
        if log_prob is None:
            log_likelihood = np.nan
        elif sample_weight is None:
            log_likelihood = float(np.sum(log_prob))
        else:
            log_likelihood = float(np.sum(sample_weight * log_prob))
        return Statistics(mass, first, second, log_likelihood, weight)

    def second_statistic(self, X: np.ndarray, resp: np.ndarray, means: np.ndarray,
                         sample_weight: np.ndarray | None) -> np.ndarray:
        """The type's second-order statistic (see :class:`Statistics`) of
        rows X with (weighted) posteriors ``resp`` and the M-step's means."""
        raise self._not_defined("second_statistic")

    def expected_second_statistic(self, offsets: np.ndarray, resp: np.ndarray,
                                  centres: np.ndarray, means: np.ndarray,
                                  conditional: np.ndarray) -> np.ndarray:
        """The type's second-order statistic of rows with missing entries
        (EM's expected statistic, :mod:`._missing`): component k sees the
        rows completed by its conditional means, ``centres[k] + offsets[k]``,
        and adds the conditional covariances. With nothing missing (the
        rows less ``centres``, ``conditional`` zero) it is
        :meth:`second_statistic`.

        Parameters
        ----------
        offsets : ndarray of shape (n_components, n_samples, n_features)
            The completed rows less ``centres`` (offsets from the current
            means are small: the statistics are formed without cancellation
            and without a (K, n, d) array of the completed rows).
        resp : ndarray of shape (n_samples, n_components)
            Posteriors, already multiplied by the rows' weights.
        centres : ndarray of shape (n_components, n_features)
        means : ndarray of shape (n_components, n_features)
            The M-step's means of these rows.
        conditional : ndarray of shape (n_components, n_features, n_features)
            ``sum_i resp_ik Cov[x_i | observed part of x_i, k]``.
        """
        raise self._not_defined("expected_second_statistic")

    def merged(self, a: Statistics, b: Statistics) -> Statistics:
        """The statistics of two sets of rows together (the additive ones add)."""
        return Statistics(a.mass + b.mass, a.first + b.first, a.second + b.second,
                          a.log_likelihood + b.log_likelihood, a.weight + b.weight)

    def m_step(self, stats: Statistics, fixed_covariances: np.ndarray | None = None,
               prior: CovariancePrior | None = None,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """EM's update from the statistics: weights, means, covariances
        (GaussianMixture's M-step; ``fixed_covariances`` for identity; with a
        ``prior``, the covariances that maximise the penalised objective)."""
        nk = floored(stats.mass)
        means = stats.first / nk[:, np.newaxis]
        covariances = self.covariances_from(stats, nk, means, fixed_covariances)
        if prior is not None and not self.is_fixed:
            covariances = self.with_prior(covariances, nk, prior)
        return nk / nk.sum(), means, covariances

    def with_prior(self, covariances: np.ndarray, nk: np.ndarray,
                   prior: CovariancePrior) -> np.ndarray:
        """The M-step's covariances under :class:`._prior.CovariancePrior`:
        the prior's pseudo-rows and scatter added to each covariance's rows
        (``reg_covar`` kept on the diagonal)."""
        mass, target = self.prior_mass(nk), self.prior_target(prior.scatter + self.reg_covar)
        return (mass * covariances + prior.pseudo_rows * target) / (mass + prior.pseudo_rows)

    def prior_log_density(self, precisions_cholesky: np.ndarray, n_components: int,
                          prior: CovariancePrior) -> float:
        """The log-density of :class:`._prior.CovariancePrior` at these
        covariances, ``reg_covar`` added to its scatter (as in :meth:`with_prior`)."""
        scatter = prior.scatter + self.reg_covar
        n_features = len(scatter)
        # log_det_cholesky is -log det Sigma / 2; the precisions' diagonals
        # give tr(D Sigma^{-1}) for a diagonal D.
        log_det = np.atleast_1d(self.log_det_cholesky(precisions_cholesky, n_features))
        precisions = self.precision_matrices(precisions_cholesky, n_components, n_features)
        traces = np.diagonal(precisions, axis1=1, axis2=2) @ scatter
        if self.is_shared:
            log_det, traces = log_det[:1], traces[:1]
        # log det D is a constant: a zero entry (reg_covar=0 and a constant
        # column) leaves it out rather than make every value -inf.
        stein = traces - 2.0 * log_det - np.sum(np.log(scatter[scatter > 0.0])) - n_features
        return float(-0.5 * prior.pseudo_rows * np.sum(stein))

    def prior_mass(self, nk: np.ndarray) -> np.ndarray:
        """The rows' mass behind each covariance, shaped to broadcast against
        the covariances."""
        raise self._not_defined("prior_mass")

    def prior_target(self, scatter: np.ndarray) -> np.ndarray:
        """A diagonal scatter (n_features,) as one covariance of the type."""
        raise self._not_defined("prior_target")

    def covariances_from(self, stats: Statistics, nk: np.ndarray, means: np.ndarray,
                         fixed_covariances: np.ndarray | None) -> np.ndarray:
        raise self._not_defined("covariances_from")

    # ---------------------------------------------------- fitted attributes
    def check_positive_definite(self, covariances: np.ndarray, precisions: np.ndarray,
                                dtype: DTypeLike) -> None:
        """Refuse fitted covariances or precisions that ``dtype`` cannot hold
        (a variance that underflows without reg_covar, or its inverse
        overflows), and matrices that are not positive definite in ``dtype``
        (at condition numbers beyond 1 / eps, where GaussianMixture refuses
        too)."""
        if not (np.all(np.isfinite(covariances)) and np.all(np.isfinite(precisions))):
            raise ValueError(
                f"The fitted covariances or precisions overflow or underflow "
                f"{np.dtype(dtype).name}: the spread of X is too large or too small for "
                "this covariance type. Rescale X or increase reg_covar."
            )
        if not self.is_elementwise:
            try:
                np.linalg.cholesky(np.asarray(covariances, dtype=dtype))
            except np.linalg.LinAlgError:
                raise ValueError(
                    "Fitting the mixture model failed because some components have "
                    "ill-defined empirical covariance (for instance caused by singleton "
                    "or collapsed samples): in the data's units it is not positive "
                    "definite. Try to decrease the number of components, increase "
                    "reg_covar, or scale the input data."
                ) from None

    def mean_variances(self, covariances: np.ndarray, n_components: int) -> np.ndarray:
        """Each component's mean variance (mean eigenvalue), shape (K,)."""
        raise self._not_defined("mean_variances")

    def smallest_variances(self, covariances: np.ndarray, n_components: int) -> np.ndarray:
        """Smallest eigenvalue of each component's covariance, shape (K,)."""
        raise self._not_defined("smallest_variances")

    def sampling_factors(self, covariances: np.ndarray, n_components: int,
                         n_features: int) -> list:
        """A square root ``F`` of each covariance (``F F^T = Sigma``), (d, d) each."""
        raise self._not_defined("sampling_factors")

    def precision_products(self, precisions_cholesky: np.ndarray,
                           offsets: np.ndarray) -> np.ndarray:
        """``P_k v_k`` for offsets v of shape (n, K, d)."""
        raise self._not_defined("precision_products")

    # ------------------------------------------- the DDPM phases' coordinates
    def to_coordinates(self, covariances: ArrayLike) -> np.ndarray:
        """Unconstrained coordinates ``c`` of covariances (this type's
        ``reg_covar`` on the diagonal): log-variances, or a lower-triangular
        factor with log-diagonal, of ``Sigma - reg I``. Covariances below
        ``reg_covar`` (in any direction) are floored just above it."""
        raise self._not_defined("to_coordinates")

    def from_coordinates(self, c: np.ndarray) -> np.ndarray:
        """Covariances from coordinates (inverse of :meth:`to_coordinates`)."""
        raise self._not_defined("from_coordinates")

    def noised(self, covariances: np.ndarray, a: float, s2: float) -> np.ndarray:
        """Noised covariances ``a^2 Sigma + s^2 I``, same shape."""
        if self.is_elementwise:
            return a * a * covariances + s2
        return a * a * covariances + s2 * np.eye(covariances.shape[-1])

    def from_spherical(self, variances: np.ndarray, weights: np.ndarray,
                       n_features: int) -> np.ndarray:
        """Covariances ``v_k I`` in this type's shape (tied: their weighted mean)."""
        raise self._not_defined("from_spherical")

    def _not_defined(self, method):
        return NotImplementedError(
            f"The covariance type {self.name!r} does not define {method}; "
            "the default fit needs the E-step, the M-step, the attributes and "
            "from_spherical, the DDPM phases also the coordinates, fits with "
            "missing entries also expected_second_statistic, prior_mass and "
            "prior_target."
        )

    def _coordinate_floor(self) -> float:
        return max(FLOOR_OF_REG * self.reg_covar, TINY)


def check_shape(array, shape, name):
    """GaussianMixture's shape check of an initial value, with its message."""
    if array.shape != shape:
        raise ValueError(f"The parameter '{name}' should have the shape of {shape}, "
                         f"but got {array.shape}")


# ------------------------------------------------------------ element-wise
@dataclass(frozen=True)
class DiagCovariance(CovarianceType):
    """A diagonal covariance per component, ``covariances_`` of shape (K, d)."""

    name: ClassVar[str] = "diag"
    sklearn_type: ClassVar[str] = "diag"
    is_elementwise: ClassVar[bool] = True

    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components, n_features)

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        return n_components * n_features

    def precisions_cholesky(self, covariances: np.ndarray) -> np.ndarray:
        if np.any(covariances <= 0.0):
            raise ValueError(_message(covariances.dtype))
        return 1.0 / np.sqrt(covariances)

    def precisions(self, precisions_cholesky: np.ndarray) -> np.ndarray:
        return precisions_cholesky**2

    def precision_matrices(self, precisions_cholesky: np.ndarray, n_components: int,
                           n_features: int) -> np.ndarray:
        diagonal = np.broadcast_to(precisions_cholesky**2, (n_components, n_features))
        return diagonal[:, :, np.newaxis] * np.eye(n_features)

    def log_det_cholesky(self, precisions_cholesky: np.ndarray, n_features: int) -> np.ndarray:
        return np.sum(np.log(precisions_cholesky), axis=1)

    def squared_distances(self, X: np.ndarray, means: np.ndarray,
                          precisions_cholesky: np.ndarray) -> np.ndarray:
        precisions = precisions_cholesky**2
        return (np.sum((means**2 * precisions), axis=1)
                - 2.0 * (X @ (means * precisions).T)
                + (X**2 @ precisions.T))

    def second_statistic(self, X: np.ndarray, resp: np.ndarray, means: np.ndarray,
                         sample_weight: np.ndarray | None) -> np.ndarray:
        return resp.T @ (X * X)

    def expected_second_statistic(self, offsets: np.ndarray, resp: np.ndarray,
                                  centres: np.ndarray, means: np.ndarray,
                                  conditional: np.ndarray) -> np.ndarray:
        # sum_i r_ik x_i^2 with x = c + o and m = c + delta:
        # sum_i r_ik o_i^2 - mass delta^2 + mass m^2.
        mass = column_sums(resp)[:, np.newaxis]
        shifts = means - centres
        return (np.matmul(resp.T[:, np.newaxis, :], offsets * offsets)[:, 0]
                + mass * (means * means - shifts * shifts)
                + np.diagonal(conditional, axis1=1, axis2=2))

    def covariances_from(self, stats: Statistics, nk: np.ndarray, means: np.ndarray,
                         fixed_covariances: np.ndarray | None) -> np.ndarray:
        return stats.second / nk[:, np.newaxis] - means**2 + self.reg_covar

    def prior_mass(self, nk: np.ndarray) -> np.ndarray:
        return nk[:, np.newaxis]

    def prior_target(self, scatter: np.ndarray) -> np.ndarray:
        return scatter

    def mean_variances(self, covariances: np.ndarray, n_components: int) -> np.ndarray:
        return covariances.mean(axis=1)

    def smallest_variances(self, covariances: np.ndarray, n_components: int) -> np.ndarray:
        return covariances.min(axis=1)


    def sampling_factors(self, covariances: np.ndarray, n_components: int,
                         n_features: int) -> list[np.ndarray]:
        return [np.diag(np.sqrt(v)) for v in covariances]

    def precision_products(self, precisions_cholesky: np.ndarray,
                           offsets: np.ndarray) -> np.ndarray:
        return offsets * precisions_cholesky**2

    def to_coordinates(self, covariances: ArrayLike) -> np.ndarray:
        cov = np.asarray(covariances, dtype=float)
        return np.log(np.maximum(cov - self.reg_covar, self._coordinate_floor()))

    def from_coordinates(self, c: np.ndarray) -> np.ndarray:
        return np.exp(c) + self.reg_covar

    def from_spherical(self, variances: np.ndarray, weights: np.ndarray,
                       n_features: int) -> np.ndarray:
        return np.repeat(variances[:, np.newaxis], n_features, axis=1)


@dataclass(frozen=True)
class SphericalCovariance(DiagCovariance):
    """One variance per component, ``covariances_`` of shape (K,)."""

    name: ClassVar[str] = "spherical"
    sklearn_type: ClassVar[str] = "spherical"
    is_spherical: ClassVar[bool] = True

    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components,)

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        return n_components

    def precision_matrices(self, precisions_cholesky: np.ndarray, n_components: int,
                           n_features: int) -> np.ndarray:
        diagonal = np.outer(precisions_cholesky**2, np.ones(n_features))
        return diagonal[:, :, np.newaxis] * np.eye(n_features)

    def log_det_cholesky(self, precisions_cholesky: np.ndarray, n_features: int) -> np.ndarray:
        return n_features * np.log(precisions_cholesky)

    def squared_distances(self, X: np.ndarray, means: np.ndarray,
                          precisions_cholesky: np.ndarray) -> np.ndarray:
        precisions = precisions_cholesky**2
        return (np.sum(means**2, axis=1) * precisions
                - 2 * (X @ means.T * precisions)
                + np.outer(np.einsum("ij,ij->i", X, X), precisions))

    def covariances_from(self, stats: Statistics, nk: np.ndarray, means: np.ndarray,
                         fixed_covariances: np.ndarray | None) -> np.ndarray:
        return np.mean(super().covariances_from(stats, nk, means, fixed_covariances), axis=1)

    def prior_mass(self, nk: np.ndarray) -> np.ndarray:
        return nk

    def prior_target(self, scatter: np.ndarray) -> np.ndarray:
        return np.asarray(np.mean(scatter))

    def mean_variances(self, covariances: np.ndarray, n_components: int) -> np.ndarray:
        return covariances

    def smallest_variances(self, covariances: np.ndarray, n_components: int) -> np.ndarray:
        return covariances


    def sampling_factors(self, covariances: np.ndarray, n_components: int,
                         n_features: int) -> list[np.ndarray]:
        return [np.sqrt(v) * np.eye(n_features) for v in covariances]

    def precision_products(self, precisions_cholesky: np.ndarray,
                           offsets: np.ndarray) -> np.ndarray:
        return offsets * (precisions_cholesky**2)[:, np.newaxis]

    def from_spherical(self, variances: np.ndarray, weights: np.ndarray,
                       n_features: int) -> np.ndarray:
        return variances


@dataclass(frozen=True)
class IdentityCovariance(SphericalCovariance):
    """The paper's model: unit covariances in the data's units, fixed; only the
    means and weights are learned. Reported like "spherical"."""

    name: ClassVar[str] = "identity"
    is_fixed: ClassVar[bool] = True

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        return 0

    def fixed_covariances(self, n_components: int, scale: float) -> np.ndarray | None:
        return np.full(n_components, 1.0 / scale / scale)

    def covariances_from(self, stats: Statistics, nk: np.ndarray, means: np.ndarray,
                         fixed_covariances: np.ndarray | None) -> np.ndarray:
        # The fits always pass the identity model's fixed_covariances(...).
        return cast(np.ndarray, fixed_covariances)


# ------------------------------------------------------------------ matrices
@dataclass(frozen=True)
class FullCovariance(CovarianceType):
    """A covariance matrix per component, ``covariances_`` of shape (K, d, d)."""

    name: ClassVar[str] = "full"
    sklearn_type: ClassVar[str] = "full"

    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components, n_features, n_features)

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        return n_components * n_features * (n_features + 1) // 2

    def precisions_cholesky(self, covariances: np.ndarray) -> np.ndarray:
        return np.stack([_inverse_cholesky(cov) for cov in covariances])

    def precisions(self, precisions_cholesky: np.ndarray) -> np.ndarray:
        return precisions_cholesky @ np.swapaxes(precisions_cholesky, -1, -2)

    def precision_matrices(self, precisions_cholesky: np.ndarray, n_components: int,
                           n_features: int) -> np.ndarray:
        return self.precisions(precisions_cholesky)

    def log_det_cholesky(self, precisions_cholesky: np.ndarray, n_features: int) -> np.ndarray:
        n_components = precisions_cholesky.shape[0]
        return np.sum(np.log(
            np.reshape(precisions_cholesky, (n_components, -1))[:, :: n_features + 1]), axis=1)

    def squared_distances(self, X: np.ndarray, means: np.ndarray,
                          precisions_cholesky: np.ndarray) -> np.ndarray:
        distances = np.empty((X.shape[0], means.shape[0]), dtype=X.dtype)
        y = None  # one (n, d) buffer for every component
        for k, (mu, prec_chol) in enumerate(zip(means, precisions_cholesky)):
            y = np.matmul(X, prec_chol, out=y)
            y -= mu @ prec_chol
            distances[:, k] = _squared_row_norms(y)
        return distances

    def second_statistic(self, X: np.ndarray, resp: np.ndarray, means: np.ndarray,
                         sample_weight: np.ndarray | None) -> np.ndarray:
        # The scatter around each component's mean, as GaussianMixture forms it.
        scatter = np.empty((means.shape[0], X.shape[1], X.shape[1]), dtype=X.dtype)
        for k in range(means.shape[0]):
            diff = X - means[k]
            scatter[k] = (resp[:, k] * diff.T) @ diff
        return scatter

    def expected_second_statistic(self, offsets: np.ndarray, resp: np.ndarray,
                                  centres: np.ndarray, means: np.ndarray,
                                  conditional: np.ndarray) -> np.ndarray:
        return _offsets_scatter(offsets, resp, means - centres) + conditional

    def merged(self, a: Statistics, b: Statistics) -> Statistics:
        # Scatters around each set's own means, combined around the joint
        # mean (Chan, Golub & LeVeque's pairwise update).
        mean_a = a.first / floored(a.mass)[:, np.newaxis]
        mean_b = b.first / floored(b.mass)[:, np.newaxis]
        mass = a.mass + b.mass
        share = a.mass * b.mass / floored(mass)
        delta = mean_a - mean_b
        second = a.second + b.second + share[:, None, None] * np.einsum("ki,kj->kij", delta,
                                                                         delta)
        return Statistics(mass, a.first + b.first, second,
                          a.log_likelihood + b.log_likelihood, a.weight + b.weight)

    def covariances_from(self, stats: Statistics, nk: np.ndarray, means: np.ndarray,
                         fixed_covariances: np.ndarray | None) -> np.ndarray:
        covariances = stats.second / nk[:, np.newaxis, np.newaxis]
        for cov in covariances:
            cov.flat[:: cov.shape[0] + 1] += self.reg_covar
        return covariances

    def prior_mass(self, nk: np.ndarray) -> np.ndarray:
        return nk[:, np.newaxis, np.newaxis]

    def prior_target(self, scatter: np.ndarray) -> np.ndarray:
        return np.diag(scatter)

    def mean_variances(self, covariances: np.ndarray, n_components: int) -> np.ndarray:
        return np.trace(covariances, axis1=-2, axis2=-1) / covariances.shape[-1]

    def smallest_variances(self, covariances: np.ndarray, n_components: int) -> np.ndarray:
        return np.linalg.eigvalsh(covariances)[..., 0]


    def sampling_factors(self, covariances: np.ndarray, n_components: int,
                         n_features: int) -> list[np.ndarray]:
        return list(np.linalg.cholesky(covariances))

    def precision_products(self, precisions_cholesky: np.ndarray,
                           offsets: np.ndarray) -> np.ndarray:
        white = np.einsum("kji,nkj->nki", precisions_cholesky, offsets)
        return np.einsum("kij,nkj->nki", precisions_cholesky, white)

    def to_coordinates(self, covariances: ArrayLike) -> np.ndarray:
        cov = np.asarray(covariances, dtype=float)
        return cholesky_coordinates(floored_cholesky(
            cov - self.reg_covar * np.eye(cov.shape[-1]), self._coordinate_floor()))

    def from_coordinates(self, c: np.ndarray) -> np.ndarray:
        L = cholesky_factor(c)
        return L @ np.swapaxes(L, -1, -2) + self.reg_covar * np.eye(c.shape[-1])

    def from_spherical(self, variances: np.ndarray, weights: np.ndarray,
                       n_features: int) -> np.ndarray:
        return variances[:, np.newaxis, np.newaxis] * np.eye(n_features)


@dataclass(frozen=True)
class TiedCovariance(FullCovariance):
    """One covariance matrix shared by every component, shape (d, d)."""

    name: ClassVar[str] = "tied"
    sklearn_type: ClassVar[str] = "tied"
    is_shared: ClassVar[bool] = True

    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_features, n_features)

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        return n_features * (n_features + 1) // 2

    def precisions_cholesky(self, covariances: np.ndarray) -> np.ndarray:
        return _inverse_cholesky(covariances)

    def precision_matrices(self, precisions_cholesky: np.ndarray, n_components: int,
                           n_features: int) -> np.ndarray:
        return np.broadcast_to(precisions_cholesky @ precisions_cholesky.T,
                               (n_components, n_features, n_features))

    def log_det_cholesky(self, precisions_cholesky: np.ndarray, n_features: int) -> np.ndarray:
        return np.sum(np.log(np.diagonal(precisions_cholesky)))

    def squared_distances(self, X: np.ndarray, means: np.ndarray,
                          precisions_cholesky: np.ndarray) -> np.ndarray:
        # The full type's distances, with its product of the rows and the
        # factor, the same for every component here, formed once: the same
        # numbers, one product instead of K.
        rows_times_factor = X @ precisions_cholesky
        distances = np.empty((X.shape[0], means.shape[0]), dtype=X.dtype)
        # One buffer for every component, in the dtype the difference has.
        y = np.empty(rows_times_factor.shape,
                     np.result_type(rows_times_factor, means, precisions_cholesky))
        for k, mu in enumerate(means):
            np.subtract(rows_times_factor, mu @ precisions_cholesky, out=y)
            distances[:, k] = _squared_row_norms(y)
        return distances

    def second_statistic(self, X: np.ndarray, resp: np.ndarray, means: np.ndarray,
                         sample_weight: np.ndarray | None) -> np.ndarray:
        # The rows' second moment; the M-step takes each mean's share off it.
        if sample_weight is None:
            return X.T @ X
        return (X * sample_weight[:, np.newaxis]).T @ X

    def expected_second_statistic(self, offsets: np.ndarray, resp: np.ndarray,
                                  centres: np.ndarray, means: np.ndarray,
                                  conditional: np.ndarray) -> np.ndarray:
        # sum_k sum_i r_ik E[x x^T | ., k]: the rows' second moment when
        # nothing is missing (the posteriors sum to the rows' weights); each
        # component's scatter about its mean plus its mass at the mean.
        scatter = _offsets_scatter(offsets, resp, means - centres).sum(axis=0)
        mass = column_sums(resp)
        return scatter + (means.T * mass) @ means + conditional.sum(axis=0)

    def merged(self, a: Statistics, b: Statistics) -> Statistics:
        return CovarianceType.merged(self, a, b)

    def covariances_from(self, stats: Statistics, nk: np.ndarray, means: np.ndarray,
                         fixed_covariances: np.ndarray | None) -> np.ndarray:
        covariance = stats.second - nk * means.T @ means
        covariance /= np.sum(nk)
        covariance.flat[:: covariance.shape[0] + 1] += self.reg_covar
        return covariance

    def prior_mass(self, nk: np.ndarray) -> np.ndarray:
        return np.sum(nk)

    def mean_variances(self, covariances: np.ndarray, n_components: int) -> np.ndarray:
        return np.broadcast_to(np.trace(covariances) / covariances.shape[-1], (n_components,))

    def smallest_variances(self, covariances: np.ndarray, n_components: int) -> np.ndarray:
        return np.broadcast_to(np.linalg.eigvalsh(covariances)[0], (n_components,))


    def sampling_factors(self, covariances: np.ndarray, n_components: int,
                         n_features: int) -> list[np.ndarray]:
        return [np.linalg.cholesky(covariances)] * n_components

    def precision_products(self, precisions_cholesky: np.ndarray,
                           offsets: np.ndarray) -> np.ndarray:
        return offsets @ precisions_cholesky @ precisions_cholesky.T

    def from_spherical(self, variances: np.ndarray, weights: np.ndarray,
                       n_features: int) -> np.ndarray:
        return float(weights @ variances) * np.eye(n_features)


# ------------------------------------------------------------------ registry
COVARIANCE_TYPES: dict[str, type[CovarianceType]] = {}


def register_covariance_type(cls: type[CovarianceType]) -> type[CovarianceType]:
    """Make a covariance type available by its ``name`` to the estimators
    (``covariance_type=cls.name``); returns the class, so it can decorate it."""
    COVARIANCE_TYPES[cls.name] = cls
    return cls


for _cls in (FullCovariance, TiedCovariance, DiagCovariance, SphericalCovariance,
             IdentityCovariance):
    register_covariance_type(_cls)


def covariance_model(name: str, reg_covar: float) -> CovarianceType:
    """The registered type called ``name``, with ``reg_covar``."""
    return COVARIANCE_TYPES[name](float(reg_covar))


class RegisteredTypes(Set):
    """The registered types' names as a live set, for parameter constraints
    that accept a type registered after import."""

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in COVARIANCE_TYPES

    def __iter__(self) -> Iterator[str]:
        return iter(COVARIANCE_TYPES)

    def __len__(self) -> int:
        return len(COVARIANCE_TYPES)

    @classmethod
    def _from_iterable(cls, iterable: Iterable[Any]) -> set[Any]:
        return set(iterable)


# ------------------------------------------------------------------ helpers
def _message(dtype):
    if dtype == np.float32:
        return (_ILL_DEFINED + " The numerical accuracy can also be improved by passing "
                "float64 data instead of float32.")
    return _ILL_DEFINED


def _inverse_cholesky(covariance):
    """GaussianMixture's precision factor of one covariance matrix: the
    transposed inverse of its lower Cholesky factor.

    The LAPACK routines that scipy.linalg's ``cholesky`` and
    ``solve_triangular`` call (potrf, then trtrs on its Fortran-ordered
    factor), called directly: the same numbers, without the wrappers'
    checks, which cost 20 us a matrix, 5x the routines at d <= 13 (a fifth
    of a small fit's time, every M-step factoring each component).
    """
    if not np.all(np.isfinite(covariance)):
        raise ValueError("array must not contain infs or NaNs")
    potrf, trtrs = get_lapack_funcs(("potrf", "trtrs"), (covariance,))
    cov_chol, info = potrf(covariance, lower=True, clean=True)
    if info != 0:
        raise ValueError(_message(covariance.dtype))
    inverse, info = trtrs(cov_chol, np.eye(covariance.shape[-1], dtype=covariance.dtype),
                          lower=True)
    if info != 0:
        raise ValueError(_message(covariance.dtype))
    return inverse.T


def cholesky_factor(c):
    """Lower-triangular factor from its coordinates (strictly-lower part and
    log-diagonal), shape (..., d, d)."""
    L = np.tril(c, -1)
    diag = np.exp(np.diagonal(c, axis1=-2, axis2=-1))
    idx = np.arange(c.shape[-1])
    L[..., idx, idx] = diag
    return L


def cholesky_coordinates(L):
    """Inverse of :func:`cholesky_factor`, shape (..., d, d)."""
    c = np.tril(L, -1)
    idx = np.arange(L.shape[-1])
    c[..., idx, idx] = np.log(np.maximum(np.diagonal(L, axis1=-2, axis2=-1), TINY))
    return c


def floored_cholesky(M, floor=TINY):
    """Cholesky factor of symmetric M, shape (..., d, d), with its eigenvalues
    floored at ``floor`` and at 1e-12 of the largest, so that rounding cannot
    make it indefinite."""
    eigvals, eigvecs = np.linalg.eigh(0.5 * (M + np.swapaxes(M, -1, -2)))
    floor = np.maximum(
        1e-12 * np.max(np.abs(eigvals), axis=-1, keepdims=True), max(floor, TINY)
    )
    root = eigvecs * np.sqrt(np.maximum(eigvals, floor))[..., np.newaxis, :]
    # The factor of root root^T by QR of root^T: R^T is lower triangular with
    # R^T R = root root^T; signs fixed so its diagonal is positive.
    R = np.linalg.qr(np.swapaxes(root, -1, -2), mode="r")
    signs = np.sign(np.diagonal(R, axis1=-2, axis2=-1))
    signs[signs == 0] = 1.0
    return np.swapaxes(R * signs[..., :, np.newaxis], -1, -2)


def _squared_row_norms(y: np.ndarray) -> np.ndarray:
    """``|y_n|^2`` of each row, squaring y in place and summing by a product
    with ones: at 10^5 rows, d = 10, fresh (n, d) temporaries (page faults)
    cost a sixth of a full E-step and numpy's sum over the short axis 7x the
    product (which rounds the sums of d terms differently, at 1e-16)."""
    np.square(y, out=y)
    return row_sums(y)


def _offsets_scatter(offsets: np.ndarray, resp: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """``sum_i resp_ik (o_ik - shifts_k)(o_ik - shifts_k)^T`` for each k, shape
    (K, d, d), where ``shifts_k`` is the weighted mean of the offsets
    ``o_ik``: their raw second moment less each mean's share (the offsets
    are taken from the current means, so the share is small and nothing
    cancels)."""
    weighted = offsets * resp.T[:, :, np.newaxis]
    scatter = np.matmul(np.swapaxes(weighted, 1, 2), offsets)
    mass = column_sums(resp)
    scatter -= mass[:, np.newaxis, np.newaxis] * (shifts[:, :, np.newaxis]
                                                  * shifts[:, np.newaxis, :])
    return scatter
