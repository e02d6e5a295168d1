"""Scaling: whole fits against GaussianMixture, pass time against its floor, streaming memory.

    python benchmarks/bench_scaling.py fits [--seeds 5] [--sizes 1e5,10,4 1e5,50,16 ...]
                                            [--dtype float32]
    python benchmarks/bench_scaling.py passes [--d 10 --k 4] [--dtype float32]
    python benchmarks/bench_scaling.py memory [--rows 1e7 --chunk 1e5]
    python benchmarks/bench_scaling.py streaming [--rows 30000 --chunks 6 --seeds 12]

``fits``: for each (n, d, K) and seed, DDPMGaussianMixture and GaussianMixture
(covariance_type="spherical", defaults otherwise) on the same data (separation
3 sqrt(log K)), with fit time ratio, mean error relative to a converged EM
(tol=1e-8), held-out log-likelihood difference and whether every component
was found (every mean within half the smallest separation of its match).
``--dtype float32`` gives both estimators float32 data (each then computes in
float32; the converged EM reference stays float64).

``passes``: seconds per pass of the Stein-form objective (2 n noised rows) for
n = 1e4..1e6, with fresh span noise and with span noise dealt from a pool (as
the fresh-noise stage of a fit does), the same pass's matrix-product floor (the products X @ means.T,
resp.T @ X on the same blocks, timed alone), and the fitted exponent of time
against n.

``memory``: peak traced memory (tracemalloc) of partial_fit over ``rows`` rows
fed in chunks of ``chunk`` rows, generated one at a time, in units of one
chunk's size.

``streaming``: for each covariance type, partial_fit over ``chunks`` chunks of
``rows`` rows (d = 4, K = 3, separated spherical data, one data set per seed)
against fit on all of them and a converged EM on all of them: the root mean
square over seeds of each one's error in the means (Hungarian matched), and
their ratios. (A mean of per-seed ratios of two errors is biased upwards and
noisy: fit's own error over EM's ranged 0.44-1.68 per seed for full
covariances.)

Set OMP_NUM_THREADS=1 on a shared 2-core machine.
"""

import argparse
import time
import tracemalloc

import numpy as np
from sklearn.mixture import GaussianMixture

from _common import timed_fit
from sklearn_ddpm_gmm import DDPMGaussianMixture
from sklearn_ddpm_gmm._core._covariance import covariance_model
from sklearn_ddpm_gmm._ddpm import _loss as _objective
from sklearn_ddpm_gmm._ddpm._score_model import MixtureParams
from sklearn_ddpm_gmm._ddpm._span_noise import SpanNoisePool
from sklearn_ddpm_gmm.datasets import make_separated_mixture, min_pairwise_distance
from sklearn_ddpm_gmm.metrics import matched_mean_errors

DEFAULT_SIZES = ["1e5,10,4", "1e6,10,4", "1e5,50,16", "1e6,50,16"]


def _size(text):
    n, d, K = text.split(",")
    return int(float(n)), int(d), int(K)


