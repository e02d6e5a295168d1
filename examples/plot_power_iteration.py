"""
Phase 1 is a power iteration
============================

At a large noise level the DDPM gradient step on the means of a
two-component mixture is close to a step of the power method on the data's
second moment (Shah, Chen & Klivans, 2023): from a small random start the
mean turns towards the top eigenvector, which for the symmetric mixture
``0.5 N(mu, I) + 0.5 N(-mu, I)`` points along ``mu``.

This example runs the power phase of :class:`~sklearn_ddpm_gmm.DDPMGaussianMixture`
one step at a time, with :func:`sklearn_ddpm_gmm.objective.ddpm_step` (the
step the estimator's phases take) at the level and rate the estimator's
``schedule_`` reports, and records the cosine between the current mean and
the true direction. Next to it, the power method on the data's second moment
from the same start. Three random starts; the data are standardised as in the
estimator (centred, one scale for all features).
"""

import matplotlib.pyplot as plt
import numpy as np

from sklearn_ddpm_gmm import DDPMGaussianMixture
from sklearn_ddpm_gmm.datasets import make_symmetric_mixture
from sklearn_ddpm_gmm.objective import ddpm_step

n_samples, n_features, mean_norm, n_steps = 5000, 50, 1.0, 50
X, _, true_means = make_symmetric_mixture(n_samples, n_features, mean_norm,
                                          random_state=0)
direction = true_means[0] / np.linalg.norm(true_means[0])
offsets = X - X.mean(axis=0)
scale = np.sqrt(np.mean(offsets**2))
Z = offsets / scale

# The power phase the estimator runs on these data, as its schedule_ reports
# it: its level t and rate; the means move, centred, and the component
# variance is held at the bulk (median) eigenvalue of the data's covariance,
# the estimator's rule when d > 2K (the means span few of the directions, so
# the bulk is the within-component variance; here d = 50, K = 2).
fit = DDPMGaussianMixture(2, covariance_type="spherical", random_state=0).fit(X)
power = fit.schedule_[0]
t, rate = power["t"], power["learning_rate"]
variance = float(np.median(np.linalg.eigvalsh(np.cov(Z, rowvar=False))))
second_moment = Z.T @ Z / n_samples
top = np.linalg.eigh(second_moment)[1][:, -1]
print(f"{power['name']} phase: t = {t:.2f}, a = exp(-t) = {np.exp(-t):.2f}, rate {rate}, "
      f"model variance {variance:.3f} (standardised units), {power['n_steps']} steps "
      "in the fit")
print(f"cosine of the top eigenvector of the second moment: {abs(top @ direction):.3f}")


def cosine(v):
    return abs(v @ direction) / np.linalg.norm(v)


curves = []
for seed in range(3):
    rng = np.random.RandomState(100 + seed)  # not the data's seed
    # The estimator's start: small random means, centred.
    start = 0.1 / np.sqrt(n_features) * rng.standard_normal((2, n_features))
    start -= start.mean(axis=0)
    means = start
    ddpm_cos, ddpm_norm = [cosine(start[0])], [np.linalg.norm(start[0])]
    for _ in range(n_steps):
        # One noise draw, fixed for the phase (the same seed at every step).
        _, means, _ = ddpm_step(Z, [0.5, 0.5], means, np.full(2, variance), t,
                                covariance_type="spherical", learn=("means",),
                                learning_rate=rate, centred=True, random_state=100 + seed)
        ddpm_cos.append(cosine(means[0]))
        ddpm_norm.append(np.linalg.norm(means[0]))
    v = start[0].copy()
    power_cos = [cosine(v)]
    for _ in range(n_steps):
        v = second_moment @ v
        v /= np.linalg.norm(v)
        power_cos.append(cosine(v))
    # The whole fit, for the direction that the later (EM) phases reach.
    fit = DDPMGaussianMixture(2, covariance_type="spherical", random_state=seed).fit(X)
    fit_cos = cosine(fit.means_[0] - fit.means_[1])
    curves.append((ddpm_cos, ddpm_norm, power_cos))
    print(f"start {seed}: cosine at step 0 / 5 / 10 / 50: DDPM "
          + " / ".join(f"{ddpm_cos[k]:.3f}" for k in (0, 5, 10, 50))
          + ", power method "
          + " / ".join(f"{power_cos[k]:.3f}" for k in (0, 5, 10, 50))
          + f"; after the whole fit {fit_cos:.3f}")

# %%
# The power method converges within a few steps to the top eigenvector. The
# DDPM step turns the mean the same way but more slowly, and its norm stops
# growing once the mean has reached its size at this noise level (right
# panel): the step is a power iteration only while ``a |mu|`` is small. The
# direction reached there is the estimate of a heavily blurred mixture; the
# EM-like phases that follow refine it.
steps = np.arange(n_steps + 1)
fig, (ax_cos, ax_norm) = plt.subplots(1, 2, figsize=(10, 4))
for seed, (ddpm_cos, ddpm_norm, power_cos) in enumerate(curves):
    label = seed == 0
    ax_cos.plot(steps, ddpm_cos, color="C0", label="DDPM power phase" if label else None)
    ax_cos.plot(steps, power_cos, color="C1", ls="--",
                label="power method on the second moment" if label else None)
    ax_norm.plot(steps, np.array(ddpm_norm) * scale, color="C0")
ax_cos.axhline(abs(top @ direction), color="k", lw=0.8, ls=":",
               label="top eigenvector")
ax_cos.set_xlabel("step")
ax_cos.set_ylabel("|cosine| to the true direction")
ax_cos.set_ylim(0, 1.02)
ax_cos.legend(loc="lower right")
ax_norm.axhline(mean_norm, color="k", lw=0.8, ls=":", label="|mu| (true)")
ax_norm.set_xlabel("step")
ax_norm.set_ylabel("|mean| (data units)")
ax_norm.set_title("The nonlinearity stops the iteration")
ax_norm.legend()
ax_cos.set_title(f"d = {n_features}, n = {n_samples}, |mu| = {mean_norm}")
fig.tight_layout()
plt.show()
