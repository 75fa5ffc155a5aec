"""Benchmarks: `python -m bench.overhead` (gateway overhead), `bench/local_model.py` (local model speed)."""
