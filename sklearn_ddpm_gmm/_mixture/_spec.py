"""What the fitting pipelines read of the estimator: its parameters, once validated."""

from typing import NamedTuple

from .._core._covariance import CovarianceType


class FitSpec(NamedTuple):
    """The estimator's parameters as the pipelines read them (see
    DDPMGaussianMixture for each)."""

    n_components: int
    model: CovarianceType  # with reg_covar in the data's units
    tol: float
    max_iter: int
    n_init: int
    init_params: str
    noise_level: object  # "integrated", "auto" or a float
    n_noise_draws: int
    n_jobs: object
    verbose: int
    verbose_interval: int

    @property
    def single_level(self):
        """Whether the final phase is the paper's single-level estimator."""
        return self.noise_level != "integrated"
