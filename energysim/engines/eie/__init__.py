"""Kind ``eie``: compressed sparse matrix x sparse vector on EIE's PE array, cycle-level."""

from energysim.engines.eie.engine import EieEngine

__all__ = ["EieEngine"]
