"""Bridges between representations: mask -> polygon tracing, semantic -> instance
splitting, instance -> class-map composition, polygon simplification.

Modules are imported on demand (``from segmill.bridges.trace import trace``).
"""

__all__ = ["trace", "split", "compose", "simplify"]
