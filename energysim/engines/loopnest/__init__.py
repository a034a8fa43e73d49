"""Loop-nest engine: any storage hierarchy, any mapping, counted per (level, tensor, action)."""
