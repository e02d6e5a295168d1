"""The BLAS thread pool during a fit."""

import functools

from threadpoolctl import ThreadpoolController


@functools.cache
def _threadpool_controller():
    """threadpoolctl's view of the loaded thread pools, made once per process
    (making one scans the loaded libraries: 3-4 ms, a tenth of a fit of
    10^5 rows)."""
    return ThreadpoolController()


def one_blas_thread():
    """Context in which BLAS runs one thread.

    A pass is many small products on blocks of rows, (8192, d) x (d, K): on a
    shared 2-core machine two threads made the pass at n = 1e5, d = 50,
    K = 16 cost 4x the CPU time of one. Fits run under it in the main
    process and in joblib's workers alike, so the rounding, and the result,
    is the same for any ``n_jobs``.
    """
    return _threadpool_controller().limit(limits=1, user_api="blas")
