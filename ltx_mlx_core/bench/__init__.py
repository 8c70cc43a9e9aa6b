"""Benchmarks: per-stage timings and peak memory (`ltx-mlx bench`), shared with tests/perf."""
