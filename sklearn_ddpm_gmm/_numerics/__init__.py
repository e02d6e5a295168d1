"""Numerics shared by every part: log-sum-exp on tall arrays, BLAS-thread control."""
