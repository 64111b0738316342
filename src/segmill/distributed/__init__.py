"""Sharded runs on dask.distributed: ``segmill info|convert|check|agree --workers N``.

A dataset is cut into shards (:mod:`.shards`: a format's own parts, such as
runs of SA-1B tar shards, or ranges of item positions); each shard is read,
counted, checked or measured on a worker (for ``convert --to coco``, its
records rendered there too, see :mod:`.convert`), and the driver merges the
parts so that the result equals the single-process one (byte for byte for
``convert``). ``dask[distributed]`` is optional: ``pip install 'segmill[dask]'``.
See ``docs/scale.md``.
"""

from .agree import AgreeSources, measure_sharded
from .check import PER_IMAGE_RULES, SKELETON_RULES, check_sharded
from .cluster import SCHEDULER_ENV, connect, require_distributed
from .convert import convert_sharded, read_sharded
from .info import summarize_sharded
from .shards import PositionRange, Shard, plan

__all__ = [
           "PER_IMAGE_RULES",
           "SCHEDULER_ENV",
           "SKELETON_RULES",
           "AgreeSources",
           "PositionRange",
           "Shard",
           "check_sharded",
           "connect",
           "convert_sharded",
           "measure_sharded",
           "plan",
           "read_sharded",
           "require_distributed",
           "summarize_sharded",
]
