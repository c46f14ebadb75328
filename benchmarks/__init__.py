"""Benchmarks: what the app adds on top of PostgreSQL, each figure next to its floor.

Run them all with `python -m benchmarks` (see benchmarks/run.py), or some of them with
`--only`; never timed asserts in tests. Each `bench_*.py` module is one measurement with a
`run(ctx)` that returns its rows.
"""
