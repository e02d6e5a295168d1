"""Gaussian mixtures learned with the objective that trains diffusion models."""

from ._ddpm_gmm import DDPMGaussianMixture
from ._model_selection import DDPMGaussianMixtureIC
from ._sampler import DiffusionMixtureSampler

__version__ = "0.1.0"

__all__ = ["DDPMGaussianMixture", "DDPMGaussianMixtureIC", "DiffusionMixtureSampler",
           "__version__"]
