"""Configuration: ``[tool.segmill]`` in ``pyproject.toml`` or ``segmill.toml``.

Layout (``segmill.toml`` holds the same keys at its top level)::

    [tool.segmill]
    select = ["S", "G", "C001"]      # codes or prefixes; replaces the default set
    extend-select = ["C008"]         # added to the selection
    ignore = ["G013"]                # removed from the selection
    fail-on = "warning"              # error | warning | info
    image-root = "images"            # where image files live, relative to this file

    [tool.segmill.rules.C001]        # per-rule severity and thresholds
    severity = "error"
    min-overlap = 0.6

Keys may be written kebab-case or snake_case. Other tables under
``[tool.segmill]`` (``gate``, ``agree``...) belong to other commands and are
kept in :attr:`Config.tables` untouched.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import InputError
from .finding import SEVERITIES
from .registry import all_rules, select_rules

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["Config", "load_config", "parse_config", "coerce_setting", "code_list", "CONFIG_FILES"]

#: Looked for in each folder, in this order, from the start folder upwards.
CONFIG_FILES = ("segmill.toml", "pyproject.toml")
_TOP_KEYS = {"select", "extend_select", "ignore", "fail_on", "image_root", "rules"}


@dataclass(frozen=True)
class Config:
    """Settings for :func:`segmill.check.check`.

    Attributes
    ----------
    select, extend_select, ignore : list of str or None
        Rule codes or prefixes (``None`` select = the default rules).
    fail_on : {"error", "warning", "info"}
        The lowest severity that makes the check fail (exit 1).
    severity : dict
        Rule code -> severity override.
    options : dict
        Rule code -> {threshold name: value}.
    image_root : str or None
        Folder holding the image files (absolute, or relative to the config file).
    path : pathlib.Path or None
        The file this was read from.
    tables : dict
        Other tables under ``[tool.segmill]`` (for ``segmill gate`` and others).
    """

    select: list[str] | None = None
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    fail_on: str = "error"
    severity: dict[str, str] = field(default_factory=dict)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    image_root: str | None = None
    path: Path | None = None
    tables: dict[str, Any] = field(default_factory=dict)

    def override(self, *, select=None, extend_select=None, ignore=None, fail_on=None,
                 image_root=None) -> "Config":
        """A copy with command-line values in place of the file's.

        ``select`` replaces; ``extend_select`` and ``ignore`` add to the file's.
        """
        changes: dict[str, Any] = {}
        if select is not None:
            changes["select"] = list(select)
        if extend_select:
            changes["extend_select"] = self.extend_select + list(extend_select)
        if ignore:
            changes["ignore"] = self.ignore + list(ignore)
        if fail_on is not None:
            _check_severity(fail_on, "fail-on", self.path)
            changes["fail_on"] = fail_on
        if image_root is not None:
            changes["image_root"] = str(image_root)
        return replace(self, **changes)


def _norm(key: str) -> str:
    return key.replace("-", "_")


def _check_severity(value, what, path):
    if value not in SEVERITIES:
        raise InputError(f"{what} must be one of {', '.join(SEVERITIES)}, got {value!r}", path)


def parse_config(table: dict, path=None) -> Config:
    """Build a :class:`Config` from the ``[tool.segmill]`` table.

    Raises
    ------
    segmill.errors.InputError
        Unknown keys, rule codes or thresholds, or values of the wrong type,
        naming the file and key.
    """
    known = {r.code: r for r in all_rules()}
    select = extend = None
    ignore: list[str] = []
    fail_on = "error"
    image_root = None
    severity: dict[str, str] = {}
    options: dict[str, dict[str, Any]] = {}
    tables: dict[str, Any] = {}
    for raw_key, value in table.items():
        key = _norm(raw_key)
        if key == "select":
            select = code_list(value, "select", path)
        elif key == "extend_select":
            extend = code_list(value, "extend-select", path)
        elif key == "ignore":
            ignore = code_list(value, "ignore", path)
        elif key == "fail_on":
            _check_severity(value, "fail-on", path)
            fail_on = value
        elif key == "image_root":
            if not isinstance(value, str):
                raise InputError(f"image-root must be a string, got {value!r}", path)
            image_root = value
            if path is not None and not os.path.isabs(value):
                image_root = str(Path(path).parent / value)
        elif key == "rules":
            if not isinstance(value, dict):
                raise InputError("[rules] must be a table of rule codes", path)
            for code, opts in value.items():
                _parse_rule(code, opts, known, severity, options, path)
        elif isinstance(value, dict):
            tables[raw_key] = value
        else:
            raise InputError(f"unknown key {raw_key!r} (known: {', '.join(sorted(_TOP_KEYS))})", path)
    try:
        select_rules(select, ignore, extend)
    except Exception as exc:
        raise InputError(str(exc), path) from None
    return Config(select, extend or [], ignore, fail_on, severity, options, image_root,
                  Path(path) if path else None, tables)


def _parse_rule(code, opts, known, severity, options, path):
    c = code.strip().upper()
    rule = known.get(c)
    if rule is None:
        raise InputError(f"[rules.{code}]: unknown rule code; `segmill rules` lists them", path)
    if not isinstance(opts, dict):
        raise InputError(f"[rules.{code}] must be a table", path)
    for raw_key, value in opts.items():
        key = _norm(raw_key)
        if key == "severity":
            _check_severity(value, f"[rules.{code}] severity", path)
            severity[c] = value
            continue
        if key not in rule.options:
            names = ", ".join(k.replace("_", "-") for k in rule.options) or "none"
            raise InputError(f"[rules.{code}]: unknown threshold {raw_key!r} (known: severity, {names})", path)
        options.setdefault(c, {})[key] = coerce_setting(value, rule.options[key], f"[rules.{code}] {raw_key}", path)


def coerce_setting(value, default, what, path, *, minimum=None, integer: bool = False):
    """A configuration value checked against the type of its ``default``.

    The one coercion of every settings table (``[tool.segmill.rules.X]``
    thresholds, ``[tool.segmill.gate]``): booleans stay booleans, numbers are
    numbers (not booleans) of the default's type, strings are strings.

    Parameters
    ----------
    value : object
        The value read from the TOML file.
    default : bool, int, float, str or None
        The setting's default; its type is the type expected.
    what : str
        How the message names the setting.
    path : path-like or None
        The configuration file, for the message.
    minimum : float, optional
        The smallest value allowed.
    integer : bool
        Whether only integral numbers are allowed (otherwise an integral
        default still takes a fractional value, as a threshold may).

    Raises
    ------
    segmill.errors.InputError
        A value of the wrong type or out of range, naming the file and setting.
    """
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise InputError(f"{what} must be true or false, got {value!r}", path)
        return value
    if isinstance(default, (int, float)):
        kind = "an integer" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise InputError(f"{what} must be {kind}, got {value!r}", path)
        if integer and not float(value).is_integer():
            raise InputError(f"{what} must be {kind}, got {value!r}", path)
        if minimum is not None and value < minimum:
            raise InputError(f"{what} must be at least {minimum}, got {value!r}", path)
        return type(default)(value) if isinstance(default, float) or float(value).is_integer() else value
    if (default is None or isinstance(default, str)) and not isinstance(value, str):
        raise InputError(f"{what} must be a string, got {value!r}", path)
    return value


def code_list(value, what, path) -> list[str]:
    """Rule codes from a TOML list of strings or one comma-separated string, upper-cased."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{what} must be a list of rule codes, got {value!r}", path)
    return [v.strip().upper() for v in value if v.strip()]


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", path) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path) from None


