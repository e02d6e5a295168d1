"""Every covariance type: DDPMGaussianMixture against GaussianMixture, same data.

Data from ``make_covariance_mixture`` (weights 0.1..0.5, component variances
spread over a factor 10, condition number 10 for full/tied, diagonal variances
over a factor 10 for diag). For each type and seed: fit-time ratio, each
parameter block's error (Hungarian matched) relative to a converged EM with the
same covariance_type, held-out log-likelihood minus GaussianMixture's (defaults),
and whether each found every component.

    python benchmarks/bench_covariance_types.py [--seeds 5] [--n 20000] [--d 5] [--k 3]
"""

import argparse
import numpy as np
from sklearn.mixture import GaussianMixture

from _common import timed_fit
from sklearn_ddpm_gmm import DDPMGaussianMixture
from sklearn_ddpm_gmm.datasets import make_covariance_mixture, min_pairwise_distance
from sklearn_ddpm_gmm.metrics import matched_mean_errors, matched_parameter_errors

BLOCKS = ("weights", "means", "covariances")



def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--d", type=int, default=5)
    parser.add_argument("--k", type=int, default=3)
    args = parser.parse_args()
    n, d, K = args.n, args.d, args.k
    print(f"n={n} d={d} K={K}; errors relative to a converged EM (tol 1e-8)")
    print(f"{'type':<10}{'seed':>5} | {'time/GM':>8} | " + "".join(f"{b:>12}" for b in BLOCKS)
          + f" | {'ll - GM':>8} | found D/GM")
    for covariance_type in ("full", "tied", "diag", "spherical"):
        rows = []
        for seed in range(args.seeds):
            X, _, w, m, c = make_covariance_mixture(n + n // 2, d, K, covariance_type,
                                                    random_state=seed)
            train, test = X[:n], X[n:]
            ddpm, t_d = timed_fit(DDPMGaussianMixture(
                K, covariance_type=covariance_type, random_state=seed), train)
            gm, t_g = timed_fit(GaussianMixture(
                K, covariance_type=covariance_type, random_state=seed), train)
            em, _ = timed_fit(GaussianMixture(
                K, covariance_type=covariance_type, tol=1e-8, max_iter=5000,
                random_state=seed), train)
            err = {name: matched_parameter_errors(
                model.weights_, model.means_, model.covariances_, w, m, c, covariance_type)
                for name, model in (("ddpm", ddpm), ("gm", gm), ("em", em))}
            half_sep = min_pairwise_distance(m) / 2
            found = [matched_mean_errors(model.means_, m).max() < half_sep
                     for model in (ddpm, gm)]
            ratios = [err["ddpm"][b] / err["em"][b] for b in BLOCKS]
            gap = ddpm.score(test) - gm.score(test)
            rows.append((t_d / t_g, *ratios, gap, *found))
            print(f"{covariance_type:<10}{seed:>5} | {t_d / t_g:8.1f} | "
                  + "".join(f"{r:12.3f}" for r in ratios)
                  + f" | {gap:+8.4f} | {int(found[0])}/{int(found[1])}", flush=True)
        rows = np.array(rows)
        both = rows[:, 5].astype(bool) & rows[:, 6].astype(bool)
        mean = rows[both].mean(axis=0) if both.any() else np.full(rows.shape[1], np.nan)
        print(f"{covariance_type:<10}{'mean':>5} | {rows[:, 0].mean():8.1f} | "
              + "".join(f"{r:12.3f}" for r in mean[1:4])
              + f" | {mean[4]:+8.4f} | {int(rows[:, 5].sum())}/{int(rows[:, 6].sum())}"
              f"  (errors and ll over the {int(both.sum())} seeds where both found all)")


if __name__ == "__main__":
    main()
