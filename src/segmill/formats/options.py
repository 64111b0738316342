"""Format options declared as data.

A format declares each keyword its reader or writer takes as an
:class:`Option`: name, side, kind, choices, default and a one-line help. From
these declarations, and nowhere else, come the flags of ``segmill convert``
(and the reader flags of ``segmill info``), the routing of a flag to the
reader or the writer, the validation of its value, and the ``segmill formats``
listing. A format adds an option by declaring it; no command lists options by
hand.

Two names are shared by convention: ``errors`` (every reader; the CLI spells
it ``--skip-invalid``) and ``raster`` (``coco`` or ``pil``, wherever polygons
become pixels).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ..errors import UsageError
from ..validate import brief

__all__ = ["Option", "SIDES", "KINDS", "ERRORS", "RASTER_RULES", "raster", "raster_rule", "merged", "route"]

SIDES = ("reader", "writer", "both")
KINDS = ("str", "int", "float", "bool", "path", "choice")


@dataclass(frozen=True)
class Option:
    """One keyword a format's reader or writer takes.

    Parameters
    ----------
    name : str
        The Python keyword; the CLI flag is ``--`` + ``name`` with ``_`` as ``-``.
    side : {"reader", "writer", "both"}
    help : str
        One line, for ``--help`` and ``segmill formats``.
    kind : {"str", "int", "float", "bool", "path", "choice"}
    choices : tuple of str
        The allowed values when ``kind == "choice"``.
    default : object
        What the reader/writer uses when the option is not given (documentation only:
        the function's own default is what applies).
    cli : bool
        ``False`` for options the command line spells differently (``errors``).
    """

    name: str
    side: str
    help: str
    kind: str = "str"
    choices: tuple = ()
    default: Any = None
    cli: bool = True

    def __post_init__(self):
        if self.side not in SIDES:
            raise ValueError(f"option {self.name!r}: side must be one of {SIDES}, got {self.side!r}")
        if self.kind not in KINDS:
            raise ValueError(f"option {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if (self.kind == "choice") != bool(self.choices):
            raise ValueError(f"option {self.name!r}: choices go with kind 'choice' and only with it")

    @property
    def flag(self) -> str:
        """The command-line spelling."""
        return "--" + self.name.replace("_", "-")

    def on(self, side: str) -> bool:
        """Whether the ``side`` (``"reader"`` or ``"writer"``) takes this option."""
        return self.side in (side, "both")

    def check(self, value, fmt: str):
        """``value`` if it suits this option; a :class:`~segmill.errors.UsageError` naming the flag otherwise."""
        if self.kind == "choice" and value not in self.choices:
            raise UsageError(f"{self.flag} of the {fmt} format must be one of {', '.join(self.choices)}; "
                             f"got {brief(value)}")
        return value

    def describe(self) -> str:
        """``side: help`` plus choices and default, for listings."""
        extra = []
        if self.choices:
            extra.append(" | ".join(self.choices))
        if self.default is not None:
            extra.append(f"default {self.default}")
        tail = f" ({'; '.join(extra)})" if extra else ""
        side = "reader/writer" if self.side == "both" else self.side
        return f"{side}: {self.help}{tail}"


#: The ``errors`` option every reader takes (``--skip-invalid`` on the command line).
ERRORS = Option("errors", "reader", "what a bad record does: raise, skip (listed) or keep (for check)",
                kind="choice", choices=("raise", "skip", "keep"), default="raise", cli=False)


RASTER_RULES = ("coco", "pil")


def raster(side: str, help: str = "how polygons become pixels: coco (pycocotools) or pil (Pillow, like labelme)"
           ) -> Option:
    """The ``raster`` option on ``side`` (``"reader"``, ``"writer"`` or ``"both"``): ``coco`` or ``pil``.

    The one name of the raster rule everywhere. A reader records the rule in
    ``dataset.meta["raster_rule"]``; a writer that draws pixels resolves its
    own ``raster`` argument with :func:`raster_rule`, so the rule a dataset was
    read with carries over unless the writer is told otherwise.
    """
    if side != "reader":
        help += (" (default: coco when reading; when writing, the rule the dataset was read with, else coco)"
                 if side == "both" else " (default: the rule the dataset was read with, else coco)")
    return Option("raster", side, help, kind="choice", choices=RASTER_RULES,
                  default="coco" if side == "reader" else None)


OVERLAP_RULES = ("zorder", "last")


def overlap(zorder: str = "z_order, then area") -> Option:
    """The writer's ``overlap`` option of a format that paints a label map: ``zorder`` or ``last``.

    Parameters
    ----------
    zorder : str
        What ``zorder`` orders by in this format, for the help text.
    """
    return Option("overlap", "writer", f"which of two overlapping annotations wins: zorder ({zorder}) or last "
                  "(reported as L701)", kind="choice", choices=OVERLAP_RULES, default="zorder")


def check_choice(name: str, value, choices) -> None:
    """Refuse a ``value`` that is not one of ``choices`` (a reader's or writer's argument).

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : object
    choices : tuple of str

    Raises
    ------
    segmill.errors.UsageError
        ``<name> must be one of a, b; got <value>``.
    """
    if type(value) is not str or value not in choices:
        raise UsageError(f"{name} must be one of {', '.join(choices)}; got {brief(value)}")


def raster_rule(dataset, value=None) -> str:
    """The raster rule a writer draws with: ``value``, else the one the dataset was read with, else ``coco``.

    Raises
    ------
    segmill.errors.UsageError
        A rule that is not ``coco`` or ``pil``.
    """
    if value is None:  # meta is segmill's own; a hand-built dataset may hold anything there
        read_with = dataset.meta.get("raster_rule")
        return read_with if read_with in RASTER_RULES else "coco"
    check_choice("raster", value, RASTER_RULES)
    return value


def merged(specs: Iterable) -> dict[str, list[tuple[str, Option]]]:
    """Every CLI-visible option name with the formats declaring it, ``{name: [(format, Option), ...]}``.

    Raises
    ------
    ValueError
        Two formats declare one name with different kinds (the flag would mean
        two things).
    """
    out: dict[str, list[tuple[str, Option]]] = {}
    for spec in specs:
        for opt in spec.options:
            if not opt.cli:
                continue
            have = out.setdefault(opt.name, [])
            if have and have[0][1].kind != opt.kind:
                raise ValueError(f"option {opt.name!r} is a {have[0][1].kind} in {have[0][0]} and a {opt.kind} "
                                 f"in {spec.name}: one flag cannot be both")
            have.append((spec.name, opt))
    return out


def route(src_spec, dst_spec, given: dict) -> tuple[dict, dict]:
    """Split option values given by name into reader and writer keyword arguments.

    Each value goes to the reader of ``src_spec`` and/or the writer of
    ``dst_spec``, wherever the option is declared for that side, and is
    checked against that format's declaration.

    Raises
    ------
    segmill.errors.UsageError
        An option neither side takes (the message says which formats do), or
        a value the format does not accept.
    """
    read_opts: dict = {}
    write_opts: dict = {}
    for name, value in given.items():
        r = src_spec.option(name, "reader")
        w = dst_spec.option(name, "writer") if dst_spec is not None else None
        if r is not None:
            read_opts[name] = r.check(value, src_spec.name)
        if w is not None:
            write_opts[name] = w.check(value, dst_spec.name)
        if r is None and w is None:
            flag = "--" + name.replace("_", "-")
            target = f" nor the {dst_spec.name} writer" if dst_spec is not None else ""
            raise UsageError(f"{flag} is an option of neither the {src_spec.name} reader{target} "
                             "(`segmill formats` lists each format's options)")
    return read_opts, write_opts