def _table_of(path: Path) -> dict | None:
    data = _read_toml(path)
    if path.name == "pyproject.toml":
        return data.get("tool", {}).get("segmill")
    return data


def load_config(start_dir=None, file=None) -> Config:
    """Find and read the configuration.

    Parameters
    ----------
    start_dir : path, optional
        Where to start looking (default: the current folder). Each folder up to
        the filesystem root is tried for ``segmill.toml``, then for a
        ``pyproject.toml`` that has a ``[tool.segmill]`` table; the first hit
        wins (like ruff).
    file : path, optional
        Read exactly this file instead (``segmill.toml`` layout, or a
        ``pyproject.toml`` whose ``[tool.segmill]`` table is used).

    Returns
    -------
    Config
        Defaults when no file is found.

    Raises
    ------
    segmill.errors.InputError
        Unreadable TOML or invalid settings (file and key named).
    """
    if file is not None:
        p = Path(file)
        if not p.is_file():
            raise InputError("config file not found", p)
        return parse_config(_table_of(p) or {}, p)
    d = Path(start_dir or os.getcwd()).resolve()
    if d.is_file():
        d = d.parent
    for folder in (d, *d.parents):
        for name in CONFIG_FILES:
            p = folder / name
            if p.is_file():
                table = _table_of(p)
                if table is not None:
                    return parse_config(table, p)
    return Config()
