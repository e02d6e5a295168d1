"""The covariance model of a fit: its type and ``reg_covar``, and every branch on the type.

The estimator and the fitting pipelines ask this object, never the type's
name: what the fitted attributes' shapes are, how a user's initial values are
checked, what the cold start and the passes use, how many parameters there
are, how to sample. The types' coordinates and steps live in
:mod:`._covariance`; this module says which one a fit uses.

Types: "full", "tied", "diag", "spherical" (scikit-learn's), and "identity",
the paper's model: unit covariances in the data's units, only means and
weights learned, reported like "spherical".
"""

import inspect
from typing import NamedTuple

import numpy as np
from sklearn.mixture._gaussian_mixture import (
    _check_means,
    _check_precisions,
    _check_weights,
    _compute_precision_cholesky,
)

from .._ddpm._coordinates import (
    coordinates,
    covariances,
    from_spherical,
    mean_variances,
    n_covariance_parameters,
)
from .._core._em import gaussian_params, sklearn_type
from .._ddpm._score_model import MixtureParams


class CovarianceModel(NamedTuple):
    """A covariance type with its ``reg_covar`` (in the data's units)."""

    covariance_type: str
    reg_covar: float

    # ------------------------------------------------------------ the type
    @property
    def sklearn_type(self):
        """scikit-learn's name of the type ("identity" is spherical)."""
        return sklearn_type(self.covariance_type)

    @property
    def is_fixed(self):
        """Whether the covariances are fixed (the identity model)."""
        return self.covariance_type == "identity"

    @property
    def is_spherical(self):
        """One variance per component (spherical or identity)."""
        return self.sklearn_type == "spherical"

    def cold_type(self, single_level):
        """Type of the cold start's DDPM phases: one variance per component.
        The single-level estimator keeps the identity model throughout; the
        exact final phase fixes identity's covariances itself, so its cold
        start learns the variance (unit variances in standardised units can
        be 1e-16 or 1e16, which the power phase cannot resolve)."""
        return "identity" if self.is_fixed and single_level else "spherical"

    def pass_dtype(self, dtype):
        """Precision of the single-level estimator's passes: float32 for one
        variance per component (a pass costs 0.6-0.7x a float64 one, the data
        are standardised in float64 first and each block's statistics summed
        in float64: the same errors in ``bench_scaling.py fits``); ``dtype``
        for the types that resolve per-feature or full matrices."""
        return np.float32 if self.is_spherical else dtype

    # ------------------------------------------------------------- units
    @property
    def min_variance(self):
        """Smallest variance of a component in the data's units."""
        return 1.0 if self.is_fixed else float(self.reg_covar)

    def standardised_reg(self, scale):
        """reg_covar in standardised units (none for identity)."""
        # Divided twice: scale**2 may underflow where reg_covar / scale does not.
        return 0.0 if self.is_fixed else self.reg_covar / scale / scale

    def fixed_covariances(self, n_components, scale):
        """The identity model's unit variances in standardised units, else None."""
        return np.full(n_components, 1.0 / scale / scale) if self.is_fixed else None

    # ------------------------------------------------------ initial values
    def initial_values(self, weights_init, means_init, precisions_init, n_components,
                       n_features):
        """Validate the user's starting values with GaussianMixture's checks
        and messages.

        Returns
        -------
        weights : ndarray of shape (n_components,) or None
        means : ndarray of shape (n_components, n_features) or None
        covariances : ndarray in GaussianMixture's shape, or None
            Validated float64 copies in the data's units (covariances from
            the precisions; none for identity).
        """
        weights = means = cov = None
        if weights_init is not None:
            weights = np.array(_gm_check(_check_weights, weights_init, n_components),
                               dtype=float)
        if means_init is not None:
            means = np.array(_gm_check(_check_means, means_init, n_components, n_features),
                             dtype=float)
            if not np.all(np.isfinite(means)):
                raise ValueError("The parameter 'means' should be finite.")
        if precisions_init is not None and not self.is_fixed:
            precisions = _gm_check(_check_precisions, precisions_init, self.covariance_type,
                                   n_components, n_features)
            cov = self.from_precisions(precisions)
        return weights, means, cov

    def standardised_initial(self, given, centre, scale):
        """The user's starting values (:meth:`initial_values`) in standardised
        units; None where not given."""
        weights, means, cov = given
        return (weights,
                None if means is None else (means - centre) / scale,
                None if cov is None else cov / scale / scale)

    def attribute_shape(self, n_components, n_features):
        """Shape of ``covariances_`` (and ``precisions_init``), as in GaussianMixture."""
        return {"full": (n_components, n_features, n_features),
                "tied": (n_features, n_features),
                "diag": (n_components, n_features)}.get(self.covariance_type,
                                                        (n_components,))

    def from_precisions(self, precisions):
        """Covariances from precisions in GaussianMixture's shapes."""
        precisions = np.asarray(precisions, dtype=float)
        if self.sklearn_type in ("spherical", "diag"):
            return 1.0 / precisions
        return np.linalg.inv(precisions)

    # ----------------------------------------------- standardised parameters
    def standardised(self, weights, means, covariances, centre, scale):
        """GaussianParams in standardised units from caller-unit values."""
        covariances = np.asarray(covariances, dtype=float) / scale / scale
        return gaussian_params(np.asarray(weights, dtype=float),
                               (np.asarray(means, dtype=float) - centre) / scale,
                               covariances, self.covariance_type)

    def ddpm_params(self, weights, means, covariances, centre, scale, reg):
        """The DDPM phases' MixtureParams (unconstrained coordinates) in
        standardised units from caller-unit values."""
        cov = np.asarray(covariances, dtype=float) / scale / scale
        return MixtureParams(
            (np.asarray(means, dtype=float) - centre) / scale,
            coordinates(cov, self.covariance_type, reg),
            np.log(np.asarray(weights, dtype=float)),
        )

    def from_cold_type(self, params, cold_type, reg):
        """The cold start's MixtureParams (one variance per component) in this type."""
        if self.covariance_type == cold_type:
            return params
        variances = covariances(params.covariance, "spherical", reg)
        return params._replace(covariance=from_spherical(
            variances, params.weights(), self.covariance_type,
            n_features=params.means.shape[1], reg_covar=reg
        ))

    def mean_variances(self, covariances_, n_components):
        """Each component's mean variance from covariances in GaussianMixture's
        shape, shape (n_components,)."""
        return mean_variances(covariances_, self.sklearn_type, n_components)

    # ------------------------------------------------------ fitted attributes
    def attributes(self, params, centre, scale, dtype):
        """Fitted attributes in the data's units and ``dtype`` from
        GaussianParams in standardised units.

        Returns
        -------
        dict
            ``weights_``, ``means_``, ``covariances_``, ``precisions_cholesky_``,
            ``precisions_``.
        """
        n_components = len(params.weights)
        if self.is_fixed:
            cov = np.ones(n_components, dtype=dtype)
        else:
            cov = (scale * scale * params.covariances).astype(dtype)
        return self._attributes(params.weights.astype(dtype),
                                (centre + scale * params.means).astype(dtype), cov,
                                (params.precisions_cholesky / scale).astype(dtype), dtype)

    def attributes_from_ddpm(self, params, centre, scale, reg, dtype=np.float64):
        """Fitted attributes from the DDPM phases' MixtureParams (standardised
        units, regularisation ``reg``)."""
        cov = scale * scale * covariances(params.covariance, self.covariance_type, reg)
        if self.is_fixed:
            cov = np.ones(len(params.means))  # exact, without rounding from the scale
        chol = _compute_precision_cholesky(cov, self.sklearn_type).astype(dtype)
        return self._attributes(params.weights().astype(dtype),
                                (centre + scale * params.means).astype(dtype),
                                cov.astype(dtype), chol, dtype)

    def _attributes(self, weights, means, cov, precisions_cholesky, dtype):
        precisions = self.precisions(precisions_cholesky)
        _check_representable(cov, precisions, dtype, self.sklearn_type)
        return {"weights_": weights, "means_": means, "covariances_": cov,
                "precisions_cholesky_": precisions_cholesky, "precisions_": precisions}

    def precisions(self, precisions_cholesky):
        """Precisions from their Cholesky factors (GaussianMixture's shapes)."""
        if self.sklearn_type in ("full", "tied"):
            return precisions_cholesky @ np.swapaxes(precisions_cholesky, -1, -2)
        return precisions_cholesky**2

    def n_parameters(self, n_components, n_features):
        """Free parameters, counted as GaussianMixture counts them: means,
        covariances (none for "identity") and K - 1 weights."""
        cov_params = n_covariance_parameters(self.covariance_type, n_components, n_features)
        return n_components * n_features + cov_params + n_components - 1

    # --------------------------------------------------------- evaluation
    def precision_products(self, precisions_cholesky, offsets):
        """``P_k v_k`` for offsets v of shape (n, K, d), with ``P_k`` each
        component's precision given by its Cholesky factor."""
        kind = self.sklearn_type
        chol = precisions_cholesky
        if kind == "full":
            white = np.einsum("kji,nkj->nki", chol, offsets)
            return np.einsum("kij,nkj->nki", chol, white)
        if kind == "tied":
            return offsets @ chol @ chol.T
        if kind == "diag":
            return offsets * chol**2
        return offsets * (chol**2)[:, np.newaxis]

    def sampling_factors(self, covariances_, n_components, n_features):
        """A square root ``F`` of each covariance (``F F^T = Sigma``), (d, d) each."""
        if self.is_spherical:
            return [np.sqrt(v) * np.eye(n_features) for v in covariances_]
        if self.covariance_type == "diag":
            return [np.diag(np.sqrt(v)) for v in covariances_]
        if self.covariance_type == "tied":
            return [np.linalg.cholesky(covariances_)] * n_components
        return list(np.linalg.cholesky(covariances_))


def _check_representable(covariances, precisions, dtype, sklearn_type):
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
    if sklearn_type in ("full", "tied"):
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


def _gm_check(check, *args):
    """One of GaussianMixture's own checks of initial values (array-API aware
    from scikit-learn 1.8: given numpy as the namespace there)."""
    if "xp" in inspect.signature(check).parameters:
        return check(*args, xp=np)
    return check(*args)

