"""The covariance prior of fits with missing entries: one pseudo-row.

With every coordinate observed, a component carrying more rows than
features has a bounded likelihood, and the fits maximise it (GaussianMixture's
semantics). With holes it does not: a direction is seen only by the rows that
observe every coordinate it involves, a share ``(1 - missing)**d`` of them
for a dense direction in d features, so a component of many rows can still
narrow along it without bound, and EM crawls there. Such a maximum is
spurious (held-out figures in ``docs/user_guide/missing.rst``), and
reg_covar's 1e-6 only bounds it where it is already useless.

The remedy is the classical one for sparse missing-data likelihoods (Schafer
1997's ridge prior; Fraley & Raftery 2007's conjugate prior for mixtures,
mclust's ``priorControl``), at its weakest: the penalty

    log p(Sigma) = -(nu / 2) (tr(D Sigma^{-1}) - log det(D Sigma^{-1}) - d)

for each covariance (the shared one once): up to a constant, the
log-likelihood of ``nu = 1`` pseudo-row with scatter ``D``, the data's
per-feature variances shrunk to one component's share of the volume
(``K**(-2/d)``, Fraley & Raftery's scale), plus reg_covar. Written as Stein's
loss between Sigma and D, it is zero at Sigma = D and the same in any units,
so ``lower_bound_`` (log-likelihood plus penalty, per row) converts between
units as the log-likelihood does. EM then maximises the observed-data
log-likelihood plus this penalty
(:meth:`._covariance.CovarianceType.prior_log_density`): its M-step adds
``nu D`` to each component's scatter and ``nu`` to its mass
(:meth:`._covariance.CovarianceType.with_prior`), which bounds every
covariance below by ``D / (N_k + 1)`` and moves a component of N_k rows by a
share ``1 / (N_k + 1)``. (Exactly, the M-step is ``(W_k + nu D_0) / (N_k +
nu) + reg_covar``, D_0 being D less reg_covar, as GaussianMixture adds
reg_covar after its M-step: the fixed point is stationary for the penalty up
to ``reg_covar``'s order.) Complete rows take no prior.

The pseudo-row weighs 1, as a row of ``sample_weight`` 1 does: integer
weights stay repeated rows, and scaling every weight scales the data's share
against the prior (as scikit-learn's penalised estimators read
``sample_weight``). ``partial_fit`` gives each chunk the chunk's share of
the pseudo-row, so that the stream as a whole carries one.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: Pseudo-rows of the prior: a single row's worth (any positive number bounds
#: the likelihood; 0.1-2 were measured on wine, breast cancer and iris, see
#: docs/user_guide/missing.rst).
PSEUDO_ROWS = 1.0


class CovariancePrior(NamedTuple):
    """``pseudo_rows`` rows whose scatter is ``diag(scatter)``."""

    pseudo_rows: float
    scatter: np.ndarray  # (n_features,), a diagonal

    @classmethod
    def of(cls, column_variances: np.ndarray, n_components: int,
           pseudo_rows: float = PSEUDO_ROWS) -> CovariancePrior:
        """The prior of rows with these per-feature variances, for a mixture
        of ``n_components`` components."""
        n_features = len(column_variances)
        return cls(pseudo_rows, column_variances * float(n_components) ** (-2.0 / n_features))


def column_variances(X: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
    """Each column's variance over its observed (non-NaN) entries, weighted
    (0 for a column whose observed entries all weigh 0)."""
    observed = ~np.isnan(X)
    weights = observed * (1.0 if sample_weight is None else sample_weight[:, np.newaxis])
    filled = np.where(observed, X, 0.0)
    totals = weights.sum(axis=0)
    weighed = totals > 0.0
    means = np.divide((weights * filled).sum(axis=0), totals, out=np.zeros(len(totals)),
                      where=weighed)
    return np.divide((weights * (filled - means) ** 2).sum(axis=0), totals,
                     out=np.zeros(len(totals)), where=weighed)
