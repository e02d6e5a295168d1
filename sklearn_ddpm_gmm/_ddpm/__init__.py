"""The DDPM machinery: forward process, score model and objective, optimiser, schedule, cold start."""
