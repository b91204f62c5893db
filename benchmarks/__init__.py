"""Benchmark scripts, run by path (see README); a package so that tests can import their shared helpers."""
