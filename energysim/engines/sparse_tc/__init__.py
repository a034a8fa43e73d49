"""Kind ``sparse_tc``: an A100-class GPU's dense and 2:4 sparse tensor cores."""

from energysim.engines.sparse_tc.engine import SparseTensorCoreEngine

__all__ = ["SparseTensorCoreEngine"]
