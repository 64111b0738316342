"""Command-line flags generated from the formats' declared options.

The registry is loaded only when a command that needs the flags parses its
arguments or prints its help: ``segmill --help`` and the other commands do not
pay for importing every format (and numba).
"""

from __future__ import annotations

import click

from ..errors import UsageError

_KIND_TYPES = {"int": int, "float": float, "str": str}


def _param(name: str, decls: list) -> click.Option:
    """One click option for the option ``name`` declared by ``decls`` = ``[(format, Option), ...]``."""
    first = decls[0][1]
    where = ", ".join(f"{fmt} {'reader/writer' if o.side == 'both' else o.side}" for fmt, o in decls)
    helps = [o.help for _, o in decls]
    help_text = f"{max(helps, key=helps.count)} [{where}]"  # the wording most formats share
    if first.kind == "bool":
        return click.Option([f"{first.flag}/--no-{first.flag[2:]}", name], default=None, help=help_text)
    if first.kind == "choice":
        choices = []
        for _, o in decls:
            choices.extend(c for c in o.choices if c not in choices)
        kind = click.Choice(choices)
    elif first.kind == "path":
        kind = click.Path()
    else:
        kind = _KIND_TYPES[first.kind]
    return click.Option([first.flag, name], type=kind, default=None, help=help_text)


class FormatOptionsCommand(click.Command):
    """A click command whose format flags come from the registry, on first use.

    Parameters
    ----------
    side : {"reader", "writer", "both"}
        Which formats' options become flags: reader options only (``info``)
        or both sides (``convert``).
    """

    def __init__(self, *args, side: str = "both", **kwargs):
        super().__init__(*args, **kwargs)
        self._side = side
        self._generated = None

    def get_params(self, ctx):
        if self._generated is None:
            # lazy: start-up time (the format registry imports every format module)
            from ..formats import formats
            from ..formats.options import merged

            specs = formats().values()
            decls = merged(specs)
            if self._side != "both":
                decls = {n: [(f, o) for f, o in d if o.on(self._side)] for n, d in decls.items()}
                decls = {n: d for n, d in decls.items() if d}
            taken = {p.name for p in self.params}
            self._generated = [_param(n, d) for n, d in sorted(decls.items()) if n not in taken]
        base = super().get_params(ctx)
        return base[:-1] + self._generated + base[-1:]  # --help stays last


def route_or_explain(src_spec, dst_spec, given: dict) -> tuple[dict, dict]:
    """:func:`segmill.formats.options.route`, with the formats that do take a refused flag named.

    ``--polygon-mode`` given for a VOC output says that only the coco writer
    takes it, instead of leaving the user to search ``segmill formats``.
    """
    # lazy: start-up time (the format registry imports every format module)
    from ..formats import formats
    from ..formats.options import route

    try:
        return route(src_spec, dst_spec, given)
    except UsageError as exc:
        for name in given:
            takes_r = src_spec.option(name, "reader") is not None
            takes_w = dst_spec is not None and dst_spec.option(name, "writer") is not None
            if takes_r or takes_w:
                continue
            sides = [f"the {s.name} {side}" for s in formats().values() for side in ("reader", "writer")
                     if s.option(name, side) is not None]
            if sides:
                raise UsageError(f"{exc}; it is taken by {', '.join(sides)}") from None
        raise
