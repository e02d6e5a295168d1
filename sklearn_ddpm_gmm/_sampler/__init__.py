"""DiffusionMixtureSampler: cells, the piecewise polynomial denoiser, reverse integrators."""
