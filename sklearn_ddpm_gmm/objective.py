"""The DDPM objective of a Gaussian mixture at one noise level, and one step on it.

What :class:`~sklearn_ddpm_gmm.DDPMGaussianMixture`'s DDPM phases minimise and
the step they take, for a mixture given in GaussianMixture's parameters, so
that the paper's two claims can be checked directly: at a large noise level a
step on the means is a power iteration; at a small one it is nearly an EM
step (Shah, Chen & Klivans, 2023).

The forward process maps a point ``x`` to ``a x + s z`` with ``a = exp(-t)``,
``s^2 = 1 - exp(-2 t)``, ``z ~ N(0, I)``, in the units of X (the estimator
applies it to standardised data; standardise X first to reproduce its
phases). The loss is the denoising (Stein) form of the DDPM objective under
one noise draw, each draw used with its antithetic partner; the step is the
gradient scaled by the Gauss-Newton curvature, with which a unit step at
small noise moves each mean as EM does.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._ddpm._history import PhaseKind
from ._core._covariance import COVARIANCE_TYPES, covariance_model
from ._core._mixture import make_mixture
from ._ddpm._loss import draw_seeds, stein_objective
from ._ddpm._optim import Phase, StopRule, _objective_and_step
from ._ddpm._score_model import MixtureParams

_LEARNABLE = {"means": "means", "covariances": "covariance", "weights": "weight_logits"}


def _mixture_params(X, weights, means, *, covariances, model):
    """Validated MixtureParams from GaussianMixture-shaped parameters (copies),
    in the coordinates of ``model`` (a CovarianceType)."""
    means = check_array(means, dtype=np.float64, copy=True)
    n_components, n_features = means.shape
    if n_features != X.shape[1]:
        raise ValueError(f"means has {n_features} features, X has {X.shape[1]}.")
    weights = check_array(weights, dtype=np.float64, ensure_2d=False)
    if weights.shape != (n_components,) or np.any(weights <= 0):
        raise ValueError(f"weights must be {n_components} positive numbers; got {weights}.")
    if model.is_fixed:
        covariances = np.ones(n_components)
    elif covariances is None:
        raise ValueError(f"covariances are required for covariance_type={model.name!r}.")
    covariances = check_array(covariances, dtype=np.float64, ensure_2d=False,
                              allow_nd=True)
    shape = model.shape(n_components, n_features)
    if covariances.shape != shape:
        raise ValueError(f"covariances for covariance_type={model.name!r} must have "
                         f"shape {shape}; got {covariances.shape}.")
    try:
        make_mixture(weights, means, covariances, model)
    except ValueError:
        raise ValueError("covariances must be positive (definite for 'full' and 'tied')."
                         ) from None
    return MixtureParams(means, model.to_coordinates(covariances),
                         np.log(weights / weights.sum()))


_PARAMETERS = {
    "X": ["array-like"],
    "weights": ["array-like"],
    "means": ["array-like"],
    "covariances": ["array-like", None],
    "t": [Interval(Real, 0.0, None, closed="neither")],
    "covariance_type": [StrOptions(set(COVARIANCE_TYPES))],
    "random_state": ["random_state"],
}


@validate_params(_PARAMETERS, prefer_skip_nested_validation=True)
def ddpm_loss(
    X: ArrayLike, weights: ArrayLike, means: ArrayLike, covariances: ArrayLike | None,
    t: float, *, covariance_type: str = "full",
    random_state: int | np.random.RandomState | None = None,
) -> float:
    """The DDPM loss of a Gaussian mixture's score at noise level ``t``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Clean data.
    weights : array-like of shape (n_components,)
        Mixing weights, positive (normalised to sum to one).
    means : array-like of shape (n_components, n_features)
        Component means.
    covariances : array-like or None
        In GaussianMixture's shape for ``covariance_type``, positive
        (definite); ignored, and may be None, for "identity".
    t : float
        Noise level, > 0.
    covariance_type : {"full", "tied", "diag", "spherical", "identity"}, default="full"
    random_state : int, RandomState instance or None, default=None
        The noise draw.

    Returns
    -------
    loss : float
        Mean over the rows of the denoising loss (lower is better), up to a
        constant that does not depend on the parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ddpm_gmm.objective import ddpm_loss
    >>> X = np.random.default_rng(0).normal(size=(500, 2))
    >>> right = ddpm_loss(X, [1.0], [[0.0, 0.0]], [1.0], 0.1,
    ...                   covariance_type="spherical", random_state=0)
    >>> wrong = ddpm_loss(X, [1.0], [[2.0, 0.0]], [1.0], 0.1,
    ...                   covariance_type="spherical", random_state=0)
    >>> bool(right < wrong)
    True
    """
    model = covariance_model(covariance_type, 0.0)
    X = check_array(X, dtype=np.float64)
    params = _mixture_params(X, weights, means, covariances=covariances, model=model)
    seeds = draw_seeds(check_random_state(random_state), X.shape[0])
    return float(stein_objective(X, params, float(t), seeds=seeds, model=model)[0])


@validate_params(
    {**_PARAMETERS, "learn": [tuple, list], "learning_rate": [Interval(Real, 0.0, None,
                                                                        closed="neither")],
     "centred": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def ddpm_step(
    X: ArrayLike, weights: ArrayLike, means: ArrayLike, covariances: ArrayLike | None,
    t: float, *, covariance_type: str = "full",
    learn: tuple[str, ...] | list[str] = ("means", "covariances", "weights"),
    learning_rate: float = 1.0, centred: bool = False,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One preconditioned gradient step on the DDPM loss at noise level ``t``.

    The step DDPMGaussianMixture's DDPM phases take (without their projection
    onto the data's bounding box, and without repeating small data so that at
    least 4096 rows are noised): the gradient of :func:`ddpm_loss` under one
    noise draw, scaled by the Gauss-Newton
    curvature (for the means ``T_j^2 grad / (2 a^2 E[w_j])``, with ``T_j``
    the noised covariance), so that a unit step at small noise moves each
    mean nearly as an EM step does, and at large noise is a step of the
    power method on the data's second moment. A mean moves by at most three
    noised standard deviations. The weights, when learned, are set to the
    noised posteriors' mean (the loss's fixed point).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Clean data.
    weights : array-like of shape (n_components,)
        Mixing weights, positive (normalised to sum to one).
    means : array-like of shape (n_components, n_features)
        Component means.
    covariances : array-like or None
        In GaussianMixture's shape for ``covariance_type``, positive
        (definite); ignored, and may be None, for "identity".
    t : float
        Noise level, > 0.
    covariance_type : {"full", "tied", "diag", "spherical", "identity"}, default="full"
    learn : tuple of {"means", "covariances", "weights"}, \
            default=("means", "covariances", "weights")
        Which parameters move ("covariances" is ignored for "identity").
    learning_rate : float, default=1.0
        Multiplies the preconditioned step (1 moves the means as EM does at
        small noise; the power phase uses 2).
    centred : bool, default=False
        Keep the means' average where it was (the power phase centres the
        means on the data's mean, zero for standardised data).
    random_state : int, RandomState instance or None, default=None
        The noise draw (the same seed gives the same draw at every step).

    Returns
    -------
    weights : ndarray of shape (n_components,)
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray
        In GaussianMixture's shape.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ddpm_gmm.objective import ddpm_step
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(-3, 1, (500, 1)), rng.normal(3, 1, (500, 1))]
    >>> w, m, c = ddpm_step(X, [0.5, 0.5], [[-2.0], [2.0]], None, 0.05,
    ...                     covariance_type="identity", learn=("means",), random_state=0)
    >>> np.round(m.ravel())
    array([-3.,  3.])
    """
    model = covariance_model(covariance_type, 0.0)
    unknown = set(learn) - set(_LEARNABLE)
    if unknown:
        raise ValueError(f"learn must hold some of {sorted(_LEARNABLE)}; got {sorted(unknown)}.")
    X = check_array(X, dtype=np.float64)
    params = _mixture_params(X, weights, means, covariances=covariances, model=model)
    phase = Phase(PhaseKind.STEP, float(t), 1, float(learning_rate),
                  tuple(_LEARNABLE[name] for name in learn), StopRule.PARAMS, 0.0,
                  centred=bool(centred))
    seeds = draw_seeds(check_random_state(random_state), X.shape[0])
    evaluate, take_step = _objective_and_step(X, phase, seeds, model=model)
    _, state = evaluate(params)
    stepped = take_step(params, state, phase.learning_rate)
    cov = model.from_coordinates(stepped.covariance)
    return stepped.weights(), stepped.means, cov


__all__ = ["ddpm_loss", "ddpm_step"]
