"""Calibration runs: one lifecycle (queue, progress, apply, rollback) for S–H, IRT and sweeps."""
