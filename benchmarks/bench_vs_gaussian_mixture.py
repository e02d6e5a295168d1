"""DDPMGaussianMixture against scikit-learn's GaussianMixture, same data, same run.

For each (n, d, K) and seed, prints fit time, mean error |mu - mu*| (Hungarian
matched) and held-out mean log-likelihood of both estimators, and their ratios.
Both run with covariance_type="spherical" (other types:
bench_covariance_types.py); "EM*" is a
converged EM (tol=1e-8, max_iter=5000) used as the accuracy reference.

    python benchmarks/bench_vs_gaussian_mixture.py [--seeds 3] [--quick]

Set OMP_NUM_THREADS=1 on a shared 2-core machine: BLAS threads fighting over
two cores made small products ~10x slower in a prototype.
"""

import argparse
import numpy as np
from sklearn.mixture import GaussianMixture

from _common import timed_fit
from sklearn_ddpm_gmm import DDPMGaussianMixture
from sklearn_ddpm_gmm.datasets import (
    make_separated_mixture,
    make_symmetric_mixture,
    min_pairwise_distance,
)
from sklearn_ddpm_gmm.metrics import matched_mean_errors

CASES = [
    # (name, n_train, d, K)
    ("symmetric |mu|=1", 50_000, 50, 2),
    ("separated", 40_000, 20, 8),
    ("separated", 100_000, 10, 4),
    ("separated", 10_000, 2, 4),
]


def _data(name, n, d, K, seed):
    n_total = n + n // 4
    if name.startswith("symmetric"):
        X, _, means = make_symmetric_mixture(n_total, d, 1.0, random_state=seed)
    else:
        X, _, means = make_separated_mixture(n_total, d, K, random_state=seed)
    return X[:n], X[n:], means



def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller n, one seed")
    args = parser.parse_args()
    seeds = 1 if args.quick else args.seeds
    header = (f"{'case':<17}{'n':>7}{'d':>4}{'K':>3}{'seed':>5} | {'t DDPM':>7}{'t GM':>7}"
              f"{'ratio':>7} | {'err DDPM':>9}{'err GM':>8}{'err EM*':>8}{'D/EM*':>7}"
              f" | {'ll DDPM':>8}{'ll GM':>8}{'D-GM':>8} | found D/GM")
    print(header)
    print("-" * len(header))
    summary = []
    for name, n, d, K in CASES:
        if args.quick:
            n = min(n, 20_000)
        for seed in range(seeds):
            X, X_test, means = _data(name, n, d, K, seed)
            half_sep = min_pairwise_distance(means) / 2
            ddpm, t_d = timed_fit(
                DDPMGaussianMixture(K, covariance_type="spherical", random_state=seed), X)
            gm, t_g = timed_fit(
                GaussianMixture(K, covariance_type="spherical", random_state=seed), X)
            em, _ = timed_fit(GaussianMixture(
                K, covariance_type="spherical", tol=1e-8, max_iter=5000,
                random_state=seed), X)
            e_d, e_g, e_em = (matched_mean_errors(m.means_, means) for m in (ddpm, gm, em))
            ll_d, ll_g = ddpm.score(X_test), gm.score(X_test)
            found = (e_d.max() < half_sep, e_g.max() < half_sep)
            ratio_em = np.linalg.norm(e_d) / np.linalg.norm(e_em)
            print(f"{name:<17}{n:>7}{d:>4}{K:>3}{seed:>5} | {t_d:7.2f}{t_g:7.2f}"
                  f"{t_d / t_g:7.1f} | {np.linalg.norm(e_d):9.4f}{np.linalg.norm(e_g):8.4f}"
                  f"{np.linalg.norm(e_em):8.4f}{ratio_em:7.3f} | {ll_d:8.4f}{ll_g:8.4f}"
                  f"{ll_d - ll_g:8.4f} | {int(found[0])}/{int(found[1])}", flush=True)
            summary.append((name, n, d, K, t_d / t_g, ratio_em, ll_d - ll_g, *found))
    print("\nPer case (mean over seeds; error ratio and log-likelihood gap over seeds "
          "where DDPM found every component):")
    keys = sorted({row[:4] for row in summary}, key=[r[:4] for r in summary].index)
    for key in keys:
        rows = [r for r in summary if r[:4] == key]
        ok = [r for r in rows if r[7]]
        print(f"  {key[0]:<17} n={key[1]:>6} d={key[2]:>2} K={key[3]:>2}: "
              f"time ratio {np.mean([r[4] for r in rows]):6.1f}x, "
              f"error / converged EM {np.mean([r[5] for r in ok]) if ok else np.nan:6.3f}, "
              f"held-out ll - GM {np.mean([r[6] for r in ok]) if ok else np.nan:+.4f}, "
              f"found DDPM {sum(r[7] for r in rows)}/{len(rows)} GM {sum(r[8] for r in rows)}/{len(rows)}")


if __name__ == "__main__":
    main()
