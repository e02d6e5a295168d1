"""
Parameter error against the sample size
=======================================

How fast does the error of the means fall with the number of samples ``n``?
For a mixture of well-separated components the parametric rate is
``sqrt(d / n_j)`` per component, with ``n_j = n / K`` the points of component
``j``: the error of the sample mean of each cluster if the labels were known.

Data: three unit-variance spherical Gaussians in ``d = 10`` dimensions
(separation ``3 sqrt(log 3)``), three seeds per ``n``. Both estimators fit a
spherical mixture. The error is the root mean square over components of
``|mu_hat_j - mu_j|`` after matching components; "known labels" is the same
error for the per-cluster sample means.
"""

import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from sklearn_ddpm_gmm import DDPMGaussianMixture
from sklearn_ddpm_gmm.datasets import make_separated_mixture
from sklearn_ddpm_gmm.metrics import matched_mean_errors

n_components, n_features = 3, 10
sizes = [300, 1000, 3000, 10_000, 30_000]
seeds = range(3)


def rms_error(means, true_means):
    return float(np.sqrt(np.mean(matched_mean_errors(means, true_means) ** 2)))


errors = {"DDPMGaussianMixture": [], "GaussianMixture": [], "known labels": []}
seconds = {"DDPMGaussianMixture": [], "GaussianMixture": []}
n_not_converged = 0
for n in sizes:
    row = {name: [] for name in errors}
    for seed in seeds:
        X, y, true_means = make_separated_mixture(n, n_features, n_components,
                                                  random_state=seed)
        models = {
            "DDPMGaussianMixture": DDPMGaussianMixture(
                n_components, covariance_type="spherical", random_state=seed),
            "GaussianMixture": GaussianMixture(
                n_components, covariance_type="spherical", random_state=seed),
        }
        for name, model in models.items():
            tic = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                model.fit(X)
            seconds[name].append(time.perf_counter() - tic)
            n_not_converged += len(caught)
            row[name].append(rms_error(model.means_, true_means))
        oracle = np.array([X[y == k].mean(axis=0) for k in range(n_components)])
        row["known labels"].append(rms_error(oracle, true_means))
    for name in errors:
        errors[name].append(np.mean(row[name]))
    print(f"n = {n:6d}: " + ", ".join(f"{name} {np.mean(v):.4f}" for name, v in row.items())
          + f"; sqrt(d K / n) = {np.sqrt(n_features * n_components / n):.4f}")
print(f"fits that did not converge: {n_not_converged}")
total = {name: np.sum(v) for name, v in seconds.items()}
print("total fit time: " + ", ".join(f"{name} {s:.1f} s" for name, s in total.items())
      + f" (ratio {total['DDPMGaussianMixture'] / total['GaussianMixture']:.0f}x)")

# %%
# Both estimators follow the ``n^(-1/2)`` line and sit close to the
# known-label error: with separated components the cost of not knowing the
# labels is small. DDPMGaussianMixture is slower to fit (printed above).
sizes = np.array(sizes)
slopes = {name: np.polyfit(np.log(sizes), np.log(v), 1)[0] for name, v in errors.items()}
print("fitted log-log slopes: " + ", ".join(f"{k} {v:.2f}" for k, v in slopes.items()))

fig, ax = plt.subplots(figsize=(6, 4.5))
markers = {"DDPMGaussianMixture": "o", "GaussianMixture": "s", "known labels": "^"}
for name, values in errors.items():
    ax.loglog(sizes, values, marker=markers[name], label=name)
ax.loglog(sizes, np.sqrt(n_features * n_components / sizes), "k--",
          label="sqrt(d / n_j), n_j = n / K")
ax.set_xlabel("number of samples n")
ax.set_ylabel("RMS error of the means")
ax.set_title(f"K = {n_components}, d = {n_features}, mean of {len(seeds)} seeds")
ax.legend()
plt.show()
