"""Drover benchmarks: `python -m bench.torc_figures` (see bench/README.md)."""
