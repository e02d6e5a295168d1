"""The batched inverse and log-determinant of small SPD matrices
(``_numerics._small_spd``) against LAPACK's, matrix by matrix."""

import numpy as np
import pytest

from sklearn_ddpm_gmm._numerics._small_spd import inverse_and_log_det


@pytest.mark.parametrize("q", [1, 2, 3, 5, 7])
def test_inverse_and_log_det_match_lapack(q):
    rng = np.random.default_rng(q)
    factors = rng.standard_normal((3, 4, q, q + 2))
    # Condition numbers up to about 1e4, so that the comparison is at rounding.
    matrices = factors @ np.swapaxes(factors, -1, -2) + 1e-3 * np.eye(q)
    inverses, log_det = inverse_and_log_det(matrices)
    assert inverses.shape == (q, q, 3, 4) and log_det.shape == (3, 4)
    expected = np.linalg.inv(matrices)
    np.testing.assert_allclose(np.moveaxis(inverses, (0, 1), (2, 3)), expected,
                               rtol=1e-8, atol=1e-8 * np.abs(expected).max())
    np.testing.assert_allclose(log_det, np.linalg.slogdet(matrices)[1], rtol=1e-12, atol=1e-10)


def test_a_matrix_that_is_not_positive_definite_has_no_finite_log_det():
    matrices = np.array([[[2.0, 0.0], [0.0, 1.0]],
                         [[1.0, 2.0], [2.0, 1.0]],    # eigenvalues 3 and -1
                         [[1.0, 1.0], [1.0, 1.0]]])   # singular
    _, log_det = inverse_and_log_det(matrices)
    assert np.isfinite(log_det[0]) and not np.isfinite(log_det[1:]).any()
