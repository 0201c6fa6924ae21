"""Benchmarks: one module per subject, each a ratio against a baseline measured in the same run."""
