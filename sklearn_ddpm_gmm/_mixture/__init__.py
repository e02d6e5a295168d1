"""The estimators DDPMGaussianMixture and DDPMGaussianMixtureIC, and their fitting pipelines."""
