"""Benchmarks: the Benchmark definition, data loading, and the built-in benchmarks."""
