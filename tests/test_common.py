"""scikit-learn's estimator checks, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_ddpm_gmm import DDPMGaussianMixture, DDPMGaussianMixtureIC, DiffusionMixtureSampler


@parametrize_with_checks([
    DDPMGaussianMixture(),
    DDPMGaussianMixture(n_components=2),
    DDPMGaussianMixture(n_components=2, covariance_type="diag", noise_level="integrated"),
    DDPMGaussianMixtureIC(n_components=3, covariance_type=("diag", "spherical")),
    DiffusionMixtureSampler(),
    DiffusionMixtureSampler(n_components=2),
])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
