"""DiffusionMixtureSampler's cost and held-out log-likelihood as the training rows grow.

For each set (bench_sampler.py's blurred ring, closed 10-D curve and 5-D
segments) and each size n: the default sampler's fit time, the time of
``sample(5000)`` and of ``score_samples`` on 5 000 rows, its held-out mean
log-likelihood on 5 000 other rows, and beside it a KernelDensity whose
bandwidth is chosen by 3-fold GridSearchCV over bench_sampler's 8 values
(the whole search timed, then its held-out log-likelihood); the ratio of each
fit time to the previous size's (issue 30's bar: at most 2.3 per doubling,
so 5.3 per quadrupling); the reverse steps that ``sample`` runs (one merged
step where the fit is the mixture alone, then every step below the highest
level with a correction). ``--memory`` adds the peak of Python-tracked memory
(tracemalloc, numpy's arrays included) during the fit.

    OMP_NUM_THREADS=1 python benchmarks/bench_sampler_scaling.py --quick
    OMP_NUM_THREADS=1 python benchmarks/bench_sampler_scaling.py [--sets ring,curve10,segments5]
        [--sizes 8000,32000,128000,512000] [--kde-max-rows 128000] [--memory]
    OMP_NUM_THREADS=1 python benchmarks/bench_sampler_scaling.py --sets ring --sizes 1000000 --memory

``--quick``: the ring at 8 000 and 32 000 rows. The KDE search is skipped
beyond ``--kde-max-rows`` (its cost grows faster than n: each fold scores a
third of the rows against a tree of the rest). Single-threaded on purpose.
"""

import argparse
import time
import tracemalloc
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity

import bench_sampler as b
from sklearn_ddpm_gmm import DiffusionMixtureSampler
from sklearn_ddpm_gmm._sampler._poly_denoiser import mixture_from

N_EVAL = 5000


def _timed(fn):
    tic = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - tic


def run(name, make, K, n, *, seed, kde_max_rows, memory):
    curve = make()
    X = curve.draw(n, seed)
    X_ll = curve.draw(N_EVAL, 2000 + seed)
    row = {"set": name, "n": n}
    if memory:
        tracemalloc.start()
    model, row["fit"] = _timed(lambda: DiffusionMixtureSampler(K, random_state=seed).fit(X))
    if memory:
        row["peak_mb"] = tracemalloc.get_traced_memory()[1] / 2 ** 20
        tracemalloc.stop()
    row["cells"] = len(model.score_model_.centres)
    row["top_degree"] = int(model.degrees_.max())
    # Reverse steps that sample() runs: one merged step down to the highest
    # level with a correction, then every step below it.
    sigmas = model.score_model_.schedule.sample_sigmas(model.n_sample_steps)
    row["steps"] = 1 + int(np.sum(sigmas[1:] < mixture_from(model.score_model_)))
    _, row["sample"] = _timed(lambda: model.sample(N_EVAL, random_state=seed))
    ll, row["score"] = _timed(lambda: model.score_samples(X_ll))
    row["ll"] = float(np.mean(ll))
    if n <= kde_max_rows:
        scale = np.sqrt(X.var(axis=0).mean())
        search, row["kde_search"] = _timed(lambda: GridSearchCV(
            KernelDensity(), {"bandwidth": scale * b.BANDWIDTHS}, cv=3).fit(X))
        row["kde_ll"] = search.best_estimator_.score(X_ll) / N_EVAL
    return row


def _fmt(row, key, spec):
    return format(row[key], spec) if key in row else "-"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="ring,curve10,segments5")
    parser.add_argument("--sizes", default="8000,32000,128000,512000")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kde-max-rows", type=int, default=128000)
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.sets, args.sizes = "ring", "8000,32000"
    warnings.simplefilter("ignore", ConvergenceWarning)
    sets = {name: (make, K) for name, make, K, _ in b.SETS}
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'set':<10} {'n':>8} | {'cells':>5} {'deg':>3} {'steps':>5} | {'fit s':>7} {'x prev':>6} | "
          f"{'sample s':>8} {'score s':>7} | {'ll DMS':>8} {'ll KDE':>8} | {'KDE srch s':>10}"
          + (" | peak MB" if args.memory else ""), flush=True)
    for name in args.sets.split(","):
        make, K = sets[name]
        previous = None
        for n in sizes:
            row = run(name, make, K, n, seed=args.seed, kde_max_rows=args.kde_max_rows,
                      memory=args.memory)
            ratio = f"{row['fit'] / previous:6.2f}" if previous else f"{'':>6}"
            previous = row["fit"]
            print(f"{name:<10} {n:>8} | {row['cells']:>5} {row['top_degree']:>3} {row['steps']:>5} | "
                  f"{row['fit']:7.1f} {ratio} | {row['sample']:8.2f} {row['score']:7.2f} | "
                  f"{row['ll']:8.4f} {_fmt(row, 'kde_ll', '8.4f'):>8} | "
                  f"{_fmt(row, 'kde_search', '10.1f'):>10}"
                  + (f" | {row['peak_mb']:7.0f}" if args.memory else ""), flush=True)


if __name__ == "__main__":
    main()
