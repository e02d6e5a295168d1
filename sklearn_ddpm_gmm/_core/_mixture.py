"""One Gaussian mixture: its parameters, and their conversions between units.

:class:`Mixture` holds weights, means, covariances (GaussianMixture's shapes
for the type) and the precisions' Cholesky factors, in whatever units the
caller works in: the fits work in standardised units ``Z = (X - centre) /
scale``, the fitted attributes are in the data's. :class:`MixtureParams` is the
same mixture in the DDPM phases' unconstrained coordinates (a view that a
gradient step can move freely). Every conversion between these three forms is
here; the covariance type (:mod:`._covariance`) supplies the per-type part.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
from scipy.special import softmax
from sklearn.utils import check_array

from ._covariance import CovarianceType, check_shape


class Mixture(NamedTuple):
    """A Gaussian mixture in GaussianMixture's parametrisation."""

    weights: np.ndarray  # (K,)
    means: np.ndarray  # (K, d)
    covariances: np.ndarray  # GaussianMixture's shape for the type
    precisions_cholesky: np.ndarray  # same shape


class MixtureParams(NamedTuple):
    """A mixture in the DDPM phases' unconstrained coordinates: means, the
    covariance type's coordinates (:meth:`CovarianceType.to_coordinates`) and
    the weights' logits."""

    means: np.ndarray  # (K, d)
    covariance: np.ndarray  # coordinates, shape set by the covariance type
    weight_logits: np.ndarray  # (K,)

    def weights(self) -> np.ndarray:
        """Mixing weights ``softmax(beta)``, shape (K,)."""
        return softmax(self.weight_logits)


def make_mixture(weights: np.ndarray, means: np.ndarray, covariances: np.ndarray,
                 model: CovarianceType) -> Mixture:
    """A Mixture with the precisions' Cholesky factors computed.

    Raises GaussianMixture's ValueError ("ill-defined empirical covariance")
    where a covariance is not positive definite.
    """
    return Mixture(weights, means, covariances, model.precisions_cholesky(covariances))


# A component is singular where, in some direction, its variance beyond
# reg_covar is below this share of the data's: a zero eigenvalue rounds to
# about eps, and sqrt(eps) leaves room for a fit stopped short of the collapse.
SINGULAR_SHARE = float(np.sqrt(np.finfo(np.float64).eps))


def singular_components(params: Mixture, model: CovarianceType, n_rows: float) -> np.ndarray:
    """Which components are singular, shape (K,) bool.

    A component is singular where its rows lie in a lower-dimensional set
    than the data's (data recorded at finite precision allow that): in some
    direction its variance beyond ``reg_covar`` is below ``SINGULAR_SHARE``
    of the data's there, so that ``reg_covar`` alone keeps it definite and
    its likelihood grows without bound as ``reg_covar`` falls: a spurious
    maximum. Directions in which the data themselves do not vary (a constant
    feature) are left out, and so are components of less than half a row's
    weight (empty, not singular). The data's covariance is the mixture's own
    (after an M-step the mixture's first two moments are the data's, ``reg``
    added), so the rule needs no pass over the rows and does not depend on
    the features' scales.
    """
    n_components, n_features = params.means.shape
    if model.is_fixed:
        return np.zeros(n_components, dtype=bool)
    reg = model.reg_covar * np.eye(n_features)
    try:
        factors = model.sampling_factors(params.covariances, n_components, n_features)
    except np.linalg.LinAlgError:
        # Not definite to rounding: reg_covar (in the fit's units) is below
        # the rounding of the spread (raw spreads near 1e147 bring 1e-6 to
        # 1e-300), so a component on fewer rows than dimensions keeps a
        # zero eigenvalue. Such a component is singular by this rule's measure.
        smallest = model.smallest_variances(params.covariances, n_components)
        return (smallest <= 0) & (params.weights * n_rows >= 0.5)
    dense = np.stack([factor @ factor.T for factor in factors]) - reg
    centred = params.means - params.weights @ params.means
    data = (np.einsum("k,kij->ij", params.weights, dense)
            + (params.weights[:, np.newaxis] * centred).T @ centred)
    if not np.all(np.isfinite(data)):  # spreads beyond float64's squares
        return np.zeros(n_components, dtype=bool)
    variances, directions = np.linalg.eigh(data)
    varying = variances > 100 * np.finfo(float).eps * max(variances[-1], 0.0)
    if not np.any(varying):
        return np.zeros(n_components, dtype=bool)
    whiten = directions[:, varying] / np.sqrt(variances[varying])
    shares = np.linalg.eigvalsh(np.swapaxes(whiten, 0, 1) @ dense @ whiten)[:, 0]
    return (shares <= SINGULAR_SHARE) & (params.weights * n_rows >= 0.5)


