"""DiffusionMixtureSampler against GaussianMixture and KernelDensity on blurred manifolds.

Data: a ring and two moons in 2-D, three segments in 5-D, each blurred by
N(0, 0.05^2 I) (sklearn_ddpm_gmm.datasets). For each data set, number of
components K and seed: 8 000 training points, 10 000 held-out points and
5 000 fresh points from the generator. Printed per row:

- energy distance (V-statistic, x 1e-4) between 5 000 samples and the held-out
  points, for DiffusionMixtureSampler's SDE and ODE samplers (one fit),
  GaussianMixture(covariance_type="full", K) and KernelDensity with its
  bandwidth chosen by 3-fold GridSearchCV; "fresh" is the same distance for
  5 000 new draws from the generator: the metric's floor at this sample size;
- held-out mean log-likelihood (2 000 of the held-out points) of the three;
- for 2-D data, the mass of DiffusionMixtureSampler's density on a grid over
  the data (it is normalised only approximately, see its docstring).

Then mean +- sd over seeds, and fit / sample / score times at 10 000 points.

    OMP_NUM_THREADS=1 python benchmarks/bench_sampler.py [--seeds 5] [--quick]

Single-threaded on purpose (a shared 2-core machine); --quick runs one seed,
one K per data set and 4 000 training points.
"""

import argparse
import time
import warnings

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity

from sklearn_ddpm_gmm import DiffusionMixtureSampler
from sklearn_ddpm_gmm.datasets import (
    make_blurred_moons,
    make_blurred_ring,
    make_blurred_segments,
    make_segments,
)

# (name, K values): the first K is the number of components a mixture of
# curves would use, the second one GaussianMixture needs to follow the curves.
CASES = [("ring", (4, 8)), ("moons", (4, 8)), ("segments", (3, 8))]
N_TRAIN, N_HELD_OUT, N_SAMPLES, N_LIKELIHOOD = 8000, 10_000, 5000, 2000
BANDWIDTHS = np.geomspace(0.005, 0.3, 13)


def make_data(name, n, seed, geometry_seed):
    """n points of data set ``name``; segments share the geometry of ``geometry_seed``."""
    if name == "ring":
        return make_blurred_ring(n, random_state=seed)
    if name == "moons":
        return make_blurred_moons(n, random_state=seed)[0]
    segments = make_segments(random_state=geometry_seed)
    return make_blurred_segments(n, segments, random_state=seed)[0]


def _mean_distance(A, B, chunk=2000):
    return sum(cdist(A[i:i + chunk], B).sum() for i in range(0, len(A), chunk)) / (
        len(A) * len(B))


class HeldOutEnergy:
    """Energy distance (V-statistic) to one held-out set, its self-term computed once.

    Equal to ``sklearn_ddpm_gmm.metrics.energy_distance(X, held_out)``.
    """

    def __init__(self, held_out):
        self.held_out = held_out
        self.self_term = _mean_distance(held_out, held_out)

    def __call__(self, X):
        return (2 * _mean_distance(X, self.held_out) - _mean_distance(X, X)
                - self.self_term)


def cross_validated_kde(X):
    search = GridSearchCV(KernelDensity(), {"bandwidth": BANDWIDTHS}, cv=3)
    return search.fit(X).best_estimator_


def grid_mass(model, X, n_grid=160):
    """Integral of exp(score_samples) over a grid covering the 2-D data."""
    low, high = X.min(axis=0) - 0.3, X.max(axis=0) + 0.3
    xs, ys = np.linspace(low[0], high[0], n_grid), np.linspace(low[1], high[1], n_grid)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    return float(np.exp(model.score_samples(grid)).sum() * (xs[1] - xs[0]) * (ys[1] - ys[0]))


def run_case(name, K, seed, n_train, kde_cache):
    X = make_data(name, n_train, seed, 100 + seed)
    held_out = make_data(name, N_HELD_OUT, 1000 + seed, 100 + seed)
    fresh = make_data(name, N_SAMPLES, 2000 + seed, 100 + seed)
    energy = HeldOutEnergy(held_out)
    X_ll = held_out[:N_LIKELIHOOD]

    model = DiffusionMixtureSampler(K, random_state=seed).fit(X)
    gm = GaussianMixture(K, covariance_type="full", random_state=seed).fit(X)
    key = (name, seed)
    if key not in kde_cache:  # the bandwidth does not depend on K
        kde_cache[key] = cross_validated_kde(X)
    kde = kde_cache[key]
    row = {
        "ed_sde": energy(model.sample(N_SAMPLES, random_state=seed)[0]),
        "ed_ode": energy(model.sample(N_SAMPLES, random_state=seed, method="ode")[0]),
        "ed_gm": energy(gm.sample(N_SAMPLES)[0]),
        "ed_kde": energy(kde.sample(N_SAMPLES, random_state=seed)),
        "ed_fresh": energy(fresh),
        "ll_dms": model.score(X_ll),
        "ll_gm": gm.score(X_ll),
        "ll_kde": kde.score(X_ll) / len(X_ll),
        "mass": grid_mass(model, X) if X.shape[1] == 2 else np.nan,
        "bandwidth": kde.bandwidth,
    }
    return row


