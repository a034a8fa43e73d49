"""Kind ``dense``: a systolic PE array, output- or weight-stationary, every MAC executed."""

from energysim.engines.dense.engine import DenseEngine

__all__ = ["DenseEngine"]
