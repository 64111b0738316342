"""The rule modules; importing this package registers every rule."""

from . import consistency, geometry, pairs, structure  # noqa: F401
