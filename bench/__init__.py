"""Benchmarks of Pelanggan: `python -m bench.run` (see docs/benchmarks.md)."""
