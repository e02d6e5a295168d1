"""DDPMGaussianMixture against GaussianMixture on data that ships with scikit-learn.

Standardised features, 70/30 split, n_components = number of classes,
covariance_type="spherical" for both. Prints held-out mean log-likelihood,
adjusted Rand index against the class labels, fit time, and the differences.

    python benchmarks/bench_real_data.py
"""

import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sklearn_ddpm_gmm import DDPMGaussianMixture

DATASETS = [("iris", load_iris), ("wine", load_wine),
            ("breast_cancer", load_breast_cancer), ("digits", load_digits)]


def _evaluate(model, X_train, X_test, y_test):
    tic = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train)
    elapsed = time.perf_counter() - tic
    return model.score(X_test), adjusted_rand_score(y_test, model.predict(X_test)), elapsed


def main():
    print(f"{'data':<14}{'K':>3} | {'ll DDPM':>9}{'ll GM':>9}{'D-GM':>8} | "
          f"{'ARI DDPM':>9}{'ARI GM':>8} | {'t DDPM':>7}{'t GM':>6}")
    for name, loader in DATASETS:
        X, y = loader(return_X_y=True)
        K = len(np.unique(y))
        X_train, X_test, _, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        ll_d, ari_d, t_d = _evaluate(DDPMGaussianMixture(K, random_state=0),
                                     X_train, X_test, y_test)
        ll_g, ari_g, t_g = _evaluate(
            GaussianMixture(K, covariance_type="spherical", random_state=0),
            X_train, X_test, y_test)
        print(f"{name:<14}{K:>3} | {ll_d:9.3f}{ll_g:9.3f}{ll_d - ll_g:8.3f} | "
              f"{ari_d:9.3f}{ari_g:8.3f} | {t_d:7.2f}{t_g:6.2f}")


if __name__ == "__main__":
    main()
