"""Configuration at the file boundary: strict pydantic models and TOML loading."""

from energysim.config.loading import load_toml, validate_model

__all__ = ["load_toml", "validate_model"]
