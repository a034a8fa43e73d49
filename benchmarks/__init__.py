"""Benchmarks of energysim (run ``python -m benchmarks``; see :mod:`benchmarks.run_all`)."""