def fits(args):
    header = (f"{'n':>8}{'d':>4}{'K':>4}{'seed':>5} | {'t DDPM':>7}{'t GM':>7}{'ratio':>7}"
              f" | {'D/EM*':>7}{'GM/EM*':>7} | {'ll D-GM':>8} | found D/GM")
    print(header)
    print("-" * len(header))
    rows = []
    for n, d, K in map(_size, args.sizes):
        for seed in range(args.seeds):
            X, _, means = make_separated_mixture(n + n // 5, d, K, random_state=seed)
            X, X_test = X[:n].astype(args.dtype), X[n:]
            half_sep = min_pairwise_distance(means) / 2
            ddpm, t_d = timed_fit(
                DDPMGaussianMixture(K, covariance_type="spherical", random_state=seed), X)
            gm, t_g = timed_fit(
                GaussianMixture(K, covariance_type="spherical", random_state=seed), X)
            # Converged EM started from the better of the two fits' means.
            best = ddpm if ddpm.score(X_test) >= gm.score(X_test) else gm
            em, _ = timed_fit(GaussianMixture(
                K, covariance_type="spherical", tol=1e-8, max_iter=5000,
                means_init=best.means_, random_state=seed), X.astype(np.float64))
            errors = [np.linalg.norm(matched_mean_errors(m.means_, means))
                      for m in (ddpm, gm, em)]
            found = [bool(matched_mean_errors(m.means_, means).max() < half_sep)
                     for m in (ddpm, gm)]
            ll = ddpm.score(X_test) - gm.score(X_test)
            rows.append((n, d, K, t_d / t_g, errors[0] / errors[2], errors[1] / errors[2],
                         ll, *found, errors))
            print(f"{n:>8}{d:>4}{K:>4}{seed:>5} | {t_d:7.2f}{t_g:7.2f}{t_d / t_g:7.2f} | "
                  f"{errors[0] / errors[2]:7.3f}{errors[1] / errors[2]:7.3f} | {ll:+8.4f} | "
                  f"{int(found[0])}/{int(found[1])}", flush=True)
    print("\nSummary: means over seeds. err/EM*: root mean square error over the seeds\n"
          "where the estimator found every component, over the converged EM's on the\n"
          "same seeds (the mean of per-seed ratios, over seeds where both found all, in\n"
          "brackets: a mean of ratios of two errors is biased upwards and noisier).")
    for n, d, K in map(_size, args.sizes):
        sel = [r for r in rows if r[:3] == (n, d, K)]
        both = [r for r in sel if r[7] and r[8]] or sel
        rms = []
        for index in (0, 1):
            found = [r[9] for r in sel if r[7 + index]] or [r[9] for r in sel]
            rms.append(np.sqrt(np.mean([e[index] ** 2 for e in found])
                               / np.mean([e[2] ** 2 for e in found])))
        print(f"n={n:>8} d={d:>3} K={K:>3}: time/GM {np.mean([r[3] for r in sel]):5.2f}  "
              f"err/EM* {rms[0]:.3f} ({np.mean([r[4] for r in both]):.3f}), "
              f"GM {rms[1]:.3f} ({np.mean([r[5] for r in both]):.3f})"
              f"  ll-GM {np.mean([r[6] for r in sel]):+.4f}  found "
              f"{sum(r[7] for r in sel)}/{sum(r[8] for r in sel)} of {len(sel)}")


def _best_of(function, repeats=3):
    best = np.inf
    for _ in range(repeats):
        tic = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - tic)
    return best


def passes(args):
    d, K = args.d, args.k
    rng = np.random.default_rng(0)
    model = covariance_model("spherical", 1e-6)
    params = MixtureParams(rng.standard_normal((K, d)),
                           model.to_coordinates(model.from_spherical(np.full(K, 0.5),
                                                                     np.full(K, 1 / K), d)),
                           np.zeros(K))
    sizes = [10_000, 30_000, 100_000, 300_000, 1_000_000]
    times = []
    print(f"{'n':>9} | {'pass s':>8} | {'pooled s':>8} | {'floor s':>8} | pass/floor "
          f"pooled/floor   (d={d}, K={K}, 2 n noised rows, blocks of "
          f"{_objective.BLOCK_ROWS}; pooled: span noise dealt from a SpanNoisePool, as "
          f"in the fresh-noise stage)")
    for n in sizes:
        X = rng.standard_normal((n, d)).astype(args.dtype)
        seeds = _objective.draw_seeds(np.random.RandomState(0), n)
        t_pass = _best_of(lambda: _objective.stein_objective(X, params, 0.1, seeds=seeds,
                                                             model=model))
        pool = SpanNoisePool(np.random.default_rng(1), n, K, n_features=d, dtype=X.dtype)
        t_pooled = _best_of(lambda: _objective.stein_objective(
            X, params, 0.1, seeds=seeds, model=model,
            dealt=pool.deal(np.random.default_rng(2))))
        resp = np.full((2 * _objective.BLOCK_ROWS, K), 1.0 / K, dtype=args.dtype)
        block = np.concatenate([X[:_objective.BLOCK_ROWS]] * 2)

        means = params.means.astype(args.dtype)

        def floor():
            for _ in range(_objective.n_blocks(n)):
                block @ means.T
                resp.T @ block

        t_floor = _best_of(floor)
        times.append((t_pass, t_pooled))
        print(f"{n:>9} | {t_pass:8.4f} | {t_pooled:8.4f} | {t_floor:8.4f} | "
              f"{t_pass / t_floor:10.1f} {t_pooled / t_floor:12.1f}")
    for label, column in (("pass", 0), ("pooled pass", 1)):
        slope = np.polyfit(np.log(sizes), np.log([t[column] for t in times]), 1)[0]
        print(f"{label} time ~ n^{slope:.3f} over n = 1e4..1e6")


