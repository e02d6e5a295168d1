"""Gaussian mixtures learned with the objective that trains diffusion models."""

from ._ddpm_gmm import DDPMGaussianMixture

__version__ = "0.1.0"

__all__ = ["DDPMGaussianMixture", "__version__"]
