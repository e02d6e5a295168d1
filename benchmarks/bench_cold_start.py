"""The cold start on separated synthetic mixtures: how often every component
is found, how many cold-start passes it takes, and the fit time, against
GaussianMixture, both at their defaults, in one run (issue 28).

Families: ``make_separated_mixture`` (unit spherical components, smallest
distance ``3 sqrt(log K)``) at d = 2, 5, 20, 50 with K = 4, 4, 8, 16, and
``make_covariance_mixture`` (unequal weights, full covariances) at d = 10,
K = 4 (1 000 and 10 000 rows) and d = 5, K = 3. A fit found every component
when each true mean's matched estimate lies within half the smallest
distance between true means. "cold passes" counts the steps of the power and
intermediate phases (``schedule_``); "gap" is the held-out log-likelihood
per row less GaussianMixture's.

    OMP_NUM_THREADS=1 python benchmarks/bench_cold_start.py [--seeds 8] [--types full,spherical]
"""

import argparse

import numpy as np
from sklearn.mixture import GaussianMixture

from _common import timed_fit
from sklearn_ddpm_gmm import DDPMGaussianMixture
from sklearn_ddpm_gmm.datasets import (
    make_covariance_mixture,
    make_separated_mixture,
    min_pairwise_distance,
)
from sklearn_ddpm_gmm.metrics import matched_mean_errors

CASES = [  # (family, d, K, training rows)
    ("separated", 2, 4, 2000), ("separated", 5, 4, 1000), ("separated", 20, 8, 4000),
    ("separated", 50, 16, 8000), ("covariance", 10, 4, 1000), ("covariance", 10, 4, 10_000),
    ("covariance", 5, 3, 3000),
]
_HELD_OUT = 5000
_COLD_PHASES = ("power", "intermediate")


def _data(family, d, K, n, seed):
    if family == "separated":
        X, _, means = make_separated_mixture(n + _HELD_OUT, d, K, random_state=seed)
    else:
        X, _, _, means, _ = make_covariance_mixture(n + _HELD_OUT, d, K, random_state=seed)
    return X[:n], X[n:], means


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--types", default="full,spherical")
    args = parser.parse_args()
    print(f"{'type':<10}{'family':<11}{'d':>3}{'K':>4}{'n':>7} | {'time/GM':>8}"
          f"{'cold passes':>12} | {'found DDPM':>10}{'GM':>5} | {'gap min':>8}{'median':>8}")
    totals = []
    for covariance_type in args.types.split(","):
        for family, d, K, n in CASES:
            rows = []
            for seed in range(args.seeds):
                X, X_test, means = _data(family, d, K, n, seed)
                half = min_pairwise_distance(means) / 2
                ddpm, t_ddpm = timed_fit(DDPMGaussianMixture(
                    K, covariance_type=covariance_type, random_state=seed), X)
                gm, t_gm = timed_fit(GaussianMixture(
                    K, covariance_type=covariance_type, random_state=seed), X)
                passes = sum(p["n_steps"] for p in ddpm.schedule_ if p["name"] in _COLD_PHASES)
                rows.append((t_ddpm / t_gm, passes,
                             matched_mean_errors(ddpm.means_, means).max() < half,
                             matched_mean_errors(gm.means_, means).max() < half,
                             ddpm.score(X_test) - gm.score(X_test)))
            rows = np.array(rows, dtype=float)
            totals.append(rows)
            print(f"{covariance_type:<10}{family:<11}{d:>3}{K:>4}{n:>7} | "
                  f"{np.median(rows[:, 0]):8.2f}{np.median(rows[:, 1]):12.0f} | "
                  f"{int(rows[:, 2].sum()):>7}/{args.seeds}{int(rows[:, 3].sum()):>5} | "
                  f"{rows[:, 4].min():+8.4f}{np.median(rows[:, 4]):+8.4f}", flush=True)
    rows = np.concatenate(totals)
    print(f"all {len(rows)} fits: every component found {int(rows[:, 2].sum())} "
          f"(GaussianMixture {int(rows[:, 3].sum())}); median time / GM "
          f"{np.median(rows[:, 0]):.2f}; median cold passes {np.median(rows[:, 1]):.0f}")


if __name__ == "__main__":
    main()