def memory(args):
    rows, chunk = int(float(args.rows)), int(float(args.chunk))
    d, K = 10, 4
    _, _, means = make_separated_mixture(10, d, K, random_state=0)
    rng = np.random.default_rng(1)
    model = DDPMGaussianMixture(K, covariance_type="spherical", random_state=0)
    chunk_bytes = chunk * d * 8
    peaks = []
    tic = time.perf_counter()
    tracemalloc.start()
    for _ in range(rows // chunk):
        X = means[rng.integers(K, size=chunk)] + rng.standard_normal((chunk, d))
        tracemalloc.reset_peak()
        model.partial_fit(X)
        peaks.append(tracemalloc.get_traced_memory()[1])
        del X
    tracemalloc.stop()
    first, peak = peaks[0], max(peaks[1:])
    error = np.linalg.norm(matched_mean_errors(model.means_, means))
    print(f"partial_fit over {model.n_samples_seen_:.3g} rows in chunks of {chunk:.3g} "
          f"(d={d}, K={K}): {time.perf_counter() - tic:.1f} s; peak traced memory of a "
          f"later call {peak / 2**20:.1f} MiB = {peak / chunk_bytes:.2f} chunks, of the "
          f"first (the cold start, as fit) {first / chunk_bytes:.2f} chunks (a chunk is "
          f"{chunk_bytes / 2**20:.1f} MiB and is included); mean error {error:.4f}")


def streaming(args):
    rows = int(float(args.rows))
    print(f"partial_fit over {args.chunks} chunks of {rows // args.chunks} rows against "
          f"fit on all {rows} rows and a converged EM on all of them (d=4, K=3, "
          f"{args.seeds} seeds): root mean square over seeds of the means' error "
          f"(Hungarian matched), and its ratios")
    for covariance_type in ("spherical", "diag", "identity", "full"):
        squared = []
        for seed in range(args.seeds):
            X, _, means = make_separated_mixture(rows, 4, 3, random_state=seed)
            streamed = DDPMGaussianMixture(3, covariance_type=covariance_type, random_state=0)
            for chunk in np.array_split(X, args.chunks):
                streamed.partial_fit(chunk)
            full = DDPMGaussianMixture(3, covariance_type=covariance_type,
                                       random_state=0).fit(X)
            em_type = "spherical" if covariance_type == "identity" else covariance_type
            em = GaussianMixture(3, covariance_type=em_type, tol=1e-8, max_iter=5000,
                                 means_init=full.means_).fit(X)
            squared.append([np.sum(matched_mean_errors(model.means_, means) ** 2)
                            for model in (streamed, full, em)])
        rms = np.sqrt(np.mean(squared, axis=0))
        print(f"{covariance_type:<10} rms error streamed {rms[0]:.4f} fit {rms[1]:.4f} "
              f"EM {rms[2]:.4f} | streamed/fit {rms[0] / rms[1]:.3f} "
              f"streamed/EM {rms[0] / rms[2]:.3f} fit/EM {rms[1] / rms[2]:.3f}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("fits")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--sizes", nargs="+", default=DEFAULT_SIZES, help="n,d,K")
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    p = sub.add_parser("passes")
    p.add_argument("--d", type=int, default=10)
    p.add_argument("--k", type=int, default=4)
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    p = sub.add_parser("memory")
    p.add_argument("--rows", default="1e7")
    p.add_argument("--chunk", default="1e5")
    p = sub.add_parser("streaming")
    p.add_argument("--rows", default="30000")
    p.add_argument("--chunks", type=int, default=6)
    p.add_argument("--seeds", type=int, default=12)
    args = parser.parse_args()
    {"fits": fits, "passes": passes, "memory": memory, "streaming": streaming}[args.what](args)


if __name__ == "__main__":
    main()