def has_singular_component(params: Mixture, model: CovarianceType, n_rows: float) -> bool:
    """Whether any component is singular (:func:`singular_components`)."""
    return bool(np.any(singular_components(params, model, n_rows)))


# ------------------------------------------------------------------ units
def standardised(weights: ArrayLike, means: ArrayLike, covariances: ArrayLike,
                 model: CovarianceType, *, centre: np.ndarray, scale: float) -> Mixture:
    """The mixture in standardised units from values in the data's units."""
    covariances = np.asarray(covariances, dtype=float) / scale / scale
    return make_mixture(np.asarray(weights, dtype=float),
                   (np.asarray(means, dtype=float) - centre) / scale, covariances, model)


def attributes(params: Mixture, model: CovarianceType, *, centre: np.ndarray, scale: float,
               dtype: DTypeLike) -> dict[str, np.ndarray]:
    """Fitted attributes in the data's units and ``dtype`` from a Mixture in
    standardised units.

    Returns
    -------
    dict
        ``weights_``, ``means_``, ``covariances_``, ``precisions_cholesky_``,
        ``precisions_``.
    """
    n_components = len(params.weights)
    if model.is_fixed:
        cov = np.ones(n_components, dtype=dtype)  # exact, without the scale's rounding
    else:
        cov = (scale * scale * params.covariances).astype(dtype)
    return _attributes(params.weights.astype(dtype),
                       (centre + scale * params.means).astype(dtype), cov,
                       precisions_cholesky=(params.precisions_cholesky / scale).astype(dtype),
                       model=model, dtype=dtype)


def attributes_from_coordinates(params: MixtureParams, model: CovarianceType, *,
                                centre: np.ndarray, scale: float,
                                dtype: DTypeLike = np.float64) -> dict[str, np.ndarray]:
    """Fitted attributes from the DDPM phases' coordinates (standardised
    units; ``model`` carries the regularisation they were taken with)."""
    cov = scale * scale * model.from_coordinates(params.covariance)
    if model.is_fixed:
        cov = np.ones(len(params.means))  # exact, without rounding from the scale
    chol = model.precisions_cholesky(cov).astype(dtype)
    return _attributes(params.weights().astype(dtype),
                       (centre + scale * params.means).astype(dtype),
                       cov.astype(dtype), precisions_cholesky=chol, model=model, dtype=dtype)


def _attributes(weights: np.ndarray, means: np.ndarray, cov: np.ndarray, *,
                precisions_cholesky: np.ndarray, model: CovarianceType,
                dtype: DTypeLike) -> dict[str, np.ndarray]:
    precisions = model.precisions(precisions_cholesky)
    model.check_positive_definite(cov, precisions, dtype)
    return {"weights_": weights, "means_": means, "covariances_": cov,
            "precisions_cholesky_": precisions_cholesky, "precisions_": precisions}


