"""Bundled hardware configs: one accelerator per TOML file, installed as ``energysim.bundled.hwconfigs``."""
