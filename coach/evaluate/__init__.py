"""Batch evaluation and benchmarks: small callable evaluators with machine-readable output."""
