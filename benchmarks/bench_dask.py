"""DDPMGaussianMixture on a Dask array over dask.distributed, against the same
fit in memory.

The rows are generated on the workers, block by block (a separated mixture
with random full covariances, d = 10, K = 4), and persisted there, so the
client never holds X.
For each n: the fit on a LocalCluster of 1 and of 2 worker processes (one
thread each, 127.0.0.1), its time, the peak resident memory of each worker
and the growth of the client's during the fit; then the in-memory fit of
``X.compute()`` on the client, its time, and the largest relative difference
of the fitted means.

    python benchmarks/bench_dask.py [--n 4e5,1e6,4e6] [--chunk 100000]
"""

import argparse
import resource
import time

import numpy as np

from sklearn_ddpm_gmm import DDPMGaussianMixture
from sklearn_ddpm_gmm.datasets import make_covariance_mixture

D, K = 10, 4


def _dask_rows(n, chunk):
    import dask.array as da

    n_blocks = n // chunk

    def make(block_info=None):
        location = block_info[None]["chunk-location"]
        # The same mixture in every block (parameters of seed 0), fresh points.
        means, cov = make_covariance_mixture(2, D, K, random_state=0)[3:]
        rng = np.random.default_rng(1000 + location[0])
        labels = rng.integers(0, K, chunk)
        factors = np.linalg.cholesky(cov)
        return means[labels] + np.einsum("nij,nj->ni", factors[labels],
                                         rng.standard_normal((chunk, D)))

    return da.map_blocks(make, chunks=((chunk,) * n_blocks, (D,)), dtype=np.float64)


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    import distributed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="4e5,1e6")
    parser.add_argument("--chunk", type=int, default=100_000)
    args = parser.parse_args()
    print(f"{'n':>9}{'workers':>8} | {'t dask':>7} {'peak/worker MB':>15} {'client +MB':>11} | "
          f"{'t memory':>9} {'client MB':>10} | {'max rel diff':>12}")
    for n in (int(float(v)) for v in args.n.split(",")):
        for n_workers in (1, 2):
            with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1,
                                          processes=True, host="127.0.0.1",
                                          dashboard_address=None, silence_logs=50) as cluster, \
                    distributed.Client(cluster) as client:
                # Held in the workers' memory, as data on a cluster usually are
                # (otherwise every pass would generate, or read, the blocks again).
                X = _dask_rows(n, args.chunk).persist()
                distributed.wait(X)
                before = _peak_rss_mb()
                tic = time.perf_counter()
                on_cluster = DDPMGaussianMixture(K, random_state=0).fit(X)
                t_dask = time.perf_counter() - tic
                client_growth = _peak_rss_mb() - before
                peaks = client.run(_peak_rss_mb)
                if n_workers == 2:
                    X_memory = X.compute()
            print(f"{n:>9}{n_workers:>8} | {t_dask:7.2f} {max(peaks.values()):15.0f} "
                  f"{client_growth:11.0f} |", end="", flush=True)
            if n_workers == 2:
                tic = time.perf_counter()
                in_memory = DDPMGaussianMixture(K, random_state=0).fit(X_memory)
                t_memory = time.perf_counter() - tic
                diff = np.max(np.abs(on_cluster.means_ - in_memory.means_)
                              / np.abs(in_memory.means_).max())
                print(f" {t_memory:9.2f} {_peak_rss_mb():10.0f} | {diff:12.1e}", flush=True)
                del X_memory
            else:
                print(f" {'':>9} {'':>10} |", flush=True)


if __name__ == "__main__":
    main()
