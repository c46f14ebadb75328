"""Benchmarks: what the app adds on top of PostgreSQL, each figure next to its floor.

Run them all with `python -m benchmarks` (see benchmarks/run.py); never timed asserts in
tests. The older single-purpose scripts (context_bench.py, figure_bench.py) still run on
their own and are reused by the suite.
"""
