"""The Gaussian-mixture core: parameters, covariance types, EM, rows in memory or on Dask."""
