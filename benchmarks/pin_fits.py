"""Pin the outputs of a set of fits, to show that a refactor changes none of them.

Every covariance type, both final phases (the exact integrated objective and
the single-level estimator), the initialisations, ``n_init``, given starts,
``warm_start``, ``partial_fit``, ``sample_weight``, float32 input and the
model-selection grid; for each fit its attributes, ``schedule_``,
``loss_curve_`` and the outputs of its inference methods.

    OMP_NUM_THREADS=1 python benchmarks/pin_fits.py --save pins.npz
    OMP_NUM_THREADS=1 python benchmarks/pin_fits.py --check pins.npz

``--check`` compares bit for bit and lists every output that differs.
"""

import argparse
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sklearn_ddpm_gmm import DDPMGaussianMixture, DDPMGaussianMixtureIC
from sklearn_ddpm_gmm.datasets import make_covariance_mixture

TYPES = ("full", "tied", "diag", "spherical", "identity")
ATTRIBUTES = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_",
              "lower_bound_", "lower_bounds_", "n_iter_", "converged_", "loss_curve_",
              "n_samples_seen_")


def _data():
    X = make_covariance_mixture(n_samples=1500, n_features=3, n_components=3,
                                random_state=0)[0]
    return X


def _outputs(model, X):
    out = {name: np.asarray(getattr(model, name)) for name in ATTRIBUTES}
    out["schedule_"] = np.asarray(repr(model.schedule_))
    out["predict_proba"] = model.predict_proba(X[:50])
    out["score_samples"] = model.score_samples(X[:50])
    out["score_function"] = model.score_function(X[:20], t=0.3)
    out["sample"] = model.sample(5, random_state=0)[0]
    return out


def _cases(X):
    """(name, fitted model) for every pinned fit."""
    rng = np.random.RandomState(1)
    weights = rng.randint(0, 3, size=len(X)).astype(float)
    for kind in TYPES:
        base = dict(covariance_type=kind, random_state=0)
        yield f"{kind}/default", DDPMGaussianMixture(3, **base).fit(X)
        yield f"{kind}/auto", DDPMGaussianMixture(3, noise_level="auto", **base).fit(X)
        yield f"{kind}/kmeans", DDPMGaussianMixture(3, init_params="kmeans", **base).fit(X)
        yield f"{kind}/n_init", DDPMGaussianMixture(3, n_init=2, **base).fit(X)
        yield f"{kind}/n_init-auto", DDPMGaussianMixture(
            3, n_init=2, noise_level="auto", **base).fit(X)
        yield f"{kind}/means_init", DDPMGaussianMixture(
            3, means_init=X[:3], **base).fit(X)
        yield f"{kind}/means_init-auto", DDPMGaussianMixture(
            3, means_init=X[:3], noise_level="auto", **base).fit(X)
        yield f"{kind}/float32", DDPMGaussianMixture(3, **base).fit(X.astype(np.float32))
        yield f"{kind}/sample_weight", DDPMGaussianMixture(3, **base).fit(
            X, sample_weight=weights)
        warm = DDPMGaussianMixture(3, warm_start=True, max_iter=2, **base).fit(X)
        yield f"{kind}/warm_start", warm.fit(X)
        for noise in ("integrated", "auto"):
            model = DDPMGaussianMixture(3, noise_level=noise, **base)
            for chunk in np.array_split(X, 3):
                model.partial_fit(chunk)
            yield f"{kind}/partial_fit-{noise}", model
    # Enough rows for the single-level final stage's subsample ladder.
    large = make_covariance_mixture(n_samples=90_000, n_features=3, n_components=3,
                                    covariance_type="spherical", random_state=1)[0]
    yield "spherical/auto-large", DDPMGaussianMixture(
        3, covariance_type="spherical", noise_level="auto", random_state=0).fit(large)
    yield "one-component", DDPMGaussianMixture(1, random_state=0).fit(X)
    yield "float-level", DDPMGaussianMixture(2, noise_level=0.05, random_state=0).fit(X)
    search = DDPMGaussianMixtureIC(n_components=[1, 2, 3],
                                   covariance_type=["full", "diag"], random_state=0).fit(X)
    yield "ic", search.best_estimator_


def collect():
    X = _data()
    pins = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, model in _cases(X):
            for key, value in _outputs(model, X).items():
                pins[f"{name}:{key}"] = value
    return pins


def _identical(a, b):
    a, b = np.asarray(a), np.asarray(b)
    floating = np.issubdtype(a.dtype, np.inexact) and np.issubdtype(b.dtype, np.inexact)
    return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=floating)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", metavar="PATH")
    group.add_argument("--check", metavar="PATH")
    args = parser.parse_args()
    pins = collect()
    if args.save:
        np.savez(args.save, **pins)
        print(f"{len(pins)} outputs of {len({k.split(':')[0] for k in pins})} fits saved.")
        return
    saved = np.load(args.check)
    differ = [key for key in saved.files if key not in pins or not _identical(saved[key], pins[key])]
    missing = [key for key in pins if key not in saved.files]
    for key in differ:
        print("differs:", key)
    for key in missing:
        print("new:", key)
    print(f"{len(saved.files) - len(differ)} of {len(saved.files)} outputs bit-identical.")
    raise SystemExit(1 if differ else 0)


if __name__ == "__main__":
    main()
