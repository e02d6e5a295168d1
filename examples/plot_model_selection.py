"""
Choosing the number of components: BIC and cross-validation
===========================================================

DDPMGaussianMixture has ``bic``, ``aic`` and ``score`` (mean log-likelihood)
like GaussianMixture, and works inside a :class:`~sklearn.pipeline.Pipeline`
and :class:`~sklearn.model_selection.GridSearchCV`. Two ways to choose
``n_components``:

* the Bayesian information criterion on the training data (lower is better);
* the held-out log-likelihood, by 3-fold cross-validation of a pipeline
  ``StandardScaler -> DDPMGaussianMixture`` (``GridSearchCV`` maximises
  ``score``).

Data: four Gaussian components in 3 dimensions with unequal weights, unequal
sizes and full covariances of condition number 10
(:func:`~sklearn_ddpm_gmm.datasets.make_covariance_mixture`).
"""

import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_ddpm_gmm import DDPMGaussianMixture
from sklearn_ddpm_gmm.datasets import make_covariance_mixture

X, y, weights, means, covariances = make_covariance_mixture(
    1500, 3, 4, covariance_type="full", random_state=0)
print("true weights:", np.round(weights, 3))
candidates = list(range(1, 7))

# %%
# BIC
# ---
# Models with more components than the data need can stall in the final phase
# (their extra components keep trading points) and raise ConvergenceWarning;
# the warnings are counted here instead of printed (none in this run).
bic = {"DDPMGaussianMixture": [], "GaussianMixture": []}
n_warnings = 0
tic = time.perf_counter()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", ConvergenceWarning)
    for k in candidates:
        bic["DDPMGaussianMixture"].append(
            DDPMGaussianMixture(k, random_state=0).fit(X).bic(X))
        bic["GaussianMixture"].append(GaussianMixture(k, random_state=0).fit(X).bic(X))
n_warnings += len(caught)
print(f"BIC over n_components = 1..{candidates[-1]} ({time.perf_counter() - tic:.1f} s)")
for name, values in bic.items():
    print(f"  {name:<20} " + " ".join(f"{v:9.1f}" for v in values)
          + f"   -> {candidates[int(np.argmin(values))]} components")

# %%
# Cross-validated log-likelihood in a pipeline
# --------------------------------------------
# The step's parameters are addressed as ``<step name>__<parameter>``.
cv = KFold(3, shuffle=True, random_state=0)
searches = {}
for name, estimator in [("DDPMGaussianMixture", DDPMGaussianMixture(random_state=0)),
                        ("GaussianMixture", GaussianMixture(random_state=0))]:
    pipe = make_pipeline(StandardScaler(), estimator)
    key = f"{pipe.steps[-1][0]}__n_components"
    tic = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        searches[name] = GridSearchCV(pipe, {key: candidates}, cv=cv).fit(X)
    n_warnings += len(caught)
    result = searches[name].cv_results_
    print(f"{name:<20} mean held-out log-likelihood "
          + " ".join(f"{v:6.3f}" for v in result["mean_test_score"])
          + f"   -> {searches[name].best_params_[key]} components"
          f" ({time.perf_counter() - tic:.1f} s)")
    for fold in range(cv.get_n_splits()):
        print(f"  fold {fold}: " + " ".join(
            f"{v:6.3f}" for v in result[f"split{fold}_test_score"]))
print(f"ConvergenceWarnings: {n_warnings}")

# %%
# BIC's penalty picks the true number when the fits find every cluster. The
# held-out likelihood rises until every cluster is covered and is flat after
# that; with 500 points per fold it can prefer one component too many. A
# fold's score that drops to the value of a smaller model is a start that
# merged two clusters: compare the rows above. If that happens, try more
# starts (``n_init``) or other seeds.
#
# The fitted search is an ordinary pipeline. ``Pipeline`` has no ``sample``:
# draw from the last step and map back with the scaler.
best = searches["DDPMGaussianMixture"].best_estimator_
X_new, labels = best[-1].sample(5, random_state=0)
print("samples in the data's units:\n", np.round(best[:-1].inverse_transform(X_new), 2))

fig, (ax_bic, ax_cv) = plt.subplots(1, 2, figsize=(10, 4))
for (name, values), marker in zip(bic.items(), ("o", "s")):
    ax_bic.plot(candidates, values, marker=marker, label=name)
    result = searches[name].cv_results_
    ax_cv.errorbar(candidates, result["mean_test_score"], yerr=result["std_test_score"],
                   marker=marker, capsize=3, label=name)
for ax in (ax_bic, ax_cv):
    ax.axvline(len(weights), color="k", lw=0.8, ls=":")
    ax.set_xlabel("n_components")
    ax.legend()
ax_bic.set_ylabel("BIC (lower is better)")
ax_cv.set_ylabel("held-out log-likelihood (standardised units)")
ax_bic.set_title("BIC on the training data")
ax_cv.set_title("3-fold GridSearchCV, mean ± sd")
fig.tight_layout()
plt.show()
