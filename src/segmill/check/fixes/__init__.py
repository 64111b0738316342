"""``segmill fix``: the safe automatic fixes of check rules, in one fixed order.

A rule declares its fix with ``fix=`` on :func:`segmill.check.registry.rule`
(a :class:`~segmill.check.registry.Fix`: stage, name, what it does, when it
applies); the fixes themselves live here, one module per kind of repair:

========================  =======================================  ======  ======================
module                    fix                                      stage   rules
========================  =======================================  ======  ======================
:mod:`.parts`             drop malformed polygon parts             10      G001 G002 G003
:mod:`.parts`             drop annotations with nothing to show    20      G004 G005
:mod:`.rle_size`          RLE size from its image                  30      G008
:mod:`.repair`            repair self-crossing rings (make_valid)  40      G006
:mod:`.clip`              clip to the image                        50      G007
:mod:`.stored`            recompute stored area and bbox           60      G011 G012 G015 G016
:mod:`.duplicates`        drop exact copies                        70      C002
:mod:`.categories`        drop unused categories                   80      S010
========================  =======================================  ======  ======================

A fix that changes a geometry also recomputes the stored area and bbox the
annotation had, so no stale value is left for a later stage.

Public API
----------
:func:`fix`
    ``fix(dataset, select=None, ignore=None) -> (Dataset, FixReport)``.
:class:`FixReport`, :class:`Change`
    What was fixed, and what was left.
:func:`render_fix_text`
    The report as text (``file:record: CODE fixed: what`` lines and a summary).
"""

from __future__ import annotations

from .apply import MAX_ROUNDS, SCHEMA, FixReport, fix
from .report import fix_summary, render_fix_text
from .state import Change, FixState, Spot

__all__ = ["fix", "FixReport", "Change", "FixState", "Spot", "render_fix_text", "fix_summary", "SCHEMA",
           "MAX_ROUNDS"]
