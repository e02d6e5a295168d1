"""The project's reductions on tall (n, K) arrays against scipy's."""

import numpy as np
import pytest
from scipy.special import logsumexp, softmax

from sklearn_ddpm_gmm._numerics._fastops import log_normalise, row_dots, row_sums


@pytest.mark.parametrize("overwrite", [False, True])
def test_log_normalise_is_scipys_logsumexp_and_softmax(overwrite):
    rng = np.random.RandomState(0)
    log_prob = 30.0 * rng.standard_normal((200, 4))
    log_prob[0] = -np.inf  # a row no component explains
    log_prob[1, 2] = -np.inf  # a component of weight zero
    given = log_prob.copy()
    with np.errstate(invalid="ignore"):  # row 0's posteriors: 0 / 0 (callers handle it)
        log_norm, resp = log_normalise(given, overwrite=overwrite)
    finite = slice(1, None)
    np.testing.assert_allclose(log_norm[finite], logsumexp(log_prob[finite], axis=1),
                               rtol=1e-13)
    np.testing.assert_allclose(resp[finite], softmax(log_prob[finite], axis=1),
                               rtol=1e-12, atol=1e-300)
    assert log_norm[0] == -np.inf
    # The caller's array is left alone unless it may be overwritten, and
    # overwriting changes no number.
    if overwrite:
        assert resp is given
    else:
        np.testing.assert_array_equal(given, log_prob)
        with np.errstate(invalid="ignore"):
            log_norm_in_place, resp_in_place = log_normalise(given.copy(), overwrite=True)
        np.testing.assert_array_equal(log_norm_in_place, log_norm)
        np.testing.assert_array_equal(resp_in_place, resp)


@pytest.mark.parametrize("width", [3, 16, 40])
def test_row_reductions_are_numpys(width):
    rng = np.random.RandomState(0)
    A, B = rng.standard_normal((2, 100, width))
    np.testing.assert_allclose(row_sums(A), A.sum(axis=1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(row_dots(A, B), (A * B).sum(axis=1), rtol=1e-12, atol=1e-12)
