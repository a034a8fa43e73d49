"""Bundled workloads: one network per TOML file (and pruned models under ``pruned/``), installed as ``energysim.bundled.workloads``."""