ED_KEYS = ("ed_sde", "ed_ode", "ed_gm", "ed_kde", "ed_fresh")
LL_KEYS = ("ll_dms", "ll_gm", "ll_kde")


def print_row(label, row):
    eds = " ".join(f"{1e4 * row[k]:7.2f}" for k in ED_KEYS)
    lls = " ".join(f"{row[k]:8.4f}" for k in LL_KEYS)
    print(f"{label:<22} | {eds} | {lls} | {row['mass']:6.3f} {row['bandwidth']:6.3f}",
          flush=True)


def print_summary(rows_by_case):
    print("\nMean +- sd over seeds (energy distance x 1e-4; log-likelihood in nats)")
    header = (f"{'case':<14} | {'DMS-SDE':>13} {'DMS-ODE':>13} {'GM full':>13} "
              f"{'KDE (CV)':>13} {'fresh':>13} | {'ll DMS':>15} {'ll GM':>15} "
              f"{'ll KDE':>15} | {'mass':>5}")
    print(header)
    print("-" * len(header))
    for (name, K), rows in rows_by_case.items():
        def stat(key, scale=1.0, fmt="7.2f"):
            values = scale * np.array([r[key] for r in rows])
            return f"{values.mean():{fmt}}+-{values.std():<5.2f}" if fmt == "7.2f" else (
                f"{values.mean():8.4f}+-{values.std():.4f}")
        eds = " ".join(stat(k, 1e4) for k in ED_KEYS)
        lls = " ".join(stat(k, fmt="ll") for k in LL_KEYS)
        masses = [r["mass"] for r in rows if np.isfinite(r["mass"])]
        mass = f"{np.mean(masses):5.3f}" if masses else "    -"
        print(f"{name + ' K=' + str(K):<14} | {eds} | {lls} | {mass}")


def timings(name, K):
    """Fit, sample and score times (seconds) at 10 000 points, one thread."""
    X = make_data(name, 10_000, 0, 100)
    X_score = make_data(name, 10_000, 1, 100)
    out = {}
    tic = time.perf_counter()
    model = DiffusionMixtureSampler(K, random_state=0).fit(X)
    out["DMS fit"] = time.perf_counter() - tic
    for method in ("sde", "ode"):
        tic = time.perf_counter()
        model.sample(10_000, random_state=0, method=method)
        out[f"DMS sample {method}"] = time.perf_counter() - tic
    tic = time.perf_counter()
    model.score_samples(X_score)
    out["DMS score"] = time.perf_counter() - tic
    tic = time.perf_counter()
    gm = GaussianMixture(K, covariance_type="full", random_state=0).fit(X)
    out["GM fit"] = time.perf_counter() - tic
    tic = time.perf_counter()
    gm.sample(10_000)
    out["GM sample"] = time.perf_counter() - tic
    tic = time.perf_counter()
    gm.score_samples(X_score)
    out["GM score"] = time.perf_counter() - tic
    tic = time.perf_counter()
    kde = cross_validated_kde(X)
    out["KDE CV+fit"] = time.perf_counter() - tic
    tic = time.perf_counter()
    KernelDensity(bandwidth=kde.bandwidth).fit(X)
    out["KDE fit"] = time.perf_counter() - tic
    tic = time.perf_counter()
    kde.sample(10_000, random_state=0)
    out["KDE sample"] = time.perf_counter() - tic
    tic = time.perf_counter()
    kde.score_samples(X_score)
    out["KDE score"] = time.perf_counter() - tic
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="one seed, one K per data set, 4 000 training points")
    args = parser.parse_args()
    seeds = 1 if args.quick else args.seeds
    n_train = 4000 if args.quick else N_TRAIN
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(f"{N_TRAIN if not args.quick else n_train} training points, {N_SAMPLES} samples, "
          f"{N_HELD_OUT} held-out points for the energy distance, {N_LIKELIHOOD} for the "
          "log-likelihood")
    print(f"{'case / seed':<22} | {'energy distance x 1e-4: SDE ODE GM KDE fresh':>39} | "
          f"{'held-out ll: DMS GM KDE':>26} | mass  bw")
    rows_by_case, kde_cache = {}, {}
    for name, Ks in CASES:
        for K in Ks[:1] if args.quick else Ks:
            rows = []
            for seed in range(seeds):
                row = run_case(name, K, seed, n_train, kde_cache)
                print_row(f"{name} K={K} seed={seed}", row)
                rows.append(row)
            rows_by_case[(name, K)] = rows
    print_summary(rows_by_case)
    print("\nTimes at 10 000 points (seconds, one thread): fit, sample 10 000, "
          "score_samples of 10 000")
    for name, Ks in CASES:
        t = timings(name, Ks[0])
        print(f"{name} K={Ks[0]}: " + ", ".join(f"{k} {v:.2f}" for k, v in t.items()),
              flush=True)


if __name__ == "__main__":
    main()
