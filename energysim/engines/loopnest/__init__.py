"""Loop-nest engine: any storage hierarchy, any mapping, counted per (level, tensor, action)."""

from energysim.engines.loopnest.engine import LoopNestEngine

__all__ = ["LoopNestEngine"]
