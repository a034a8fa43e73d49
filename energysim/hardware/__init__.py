"""Memory hierarchy and priced hardware, bound to a cost table."""

from energysim.hardware.hierarchy import Hardware, MemoryLevel, load_hardware

__all__ = ["Hardware", "MemoryLevel", "load_hardware"]
