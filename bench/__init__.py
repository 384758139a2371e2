"""Benchmarks: each prints a readable table; ``--json`` adds one JSON line last."""
