"""The project's reductions on tall (n, K) arrays against scipy's."""

import numpy as np
import pytest
from scipy.special import logsumexp, softmax

from sklearn_ddpm_gmm._numerics._fastops import (
    log_normalise,
    posteriors_in_place,
    row_dots,
    row_sums,
)


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


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_posteriors_below_the_smallest_normal_number_are_zero(dtype):
    # exp of such gaps is subnormal (numpy's slow path, and slow products
    # after it); the posteriors flush it to 0 and move none by more than e
    # times the smallest normal number.
    tiny = np.finfo(dtype).tiny
    lowest = np.log(tiny)
    gaps = np.array([0.0, lowest + 2.0, lowest + 0.5, lowest - 0.5, lowest - 5.0, -np.inf])
    log_prob = np.stack([gaps, np.roll(gaps, 1)]).astype(dtype)
    exact = np.exp(gaps - logsumexp(gaps))
    exact = np.stack([exact, np.roll(exact, 1)])
    _, resp = log_normalise(log_prob)
    in_place = posteriors_in_place(log_prob.T.copy()).T
    for posteriors in (resp, in_place):
        assert posteriors.dtype == dtype
        np.testing.assert_allclose(posteriors, exact, rtol=4 * np.finfo(dtype).eps,
                                   atol=np.e * tiny)
        # Subnormal exponentials are 0; two steps of e above them, kept.
        assert np.all(posteriors[0, 3:] == 0) and np.all(posteriors[1, 4:] == 0)
        assert posteriors[0, 1] > tiny and posteriors[1, 2] > tiny


@pytest.mark.parametrize("width", [3, 16, 40])
def test_row_reductions_are_numpys(width):
    rng = np.random.RandomState(0)
    A, B = rng.standard_normal((2, 100, width))
    np.testing.assert_allclose(row_sums(A), A.sum(axis=1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(row_dots(A, B), (A * B).sum(axis=1), rtol=1e-12, atol=1e-12)
