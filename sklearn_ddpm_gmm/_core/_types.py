"""The names of the covariance types (see _covariance_model.CovarianceModel)."""

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical", "identity")
# The types with one variance per component ("identity": fixed at one).
ONE_VARIANCE = ("spherical", "identity")
