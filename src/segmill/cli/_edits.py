"""The dataset-edit flags of ``segmill convert`` (``--map``, ``--keep-class``, ``--split``...), in command-line order.

click gathers the values of each option but not the order options were
given in; :class:`EditingCommand` keeps the parser's order of occurrences in
``ctx.meta[ORDER_KEY]`` and :func:`transforms_from` turns the flags into
:mod:`segmill.transforms` steps in that order:

* each ``--map`` and each ``--map-file`` is a step of its own;
* all ``--keep-class`` names are one step, where the first ``--keep-class``
  is; the same for ``--drop-class``;
* ``--min-area``, ``--drop-crowd``, ``--split`` and ``--sample`` are one
  step each (given twice, a usage error); ``--seed`` and ``--stratify`` are
  settings of ``--split`` / ``--sample``.

``--split`` is shared with the writers' ``split`` option (yolo,
cityscapes): a value with ``=`` (``train=0.8,val=0.2``) assigns splits; a
plain name (``val``) is that writer option, as before.
"""

from __future__ import annotations

import click

from ..errors import InputError, UsageError
from ..validate import brief, finite, int_in
from ._format_options import FormatOptionsCommand

ORDER_KEY = "segmill.option_order"

#: The parameters that are steps, in the order used when the parser's order is unknown.
STEP_PARAMS = ("map_", "map_file", "keep_class", "drop_class", "min_area", "drop_crowd", "split", "sample")
#: Every edit parameter: the steps and their settings (the command keeps them out of the format options).
EDIT_PARAMS = STEP_PARAMS + ("stratify", "seed")


class EditingCommand(FormatOptionsCommand):
    """A :class:`FormatOptionsCommand` that records the order its options were given in."""

    def make_parser(self, ctx):
        parser = super().make_parser(ctx)
        parse = parser.parse_args

        def parse_args(args):
            opts, rest, order = parse(args=args)
            ctx.meta[ORDER_KEY] = [p.name for p in order]
            return opts, rest, order

        parser.parse_args = parse_args
        return parser


def edit_options(func):
    """The edit flags, as one decorator (values are strings, checked by :func:`transforms_from`)."""
    opts = [
        click.option("--map", "map_", multiple=True, metavar="OLD=NEW",
                     help="Rename class OLD to NEW, or merge it into the class named NEW (repeatable)."),
        click.option("--map-file", multiple=True, metavar="FILE",
                     help="Many --map pairs: YAML 'old: new', or lines 'old new' / 'old,new' (# comments)."),
        click.option("--keep-class", multiple=True, metavar="NAME",
                     help="Keep only these classes and their annotations (repeatable)."),
        click.option("--drop-class", multiple=True, metavar="NAME",
                     help="Remove these classes and their annotations (repeatable)."),
        click.option("--min-area", metavar="PX", help="Drop annotations of fewer pixels (pycocotools rule)."),
        click.option("--drop-crowd", is_flag=True, default=None, help="Drop crowd annotations."),
        click.option("--split", "split", metavar="SPEC",
                     help="NAME=FRACTION,... assigns every image a split (e.g. train=0.8,val=0.2); a plain "
                          "NAME is the yolo / cityscapes writer's split option."),
        click.option("--stratify", is_flag=True, default=None,
                     help="With --split: spread each set of classes over the splits."),
        click.option("--sample", metavar="N", help="Keep N images, chosen by --seed."),
        click.option("--seed", metavar="N", help="Seed of --split and --sample (default 0)."),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def is_split_spec(value) -> bool:
    """Whether a ``--split`` value assigns splits (``a=0.8,b=0.2``) rather than being the writers' ``split`` option."""
    return isinstance(value, str) and "=" in value


def _number(text: str, flag: str, *, integer: bool) -> float | int:
    """A flag's value as a number >= 0, checked by :mod:`segmill.validate`; a one-line usage error otherwise."""
    try:
        value = int(text) if integer else float(text)
        return int_in(value, flag, lo=0) if integer else finite(value, flag, lo=0)
    except (ValueError, OverflowError):
        kind = "an integer" if integer else "a number"
        raise UsageError(f"{flag} must be {kind} >= 0, got {brief(text)}") from None
    except InputError as exc:
        raise UsageError(exc.message) from None


def _map_pair(text: str) -> dict[str, str]:
    old, eq, new = text.partition("=")
    if not eq or "=" in new or not old or not new:
        raise UsageError(f"--map {brief(text)}: expected OLD=NEW (two class names and one '=')")
    return {old: new}


def _step(name: str, value, values: dict, seed: int):
    """The transform of one step flag."""
    # lazy: start-up time (segmill.cli imports no library module until a command runs)
    from .. import transforms as T

    if name == "map_":
        return T.MapClasses(_map_pair(value))
    if name == "map_file":
        return T.MapClasses(T.read_map_file(value))
    if name == "keep_class":
        return T.KeepClasses(tuple(values["keep_class"]))
    if name == "drop_class":
        return T.DropClasses(tuple(values["drop_class"]))
    if name == "min_area":
        return T.MinArea(_number(value, "--min-area", integer=False))
    if name == "drop_crowd":
        return T.DropCrowd()
    if name == "split":
        try:
            spec = T.parse_split(value)
        except UsageError as exc:
            raise UsageError(f"--split {brief(value)}: {exc}") from None
        return T.Split(spec, seed, bool(values.get("stratify")))
    if name == "sample":
        return T.Sample(_number(value, "--sample", integer=True), seed)
    raise AssertionError(name)  # pragma: no cover - STEP_PARAMS and this function list the same flags


def transforms_from(ctx: click.Context, values: dict) -> list:
    """The transforms the edit flags in ``values`` ask for, in command-line order.

    Raises
    ------
    segmill.errors.UsageError
        A malformed value, a single-step flag given twice, ``--seed`` or
        ``--stratify`` without the flag they are settings of.
    """
    seed = 0 if values.get("seed") is None else _number(values["seed"], "--seed", integer=True)
    split = values.get("split")
    if values.get("stratify") and not is_split_spec(split):
        raise UsageError("--stratify is a setting of --split NAME=FRACTION,...; give one")
    if values.get("seed") is not None and not (is_split_spec(split) or values.get("sample") is not None):
        raise UsageError("--seed is a setting of --split NAME=FRACTION,... and --sample; give one of them")
    multi = {"map_": list(values.get("map_") or ()), "map_file": list(values.get("map_file") or ())}
    names = ctx.meta.get(ORDER_KEY)
    if names is None:  # not parsed by EditingCommand: the declared order
        names = [n for n in STEP_PARAMS for _ in range(len(multi[n]) if n in multi else 1)]
    steps, seen = [], set()
    for name in names:
        if name in multi:
            if multi[name]:
                steps.append(_step(name, multi[name].pop(0), values, seed))
            continue
        value = values.get(name)
        if name not in STEP_PARAMS or value in (None, False, ()) or (name == "split" and not is_split_spec(value)):
            continue
        if name in seen:
            if name in ("keep_class", "drop_class", "drop_crowd"):
                continue
            raise UsageError(f"--{name.replace('_', '-')} is given twice; it is one step")
        seen.add(name)
        steps.append(_step(name, value, values, seed))
    return steps
