"""CVAT XML parsed with defusedxml: the whole tree (:func:`parse_xml`) or an ``<image>`` at a time (:func:`images`).

Both feed one defused parser (DTD entities and external references
refused) the file in blocks of :data:`CHUNK` bytes, as
:func:`xml.etree.ElementTree.parse` does, and word every refusal the same
way: one line with its position. :class:`Images` builds the tree without
its ``<image>`` children: each is handed out when it ends and then dropped,
so memory holds one image's elements (and, when asked, the header:
``<meta>``, ``<version>``, whether there is a ``<track>``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import TreeBuilder

from ..errors import InputError
from ..validate import brief

__all__ = ["CHUNK", "HEAD", "Images", "images", "parse_xml"]

#: Bytes fed to the parser at a time (``ElementTree.parse``'s block).
CHUNK = 65536
#: The children of the root a read looks at besides ``<image>`` (the first of each).
HEAD = ("meta", "version", "track")


def _fed(f: Path, target):
    """Feed the file to a defused parser building with ``target``: ``None`` after each block, then the root."""
    # lazy: start-up time (defusedxml is only needed to parse XML)
    from defusedxml import DefusedXmlException
    from defusedxml import ElementTree as ET

    # our own parser object, so that a refusal raised from inside expat can still tell its position
    parser = ET.DefusedXMLParser(target=target, forbid_dtd=False, forbid_entities=True,
                                 forbid_external=True)
    try:
        with open(f, "rb") as fh:
            while data := fh.read(CHUNK):
                parser.feed(data)
                yield None
            yield parser.close()
    except IsADirectoryError:
        raise InputError("is a directory, not an XML file", f) from None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", f) from None
    except (ET.ParseError, DefusedXmlException, LookupError, ValueError) as exc:  # LookupError: unknown encoding
        position = getattr(exc, "position", None)
        if position is None:
            expat = getattr(parser, "parser", None)
            position = (expat.CurrentLineNumber, expat.CurrentColumnNumber) if expat is not None else ("?", -1)
        line, col = position
        reason = str(exc).split(": line ")[0] if getattr(exc, "position", None) else _defused_reason(exc)
        raise InputError(f"not valid XML at line {line}, column {col + 1}: {reason}", f) from None


def parse_xml(f: Path):
    """The root element of the parsed tree; every parser refusal (DTD entities included) is one line with its
    position."""
    root = None
    for root in _fed(f, TreeBuilder()):
        pass
    return root


def images(f: Path, target: "Images") -> Iterator:
    """Each ``<image>`` child of the root, in file order, as the parser ends it (``target`` keeps none).

    The whole file is parsed (a refusal raised as :func:`parse_xml` raises
    it) whether or not the images are used.
    """
    for _ in _fed(f, target):
        yield from target.drain()


class Images(TreeBuilder):
    """A tree builder that keeps no ``<image>`` child of the root: each is handed out by :meth:`drain`.

    Parameters
    ----------
    head : bool
        Keep the first ``<meta>`` and ``<version>`` children of the root
        whole and the first ``<track>`` emptied (what a read looks at besides
        the images), in :attr:`root`; else keep no child.
    """

    def __init__(self, head: bool = False):
        super().__init__()
        self.head = head
        self.root = None
        self._ended: list = []
        self._kept: set = set()
        self._depth = 0

    def start(self, tag, attrs):
        """Start an element (the first is the root)."""
        el = super().start(tag, attrs)
        if self.root is None:
            self.root = el
        self._depth += 1
        return el

    def end(self, tag):
        """End an element; a child of the root is handed out, kept or dropped."""
        el = super().end(tag)
        self._depth -= 1
        if self._depth == 1:  # a child of the root: always its last
            keep = self.head and el.tag in HEAD and el.tag not in self._kept
            if keep:
                self._kept.add(el.tag)
                if el.tag == "track":
                    el.clear()  # a read asks whether there is one
            else:
                if el.tag == "image":
                    self._ended.append(el)
                del self.root[-1]
        return el

    def drain(self) -> list:
        """The ``<image>`` elements ended since the last call, in file order."""
        out, self._ended = self._ended, []
        return out


def _defused_reason(exc) -> str:
    # lazy: start-up time (defusedxml is only needed to parse XML)
    from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

    if isinstance(exc, EntitiesForbidden):
        return f"entity declaration {brief(exc.name)} refused (entities can expand without bound)"
    if isinstance(exc, ExternalReferenceForbidden):
        return "external reference refused"
    if isinstance(exc, DTDForbidden):
        return "document type declaration refused"
    return f"{type(exc).__name__}: {exc}"
