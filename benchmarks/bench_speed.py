"""Fit time of DDPMGaussianMixture against GaussianMixture, both at their defaults.

Separated mixtures with random full covariances (``make_covariance_mixture``,
d = 10, K = 4), n from 1e3 to 1e6, every covariance type (the same for both;
"full" first, the default). Prints the median fit time of each over the seeds,
their ratio, the held-out log-likelihood difference (DDPM - GM, nats per point,
on a fresh draw of the same law) and the final-phase steps.

    OMP_NUM_THREADS=1 python benchmarks/bench_speed.py [--n 1e3,1e4,1e5,1e6]
                                                       [--types full,tied,diag,spherical]
                                                       [--seeds 3]

Time it on a quiet machine: other processes distort GaussianMixture's threaded
BLAS badly. With OMP_NUM_THREADS=1 both run one thread.
"""

import argparse

import numpy as np
from sklearn.mixture import GaussianMixture

from _common import timed_fit
from sklearn_ddpm_gmm import DDPMGaussianMixture
from sklearn_ddpm_gmm.datasets import make_covariance_mixture


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="1e3,1e4,1e5,1e6")
    parser.add_argument("--types", default="full,tied,diag,spherical")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--d", type=int, default=10)
    parser.add_argument("--k", type=int, default=4)
    args = parser.parse_args()
    print(f"d = {args.d}, K = {args.k}, median over {args.seeds} seeds (1 seed at n >= 1e6)")
    print(f"{'type':<10}{'n':>9} | {'t DDPM':>8}{'t GM':>8}{'ratio':>7} | "
          f"{'ll gap':>8} | {'steps DDPM':>10}{'iter GM':>8}")
    for covariance_type in args.types.split(","):
        for n in (int(float(v)) for v in args.n.split(",")):
            rows = []
            for seed in range(1 if n >= 10**6 else args.seeds):
                X = make_covariance_mixture(n + 20_000, args.d, args.k, random_state=seed)[0]
                X, X_test = X[:n], X[n:]
                ddpm, t_ddpm = timed_fit(DDPMGaussianMixture(
                    args.k, covariance_type=covariance_type, random_state=seed), X)
                gm, t_gm = timed_fit(GaussianMixture(
                    args.k, covariance_type=covariance_type, random_state=seed), X)
                rows.append((t_ddpm, t_gm, ddpm.score(X_test) - gm.score(X_test),
                             ddpm.n_iter_, gm.n_iter_))
            t_ddpm, t_gm, gap, steps, iters = np.median(rows, axis=0)
            print(f"{covariance_type:<10}{n:>9} | {t_ddpm:8.3f}{t_gm:8.3f}"
                  f"{t_ddpm / t_gm:7.2f} | {gap:8.4f} | {steps:10.0f}{iters:8.0f}",
                  flush=True)


if __name__ == "__main__":
    main()
