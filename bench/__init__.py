"""Benchmarks: each prints its figures; results and machine notes go in docs/PERFORMANCE.md."""
