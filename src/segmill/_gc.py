"""One pause of the cycle collector around work that makes millions of acyclic objects."""

from __future__ import annotations

import contextlib
import gc

__all__ = ["no_gc"]


@contextlib.contextmanager
def no_gc():
    """Keep the cycle collector off for the block; reference counting still frees everything.

    Reading, checking or writing a big dataset makes millions of objects
    without cycles; the collector would walk them again and again (about
    40 % of the time on a val2017-sized file). On the way out everything
    tracked is promoted to the oldest generation (``gc.freeze()`` +
    ``gc.unfreeze()``, two list splices), so re-enabling does not start by
    scanning the whole new dataset as "young" objects (4 s after reading a
    million annotations); nothing is exempted from collection.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.freeze()
            gc.unfreeze()
            gc.enable()
