"""
Phase 2 is EM
=============

At a small noise level, one preconditioned gradient step on the DDPM
objective moves the means nearly as one step of the EM algorithm does (Shah,
Chen & Klivans, 2023). This example compares the two from the same starting
point, on a four-component mixture of unit-variance Gaussians in 10
dimensions, with known unit covariances and equal weights (the paper's
setting; only the means move):

* EM step: ``mu_j <- sum_n r_nj x_n / sum_n r_nj`` with the posteriors
  ``r_nj`` of the current means;
* DDPM step: the step that DDPMGaussianMixture takes in its final phase,
  a gradient step on the Stein form of the DDPM loss at level ``t`` (one fixed
  antithetic noise draw), scaled by the Gauss-Newton curvature, learning rate 1.

The DDPM step is :func:`sklearn_ddpm_gmm.objective.ddpm_step`, the step the
estimator's phases take.
"""

import matplotlib.pyplot as plt
import numpy as np
from scipy.special import softmax

from sklearn_ddpm_gmm.datasets import make_separated_mixture
from sklearn_ddpm_gmm.metrics import matched_mean_error
from sklearn_ddpm_gmm.objective import ddpm_step

n_components, n_features = 4, 10
X, _, true_means = make_separated_mixture(20_000, n_features, n_components,
                                          separation=2.0, random_state=0)
equal_weights = np.full(n_components, 1.0 / n_components)


def em_step(means):
    log_resp = -0.5 * ((X[:, np.newaxis, :] - means[np.newaxis]) ** 2).sum(axis=-1)
    resp = softmax(log_resp, axis=1)
    return resp.T @ X / resp.sum(axis=0)[:, np.newaxis]


def ddpm_mean_step(means, t):
    # One fixed noise draw (the same seed at every step), only the means move.
    return ddpm_step(X, equal_weights, means, None, t, covariance_type="identity",
                     learn=("means",), random_state=0)[1]


def perturbed_start(distance, seed):
    """True means, each moved by ``distance`` in a random direction."""
    offsets = np.random.RandomState(seed).standard_normal(true_means.shape)
    offsets *= distance / np.linalg.norm(offsets, axis=1, keepdims=True)
    return true_means + offsets


# %%
# One step from the same point
# ----------------------------
# Distance between the DDPM step and the EM step, relative to the length of
# the EM step, for several noise levels and starting distances.
levels = np.geomspace(0.003, 1.0, 9)
distances = (0.25, 0.5, 1.0)
relative = {}
for distance in distances:
    start = perturbed_start(distance, seed=1)
    em = em_step(start)
    relative[distance] = [
        np.linalg.norm(ddpm_mean_step(start, t) - em) / np.linalg.norm(em - start)
        for t in levels
    ]
    print(f"start {distance} from the truth: |DDPM - EM| / |EM step| at t = "
          + ", ".join(f"{t:.3g}: {r:.2f}" for t, r in zip(levels, relative[distance])))

fig, ax = plt.subplots(figsize=(6, 4))
for distance in distances:
    ax.semilogx(levels, relative[distance], marker="o", label=f"start {distance} away")
ax.axvline(0.1, color="k", lw=0.8, ls=":", label="largest final level")
ax.set_xlabel("noise level t")
ax.set_ylabel("|DDPM step - EM step| / |EM step|")
ax.set_ylim(bottom=0)
ax.legend()
ax.set_title("One DDPM step against one EM step")
fig.tight_layout()

# %%
# The DDPM step is close to the EM step, not equal to it: here they differ by
# a fraction of the step's length (printed above) at every level, least
# around ``t = 0.5`` and more at both ends. At ``t -> 0`` the Stein form of the
# loss becomes plain score matching, whose step is not EM's either. The
# estimator's final phase runs where the noise variance is 0.6 times the
# smallest component variance, capped at ``t = 0.1``.
#
# Error contraction
# -----------------
# Iterate both maps from the same start, the DDPM map at ``t = 0.1``. Each
# converges to its own fixed point, and the distance to it shrinks by a
# roughly constant factor per step once near it (linear convergence). The
# error to the true means stops at the sampling error, about the same for
# both; the two fixed points are close to each other.
t = 0.1
start = perturbed_start(1.0, seed=2)
paths = {"EM": [start], "DDPM": [start]}
n_iterations = 80  # the last iterate stands in for the limit
for _ in range(n_iterations):
    paths["EM"].append(em_step(paths["EM"][-1]))
    paths["DDPM"].append(ddpm_mean_step(paths["DDPM"][-1], t))
n_show = 20
fig, (ax_fixed, ax_true) = plt.subplots(1, 2, figsize=(10, 4))
for (name, path), color in zip(paths.items(), ("C1", "C0")):
    to_limit = np.array([np.linalg.norm(m - path[-1]) for m in path[:n_show + 1]])
    to_truth = np.array([matched_mean_error(m, true_means) for m in path[:n_show + 1]])
    far = np.array([np.linalg.norm(m - path[-1]) for m in path[:41]])
    ratios = far[1:] / far[:-1]
    print(f"{name:<4} distance to its limit, steps 0-5: "
          + " ".join(f"{v:.3f}" for v in to_limit[:6])
          + "; contraction per step: steps 1-3 "
          + " ".join(f"{r:.2f}" for r in ratios[:3])
          + f", steps 30-40 {np.exp(np.mean(np.log(ratios[30:]))):.3f}; "
          f"error to the true means at the limit {matched_mean_error(path[-1], true_means):.3f}")
    ax_fixed.semilogy(to_limit, color=color, marker="o", ms=3, label=name)
    ax_true.plot(to_truth, color=color, marker="o", ms=3, label=name)
print(f"distance between the two limits: "
      f"{np.linalg.norm(paths['EM'][-1] - paths['DDPM'][-1]):.3f}")
ax_fixed.set_xlabel("step")
ax_fixed.set_ylabel("distance to the limit of the same map")
ax_fixed.set_title(f"Contraction (t = {t} for DDPM)")
ax_fixed.legend()
ax_true.set_xlabel("step")
ax_true.set_ylabel("error to the true means")
ax_true.set_yscale("log")
ax_true.set_title("Both stop at the sampling error")
ax_true.legend()
fig.tight_layout()

plt.show()
