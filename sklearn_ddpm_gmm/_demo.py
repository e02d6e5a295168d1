"""The demo: DDPMGaussianMixture next to GaussianMixture on built-in data."""

import time

import numpy as np
from sklearn.mixture import GaussianMixture

from ._mixture._estimator import DDPMGaussianMixture
from .datasets import make_separated_mixture
from .metrics import match_components, matched_mean_error


def _level(phase):
    """A phase's noise level for printing ("all" for the integrated objective)."""
    return "all" if phase["t"] is None else f"{phase['t']:.3f}"


def _fit_timed(model, X):
    tic = time.perf_counter()
    model.fit(X)
    return model, time.perf_counter() - tic


def run_demo(output="ddpm_gmm_demo.png", seed=0):
    """Fit both estimators on a 4-component mixture, print them, plot them."""
    X, _, true_means = make_separated_mixture(
        12_000, 2, 4, separation=4.0, random_state=seed
    )
    X_train, X_test = X[:10_000], X[10_000:]
    ddpm, t_ddpm = _fit_timed(DDPMGaussianMixture(4, covariance_type="spherical", random_state=seed), X_train)
    em, t_em = _fit_timed(
        GaussianMixture(4, covariance_type="spherical", random_state=seed), X_train
    )

    print("Data: 4 unit-variance components in 2-D, 10 000 training rows, 2 000 held out")
    print("Schedule chosen by DDPMGaussianMixture:")
    for phase in ddpm.schedule_:
        print(f"  {phase['name']:<13} t = {_level(phase)}  steps = {phase['n_steps']:3d}"
              f"  rows = {phase['n_rows']}")
    print(f"\n{'component':>9} | {'true mean':>17} | {'DDPM mean':>17} | {'EM mean':>17}"
          f" | {'DDPM var':>8} | {'EM var':>6} | {'DDPM w':>6} | {'EM w':>5}")
    d_order = match_components(ddpm.means_, true_means)
    e_order = match_components(em.means_, true_means)
    for k, (i, j) in enumerate(zip(d_order, e_order)):
        print(f"{k:>9} | {_fmt(true_means[k])} | {_fmt(ddpm.means_[i])} | "
              f"{_fmt(em.means_[j])} | {ddpm.covariances_[i]:8.3f} | "
              f"{em.covariances_[j]:6.3f} | {ddpm.weights_[i]:6.3f} | {em.weights_[j]:5.3f}")
    print(f"\n{'':24}{'DDPM':>10}{'EM':>10}{'ratio':>8}")
    rows = [
        ("fit time (s)", t_ddpm, t_em),
        ("mean error |mu - mu*|", matched_mean_error(ddpm.means_, true_means),
         matched_mean_error(em.means_, true_means)),
        ("held-out log-likelihood", ddpm.score(X_test), em.score(X_test)),
    ]
    for name, a, b in rows:
        print(f"{name:<24}{a:10.4f}{b:10.4f}{a / b:8.3f}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(11, 4.5))
    ax.scatter(*X_train[:3000].T, c=ddpm.predict(X_train[:3000]), s=3, cmap="tab10",
               alpha=0.4)
    ax.scatter(*true_means.T, marker="o", s=120, facecolors="none", edgecolors="k",
               label="true means")
    ax.scatter(*ddpm.means_.T, marker="x", s=80, c="r", label="DDPMGaussianMixture")
    ax.scatter(*em.means_.T, marker="+", s=120, c="b", label="GaussianMixture (EM)")
    ax.set_title("Recovered means")
    ax.legend(loc="best", fontsize=8)
    start = 0
    for phase in ddpm.schedule_:
        steps = np.arange(start, start + phase["n_steps"])
        ax_loss.plot(steps, ddpm.loss_curve_[steps],
                     label=f"{phase['name']} (t={_level(phase)})")
        start += phase["n_steps"]
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("DDPM loss (integrated: -log-likelihood), standardised units")
    ax_loss.set_yscale("symlog")
    ax_loss.set_title("Power iteration, then EM-like steps")
    ax_loss.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(output, dpi=100)
    print(f"\nPlot written to {output}")


def _fmt(v):
    return "(" + ", ".join(f"{x:7.3f}" for x in v) + ")"
