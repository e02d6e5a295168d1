"""
Streaming with partial_fit (and Dask)
=====================================

``partial_fit`` lets DDPMGaussianMixture learn from data that arrives in
chunks, or does not fit in memory: the first call runs the cold start on the
first chunk, each later call runs the EM-level phase on its chunk from the
current estimate and keeps a running average of the chunk estimates, weighted
by their rows. Memory is bounded by the chunk.

Here 60 000 rows arrive in 12 chunks. The error of the means after each chunk
falls like that of a fit on all the rows seen so far; the last value is
compared with ``fit`` on everything and with scikit-learn's GaussianMixture.
Where dask, distributed and dask-ml are installed, the same stream runs through
``dask_ml.wrappers.Incremental`` on a local cluster.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.mixture import GaussianMixture

from sklearn_ddpm_gmm import DDPMGaussianMixture
from sklearn_ddpm_gmm.datasets import make_separated_mixture
from sklearn_ddpm_gmm.metrics import matched_mean_error

X, _, means = make_separated_mixture(60_000, 5, 3, random_state=0)
chunks = np.array_split(X, 12)

streamed = DDPMGaussianMixture(3, covariance_type="spherical", random_state=0)
seen, errors = [], []
for chunk in chunks:
    streamed.partial_fit(chunk)
    seen.append(streamed.n_samples_seen_)
    errors.append(matched_mean_error(streamed.means_, means))

full = DDPMGaussianMixture(3, covariance_type="spherical", random_state=0).fit(X)
gm = GaussianMixture(3, covariance_type="spherical", random_state=0).fit(X)
print(f"partial_fit over 12 chunks: mean error {errors[-1]:.4f}")
print(f"fit on all rows:            mean error {matched_mean_error(full.means_, means):.4f}")
print(f"GaussianMixture on all:     mean error {matched_mean_error(gm.means_, means):.4f}")

try:
    import dask.array as da
    from dask_ml.wrappers import Incremental
    from distributed import Client, LocalCluster
except ImportError:
    print("dask, distributed or dask-ml not installed: the Dask part is skipped")
else:
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster):
        X_dask = da.from_array(X, chunks=(5_000, 5))
        wrapped = Incremental(
            DDPMGaussianMixture(3, covariance_type="spherical", random_state=0),
            shuffle_blocks=False,
        ).fit(X_dask)
    print(f"Dask Incremental:           mean error "
          f"{matched_mean_error(wrapped.estimator_.means_, means):.4f} (same chunks, "
          f"same result as the loop above)")

fig, ax = plt.subplots(figsize=(6, 4))
ax.loglog(seen, errors, "o-", label="partial_fit, after each chunk")
reference = errors[0] * np.sqrt(seen[0] / np.asarray(seen))
ax.loglog(seen, reference, "k:", label=r"$\propto 1/\sqrt{\mathrm{rows\ seen}}$")
ax.axhline(matched_mean_error(full.means_, means), color="C1", ls="--",
           label="fit on all 60 000 rows")
ax.set_xlabel("rows seen")
ax.set_ylabel("mean error |mu - mu*| (matched)")
ax.legend()
fig.tight_layout()
plt.show()
