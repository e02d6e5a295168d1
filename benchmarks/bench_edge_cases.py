"""Outcome of fits at scales from 1e-300 to 1e300, for each covariance type:
DDPMGaussianMixture against scikit-learn's GaussianMixture ("identity" is
compared with GaussianMixture's "spherical").

Each cell is "fit" (finite means, weights, covariances, precisions, and
finite training log-densities and posteriors), "NaN" (a fit with non-finite
attributes or training densities), or the exception's type and the number of
its message, listed below the table. Where both fit, the cell ends with the
difference of their mean training log-likelihoods (DDPM minus
GaussianMixture; not for identity, a different model from spherical).

    python benchmarks/bench_edge_cases.py [n_samples] [n_features] [n_components]
"""

import sys
import warnings

import numpy as np
from sklearn.mixture import GaussianMixture

from sklearn_ddpm_gmm import DDPMGaussianMixture

SCALES = (1e-300, 1e-200, 1e-100, 1e-20, 1.0, 1e20, 1e100, 1e155, 1e200, 1e300)
TYPES = ("full", "tied", "diag", "spherical", "identity")


def outcome(estimator, X, messages):
    """"fit", "NaN", or the exception's type and its message's number in
    ``messages`` (appended when new)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            estimator.fit(X)
            arrays = [estimator.weights_, estimator.means_, estimator.covariances_,
                      estimator.precisions_, estimator.score_samples(X),
                      estimator.predict_proba(X)]
        except Exception as error:  # noqa: BLE001 - the outcome is the point
            message = f"{type(error).__name__}: {str(error)[:110]}"
            if message not in messages:
                messages.append(message)
            return f"{type(error).__name__} [{messages.index(message) + 1}]"
    return "fit" if all(np.all(np.isfinite(a)) for a in arrays) else "NaN"


def main(n_samples=200, n_features=3, n_components=2):
    rng = np.random.default_rng(0)
    base = rng.normal(size=(n_samples, n_features))
    base[: n_samples // 2] += 4.0
    print(f"{n_samples} rows, {n_features} features, {n_components} components, "
          "two normal clusters 4 apart, times the scale. Each cell: "
          "DDPMGaussianMixture / GaussianMixture (identity: GaussianMixture's "
          "spherical).\n")
    print("| scale | " + " | ".join(TYPES) + " |")
    print("|---" * (len(TYPES) + 1) + "|")
    messages = []
    for scale in SCALES:
        X = base * scale
        cells = []
        for covariance_type in TYPES:
            ddpm = DDPMGaussianMixture(n_components, covariance_type=covariance_type,
                                       random_state=0)
            gm = GaussianMixture(n_components, random_state=0, covariance_type=(
                "spherical" if covariance_type == "identity" else covariance_type))
            ours, theirs = outcome(ddpm, X, messages), outcome(gm, X, messages)
            # (Identity is another model than spherical: no comparison.)
            gap = (f" ({ddpm.score(X) - gm.score(X):+.3f})"
                   if ours == theirs == "fit" and covariance_type != "identity" else "")
            cells.append(f"{ours} / {theirs}{gap}")
        print(f"| {scale:.0e} | " + " | ".join(cells) + " |", flush=True)
    print()
    for number, message in enumerate(messages, 1):
        print(f"[{number}] {message}")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:]))
