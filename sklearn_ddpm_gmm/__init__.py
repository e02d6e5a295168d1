"""Gaussian mixtures learned with the objective that trains diffusion models."""

from ._mixture._estimator import DDPMGaussianMixture, SingularComponentWarning
from ._mixture._imputer import MixtureImputer
from ._mixture._model_selection import DDPMGaussianMixtureIC
from ._sampler._estimator import DiffusionMixtureSampler

__version__ = "0.1.0"

__all__ = ["DDPMGaussianMixture", "DDPMGaussianMixtureIC", "DiffusionMixtureSampler",
           "MixtureImputer", "SingularComponentWarning", "__version__"]
