"""
Quick start: DDPMGaussianMixture next to GaussianMixture
=========================================================

Fit both estimators on the same 8-component mixture in 20 dimensions and
compare the recovered means, the held-out log-likelihood and the schedule that
DDPMGaussianMixture chose (power iteration at large noise, then EM-like steps).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.mixture import GaussianMixture

from sklearn_ddpm_gmm import DDPMGaussianMixture
from sklearn_ddpm_gmm.datasets import make_separated_mixture
from sklearn_ddpm_gmm.metrics import matched_mean_error

X, _, means = make_separated_mixture(25_000, 20, 8, random_state=0)
X_train, X_test = X[:20_000], X[20_000:]

ddpm = DDPMGaussianMixture(8, covariance_type="spherical", random_state=0).fit(X_train)
gm = GaussianMixture(8, covariance_type="spherical", random_state=0).fit(X_train)

for name, model in [("DDPMGaussianMixture", ddpm), ("GaussianMixture", gm)]:
    print(f"{name:<20} mean error {matched_mean_error(model.means_, means):.4f}  "
          f"held-out log-likelihood {model.score(X_test):.4f}")

fig, ax = plt.subplots(figsize=(7, 4))
start = 0
for phase in ddpm.schedule_:
    steps = np.arange(start, start + phase["n_steps"])
    ax.plot(steps, ddpm.loss_curve_[steps], label=f"{phase['name']} (t={phase['t']:.2f})")
    start += phase["n_steps"]
ax.set_xlabel("step")
ax.set_ylabel("DDPM loss")
ax.set_yscale("symlog")
ax.legend()
ax.set_title("The schedule DDPMGaussianMixture chose")
plt.show()
