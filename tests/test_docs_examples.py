"""Every example of README.md and docs/*.md runs verbatim, in order, without colliding with another.

An example is a fenced block tagged ``bash``, ``console`` or ``python``
(untagged, ``text``, ``yaml``, ``toml`` and ``json`` blocks are synopses,
layouts and configuration, not commands):

- ``bash``: every logical line (``\\`` continuations joined) is one command;
- ``console``: every ``$ `` line is one command, the lines after it are what
  it prints (``...`` stands for any lines; ``#`` lines are comments);
  ``$ echo $?`` followed by ``N`` states the previous command's exit code;
- ``python``: the whole block is one script, run with this interpreter.

A command must exit 0 unless its comment says ``# exit N`` (``# exit 1,
nothing written``, ``# exit 0: ...``), and print the lines a ``console``
block shows. The commands of one document run in order, each with
``bash -c``, in one fresh copy of the repository layout per document (the
repository's ``fixtures/`` and ``pyproject.toml``, with ``../shared`` the
real ``shared`` folder beside the repository when there is one), so an
example that needs an output of an earlier one, or that writes over one
without ``--force``, fails here as it would for a reader.

Not run, each shown as a skip with its reason: a block preceded by
``<!-- example: not run (REASON) -->`` (kept rare: :data:`MAX_NOT_RUN`), a
block that :data:`RUN_ELSEWHERE` names with the test that runs it, the
set-up commands of :data:`NOT_RUN_COMMANDS`, a block that needs
``../shared/corpus`` when the corpus is absent, and a block that calls a
program of :data:`TOOLS` that is not installed.

Running them takes a minute or two (about a hundred ``segmill`` processes),
so that test is ``slow``; the checks of the parser and of the lists are not.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")))
SHARED = ROOT.parent / "shared"
CORPUS_REF = "../shared/corpus"

#: (document, block language) -> the test that already runs those blocks verbatim; nothing runs twice.
RUN_ELSEWHERE = {
    ("docs/editing.md", "bash"): "tests/test_cli_edit.py::test_docs_editing_examples_run_verbatim_in_order",
    ("docs/editing.md", "python"): "tests/test_cli_edit.py::test_docs_editing_examples_run_verbatim_in_order",
    ("docs/merge.md", "bash"): "tests/test_merge.py::test_the_docs_example_runs_verbatim_and_prints_what_the_docs_show",
    ("docs/fix.md", "bash"): "tests/test_fix.py::test_the_docs_example_runs_verbatim",
    ("docs/fix.md", "python"): "tests/test_fix.py::test_the_docs_library_example_runs",
}

#: Commands a reader runs once to set up, never run here (they install into the running environment).
NOT_RUN_COMMANDS = {
    "pip install . && segmill convert fixtures/voc /tmp/segmill-demo.json --to coco --force"
    " && segmill check /tmp/segmill-demo.json": "installs",
    'pip install -e ".[test]" && python -m pytest': "installs",
}

#: Programs besides segmill and python that examples call; a block calling one that is absent is skipped.
TOOLS = ("git", "jq")

#: At most this many blocks may carry ``<!-- example: not run (...) -->``.
MAX_NOT_RUN = 4

EXAMPLE_LANGS = ("bash", "console", "python")
_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
_NOT_RUN = re.compile(r"<!--\s*example:\s*not run\s*\((?P<reason>[^)]+(?:\([^)]*\)[^)]*)*)\)\s*-->\s*\Z")
_EXIT = re.compile(r"(?:^|\s)#.*?\bexit (\d)\b")
_TIMEOUT = 600


@dataclass
class Command:
    """One command of an example: its text, the exit code it must give, and the output the docs show."""

    text: str
    line: int
    want: int = 0
    shown: list[str] = field(default_factory=list)


@dataclass
class Block:
    """A fenced example block of a document."""

    doc: str
    line: int
    lang: str
    body: str
    commands: list[Command]
    not_run: str | None = None

    @property
    def name(self) -> str:
        return f"{self.doc}:{self.line}"


# ------------------------------------------------------------------ parsing
def _bash_commands(body: str, first: int) -> list[Command]:
    cmds, buf, start = [], [], first
    for i, raw in enumerate(body.splitlines()):
        if not buf:
            start = first + i
        buf.append(raw[:-1] if raw.endswith("\\") else raw)
        if raw.endswith("\\"):
            continue
        text = " ".join(part.strip() for part in buf).strip()
        buf = []
        if text and not text.startswith("#"):
            m = _EXIT.search(text)
            cmds.append(Command(text, start, int(m.group(1)) if m else 0))
    return cmds


def _console_commands(body: str, first: int) -> list[Command]:
    cmds: list[Command] = []
    continued = False
    for i, raw in enumerate(body.splitlines()):
        if continued:
            cmds[-1].text += " " + raw.rstrip("\\").strip()
        elif raw.startswith("$ "):
            text = raw[2:].rstrip("\\").strip()
            m = _EXIT.search(text)
            cmds.append(Command(text, first + i, int(m.group(1)) if m else 0))
        elif raw.startswith("#") or not cmds:
            pass  # a comment
        else:
            cmds[-1].shown.append(raw.rstrip())
        continued = raw.endswith("\\")
    out: list[Command] = []
    for cmd in cmds:  # `$ echo $?` + `N` states the exit code of the command before it
        if cmd.text == "echo $?" and out and len(cmd.shown) == 1 and cmd.shown[0].isdigit():
            out[-1].want = int(cmd.shown[0])
        else:
            out.append(cmd)
    return out


def parse(doc: str, text: str | None = None) -> list[Block]:
    """The example blocks of ``doc`` (a path relative to the repository), in document order."""
    text = (ROOT / doc).read_text(encoding="utf-8") if text is None else text
    blocks = []
    for m in _FENCE.finditer(text):
        lang = m.group(1)
        if lang not in EXAMPLE_LANGS:
            continue
        line = text.count("\n", 0, m.start()) + 1
        body = m.group(2)
        if lang == "bash":
            cmds = _bash_commands(body, line + 1)
        elif lang == "console":
            cmds = _console_commands(body, line + 1)
        else:
            cmds = [Command(body, line + 1)]
        marker = _NOT_RUN.search(text[:m.start()])
        blocks.append(Block(doc, line, lang, body, cmds, marker.group("reason").strip() if marker else None))
    return blocks


def skip_reason(block: Block) -> str | None:
    """Why ``block`` is not run here, or None when it runs."""
    if block.not_run:
        return f"{block.name}: example marked not run ({block.not_run})"
    if (block.doc, block.lang) in RUN_ELSEWHERE:
        return f"{block.name}: runs verbatim in {RUN_ELSEWHERE[block.doc, block.lang]}"
    if block.commands and all(c.text in NOT_RUN_COMMANDS for c in block.commands):
        return f"{block.name}: {NOT_RUN_COMMANDS[block.commands[0].text]}"
    if CORPUS_REF in block.body and not (SHARED / "corpus").is_dir():
        return f"{block.name}: needs {CORPUS_REF}, absent (clone the project beside shared/ to run it)"
    if block.lang != "python":
        for tool in TOOLS:
            if re.search(rf"(?:^(?:\$ )?|[|&;]\s*){tool}\b", block.body, re.M) and shutil.which(tool) is None:
                return f"{block.name}: needs {tool}, not installed"
    return None


ALL_BLOCKS = [b for doc in DOCS for b in parse(doc)]
RUN_DOCS = sorted({b.doc for b in ALL_BLOCKS if skip_reason(b) is None}, key=DOCS.index)
NOT_RUN_BLOCKS = [b for b in ALL_BLOCKS if skip_reason(b) is not None]


# ------------------------------------------------------------------ running
def _layout(tmp_path: Path) -> Path:
    """A fresh copy of the repository layout: ``fixtures/``, ``pyproject.toml`` and ``../shared``."""
    repo = tmp_path / "segmill"
    repo.mkdir()
    shutil.copytree(ROOT / "fixtures", repo / "fixtures")
    shutil.copy2(ROOT / "pyproject.toml", repo / "pyproject.toml")
    if SHARED.is_dir():
        (tmp_path / "shared").symlink_to(SHARED, target_is_directory=True)
    return repo


def _env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEGMILL_", "GIT_"))}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", HOME=str(home),
               GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="Docs Reader", GIT_AUTHOR_EMAIL="reader@example.com",
               GIT_COMMITTER_NAME="Docs Reader", GIT_COMMITTER_EMAIL="reader@example.com")
    return env


def _shown_in(shown: list[str], lines: list[str]) -> str | None:
    """None when the shown lines occur in order in ``lines`` (``...`` matching any run), else the first missing one."""
    pos = 0
    for want in shown:
        if want.strip() == "...":
            continue
        try:
            pos = lines.index(want, pos) + 1
        except ValueError:
            return want
    return None


def _run_block(block: Block, repo: Path, env: dict[str, str], scratch: Path) -> list[str]:
    """Run the commands of ``block`` in ``repo``; one message per command that did not behave as documented."""
    problems = []
    for cmd in block.commands:
        if cmd.text in NOT_RUN_COMMANDS:
            continue
        if block.lang == "python":
            script = scratch / f"example_{block.line}.py"
            script.write_text(cmd.text, encoding="utf-8")
            argv = [sys.executable, str(script)]
        else:
            argv = ["bash", "-c", cmd.text]
        res = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=_TIMEOUT)
        where = f"{block.doc}:{cmd.line}: {cmd.text.splitlines()[0]}"
        if res.returncode != cmd.want:
            tail = "\n    ".join((res.stderr or res.stdout).strip().splitlines()[-5:])
            problems.append(f"{where}\n  exit {res.returncode}, the docs say {cmd.want}:\n    {tail}")
            continue
        missing = _shown_in(cmd.shown, (res.stdout + res.stderr).splitlines())
        if missing is not None:
            problems.append(f"{where}\n  the docs show a line it did not print: {missing!r}")
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("doc", RUN_DOCS)
def test_the_examples_of_a_document_run_verbatim_in_order(doc, tmp_path):
    repo = _layout(tmp_path)
    env = _env(tmp_path)
    problems = []
    for block in (b for b in ALL_BLOCKS if b.doc == doc and skip_reason(b) is None):
        problems += _run_block(block, repo, env, tmp_path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("block", NOT_RUN_BLOCKS, ids=lambda b: b.name)
def test_an_example_not_run_here_says_why(block):
    pytest.skip(skip_reason(block))


# ------------------------------------------------------------------ the lists stay honest
def test_the_examples_are_found():
    runs = [c for b in ALL_BLOCKS if skip_reason(b) is None for c in b.commands]
    assert len(runs) >= 40, "the parser lost the examples"
    assert {b.lang for b in ALL_BLOCKS} == set(EXAMPLE_LANGS)
    assert any(c.want == 1 for c in runs) and any(c.shown for c in runs)


def test_not_run_markers_are_rare_and_give_a_reason():
    marked = [b for b in ALL_BLOCKS if b.not_run]
    assert len(marked) <= MAX_NOT_RUN, [b.name for b in marked]
    raw = sum(len(re.findall(r"^<!-- example: not run", (ROOT / doc).read_text(encoding="utf-8"), re.M))
              for doc in DOCS)
    assert raw == len(marked), "a not-run marker that is not right before an example block"


def test_the_skip_lists_name_real_blocks_commands_and_tests():
    for (doc, lang), test in RUN_ELSEWHERE.items():
        assert any(b.doc == doc and b.lang == lang for b in ALL_BLOCKS), (doc, lang)
        path, name = test.split("::")
        assert re.search(rf"^def {name}\(", (ROOT / path).read_text(encoding="utf-8"), re.M), test
    commands = {c.text for b in ALL_BLOCKS for c in b.commands}
    assert set(NOT_RUN_COMMANDS) <= commands


def test_absolute_outputs_are_not_shared_between_documents():
    owner: dict[str, str] = {}
    for block in ALL_BLOCKS:
        for path in re.findall(r"(/tmp/segmill-[\w.{}/-]+)", block.body):
            assert owner.setdefault(path, block.doc) == block.doc, (path, owner[path], block.doc)


# ------------------------------------------------------------------ the parser itself
def test_the_parser_reads_exit_codes_continuations_and_shown_output():
    text = (
        "```bash\nsegmill a x \\\n    --y   # exit 1, nothing written\nsegmill b  # exit 0: fine\n```\n"
        "<!-- example: not run (needs a git repository (any)) -->\n"
        "```console\n$ segmill c\nline one\n...\n$ echo $?\n1\n# a comment\n$ segmill d  # exit 2\n```\n"
        "```yaml\nnot: run\n```\n"
    )
    bash, console = parse("README.md", text)
    assert [(c.text, c.want, c.line) for c in bash.commands] == [
        ("segmill a x --y   # exit 1, nothing written", 1, 2), ("segmill b  # exit 0: fine", 0, 4)]
    assert console.not_run == "needs a git repository (any)"
    assert [(c.text, c.want, c.shown) for c in console.commands] == [
        ("segmill c", 1, ["line one", "..."]), ("segmill d  # exit 2", 2, [])]
    assert _shown_in(["a", "...", "c"], ["a", "b", "c"]) is None
    assert _shown_in(["c", "a"], ["a", "b", "c"]) == "a"


def test_a_block_calling_a_missing_program_or_the_absent_corpus_is_skipped(monkeypatch):
    text = "```bash\nsegmill info x && git -C y log\n```\n```console\n$ segmill x | jq .\n```\n"
    git, jq = parse("README.md", text)
    assert skip_reason(git) is None or shutil.which("git") is None
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert skip_reason(git).endswith("needs git, not installed")
    assert skip_reason(jq).endswith("needs jq, not installed")
    monkeypatch.setitem(globals(), "SHARED", Path("/nonexistent/shared"))
    (corpus,) = parse("README.md", "```bash\nsegmill info ../shared/corpus/x\n```\n")
    assert "needs ../shared/corpus, absent" in skip_reason(corpus)