# ------------------------------------------------------------ coordinates
def to_coordinates(weights: ArrayLike, means: ArrayLike, covariances: ArrayLike,
                   model: CovarianceType, *, centre: np.ndarray,
                   scale: float) -> MixtureParams:
    """The DDPM phases' coordinates in standardised units from values in the
    data's units (``model`` carries the standardised regularisation)."""
    cov = np.asarray(covariances, dtype=float) / scale / scale
    return MixtureParams((np.asarray(means, dtype=float) - centre) / scale,
                         model.to_coordinates(cov), np.log(np.asarray(weights, dtype=float)))


def from_coordinates(params: MixtureParams, model: CovarianceType,
                     dtype: DTypeLike | None = None) -> Mixture:
    """The Mixture that coordinates describe (in ``dtype``, theirs if None)."""
    covariances = model.from_coordinates(params.covariance)
    weights, means = params.weights(), params.means
    if dtype is not None:
        weights, means, covariances = (weights.astype(dtype), means.astype(dtype),
                                       covariances.astype(dtype))
    return make_mixture(weights, means, covariances, model)


def in_type(params: MixtureParams, source: CovarianceType,
            target: CovarianceType) -> MixtureParams:
    """Coordinates of one variance per component (``source``) re-expressed in
    ``target``'s type (tied: their weighted mean variance)."""
    if source.name == target.name:
        return params
    variances = source.from_coordinates(params.covariance)
    n_features = params.means.shape[1]
    return params._replace(covariance=target.to_coordinates(
        target.from_spherical(variances, params.weights(), n_features)))


# ---------------------------------------------------------- initial values
def initial_values(
    model: CovarianceType, *, weights_init: ArrayLike | None,
    means_init: ArrayLike | None, precisions_init: ArrayLike | None, n_components: int,
    n_features: int,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Validate the user's starting values with GaussianMixture's checks and
    messages.

    Returns
    -------
    weights : ndarray of shape (n_components,) or None
    means : ndarray of shape (n_components, n_features) or None
    covariances : ndarray in GaussianMixture's shape, or None
        Validated float64 copies in the data's units (covariances from the
        precisions; none for identity).
    """
    weights = means = cov = None
    if weights_init is not None:
        weights = np.array(_checked_weights(weights_init, n_components), dtype=float)
    if means_init is not None:
        means = check_array(means_init, dtype=[np.float64, np.float32], ensure_2d=False)
        check_shape(means, (n_components, n_features), "means")
        means = np.array(means, dtype=float)
        if not np.all(np.isfinite(means)):
            raise ValueError("The parameter 'means' should be finite.")
    if precisions_init is not None and not model.is_fixed:
        precisions = model.check_precisions(precisions_init, n_components, n_features)
        cov = model.from_precisions(precisions)
    return weights, means, cov


def standardised_initial(
    given: tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None], *,
    centre: np.ndarray, scale: float,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """The user's starting values (:func:`initial_values`) in standardised
    units; None where not given."""
    weights, means, cov = given
    return (weights,
            None if means is None else (means - centre) / scale,
            None if cov is None else cov / scale / scale)


def _checked_weights(weights: ArrayLike, n_components: int) -> np.ndarray:
    """GaussianMixture's check of ``weights_init`` (range and normalisation)."""
    checked = check_array(weights, dtype=[np.float64, np.float32], ensure_2d=False)
    check_shape(checked, (n_components,), "weights")
    if np.any(np.less(checked, 0.0)) or np.any(np.greater(checked, 1.0)):
        raise ValueError(
            "The parameter 'weights' should be in the range [0, 1], but got max value "
            f"{np.min(checked):.5f}, min value {np.max(checked):.5f}"
        )
    atol = 1e-6 if checked.dtype == np.float32 else 1e-8
    if not np.allclose(float(np.abs(1.0 - np.sum(checked))), 0.0, atol=atol):
        raise ValueError("The parameter 'weights' should be normalized, but got "
                         f"sum(weights) = {np.sum(checked):.5f}")
    return checked
