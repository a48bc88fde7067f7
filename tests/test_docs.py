"""The commands the docs show are commands the code accepts.

Every ``mogenet VERB …`` and ``python scripts/NAME.py …`` in the README, the scripts'
README, the dataset cards and the benchmark results (code blocks and inline code) is
checked against the
real argument parsers: the verb exists, every ``--flag`` is one the command defines
(spelt out, not abbreviated), a flag with fixed choices is given one of them, and every
``--set key=value`` is a setting :meth:`RunConfig.override` accepts, and every
``mogenet … --model NAME`` names a model.  Synopsis
placeholders (``RUN_DIR``, ``a|b``, ``[--opt]``, ``…``) are read as such: their values
are not checked, their flags are.
"""

from __future__ import annotations

import argparse
import importlib
import re
import shlex
import sys
from pathlib import Path

import pytest

from mogenet.build import parse_model_name
from mogenet.cli import build_parser
from mogenet.config import RunConfig
from mogenet.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
DOCS = [
    ROOT / "README.md",
    ROOT / "scripts" / "README.md",
    *sorted(ROOT.glob("datasets/*.md")),
    *sorted(ROOT.glob("bench/**/*.md")),  # the commands that made each result
]
STARTS = ("mogenet ", "python scripts/")


def doc_commands() -> list[tuple[str, str]]:
    """``(where, command)`` for every command in the docs, continuation lines joined."""
    found = []
    for path in DOCS:
        text = path.read_text()
        blocks = re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S)
        for block in blocks:
            for line in block.replace("\\\n", " ").splitlines():
                line = line.strip().removeprefix("$ ")
                if line.startswith(STARTS):
                    found.append((path.relative_to(ROOT).as_posix(), line))
        prose = re.sub(r"```.*?```", "", text, flags=re.S)
        for span in re.findall(r"`([^`]+)`", prose):
            span = " ".join(span.split())
            if span.startswith(STARTS):
                found.append((path.relative_to(ROOT).as_posix(), span))
    return found


COMMANDS = doc_commands()


class _Captured(Exception):
    def __init__(self, parser: argparse.ArgumentParser):
        self.parser = parser


def script_parser(name: str, monkeypatch) -> argparse.ArgumentParser:
    """The parser ``scripts/NAME.py`` builds in ``main``, caught at ``parse_args``."""
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    module = importlib.import_module(name)

    def capture(self, *args, **kwargs):
        raise _Captured(self)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    with pytest.raises(_Captured) as caught:
        module.main([])
    return caught.value.parser


def _placeholder(value: str) -> bool:
    return (
        any(mark in value for mark in "|…[]<>")
        or value.endswith("...")
        or value.isupper()
        or value in {"key=value", "N", "K", "S"}
    )


def _tokens(command: str) -> list[str]:
    tokens = shlex.split(command.replace("…", " … "), comments=True)
    return [t.strip("[]") for t in tokens if t.strip("[]")]


def check_args(parser: argparse.ArgumentParser, args: list[str], command: str) -> None:
    options = parser._option_string_actions
    for k, token in enumerate(args):
        if not token.startswith("--"):
            continue
        flag, eq, inline = token.partition("=")
        assert flag in options, f"{command!r}: {flag} is not an option of this command"
        action = options[flag]
        if action.nargs == 0:
            continue
        value = inline if eq else (args[k + 1] if k + 1 < len(args) else "")
        if not value or value.startswith("--") or _placeholder(value):
            continue
        if action.choices is not None:
            assert value in action.choices, (
                f"{command!r}: {flag} {value!r} is not one of {list(action.choices)}"
            )
        if flag == "--set":
            RunConfig().override([value])  # raises on an unknown section or setting
        if flag == "--model" and parser.prog.startswith("mogenet "):
            parse_model_name(value)  # raises on an unknown model


def test_the_docs_show_commands():
    verbs = {c.split()[1] for _, c in COMMANDS if c.startswith("mogenet ")}
    scripts = {c.split()[1] for _, c in COMMANDS if c.startswith("python scripts/")}
    assert {"demo", "train", "evaluate", "build-graphs"} <= verbs
    assert "scripts/bench_collab.py" in scripts and "scripts/bench_funnel.py" in scripts


@pytest.mark.parametrize(
    "where,command", [c for c in COMMANDS if c[1].startswith("mogenet ")], ids=lambda v: v[:60]
)
def test_mogenet_command(where, command):
    tokens = _tokens(command)[1:]
    verbs = build_parser()._subparsers._group_actions[0].choices
    assert tokens[0] in verbs, f"{where}: {command!r}: no verb {tokens[0]!r}"
    check_args(verbs[tokens[0]], tokens[1:], f"{where}: {command}")


@pytest.mark.parametrize(
    "where,command",
    [c for c in COMMANDS if c[1].startswith("python scripts/")],
    ids=lambda v: v[:60],
)
def test_script_command(where, command, monkeypatch):
    tokens = _tokens(command)[1:]
    script = ROOT / tokens[0]
    assert script.is_file(), f"{where}: {command!r}: no {tokens[0]}"
    parser = script_parser(script.stem, monkeypatch)
    check_args(parser, tokens[1:], f"{where}: {command}")
    sys.modules.pop(script.stem, None)


def test_the_check_catches_a_wrong_command():
    verbs = build_parser()._subparsers._group_actions[0].choices
    check_args(verbs["split"], ["LOG.csv", "--out", "d", "--by", "time"], "ok")
    with pytest.raises(AssertionError, match="--bye is not an option"):
        check_args(verbs["split"], ["LOG.csv", "--bye", "time"], "typo")
    with pytest.raises(AssertionError, match="is not one of"):
        check_args(verbs["split"], ["LOG.csv", "--by", "day"], "choice")
    with pytest.raises(InputError, match="unknown section 'trian'"):
        check_args(verbs["train"], ["--set", "trian.lr=1"], "set")
    with pytest.raises(InputError, match="unknown model 'mmo'"):
        check_args(verbs["train"], ["--model", "mmo"], "model")


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces → ``-``."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def check_links(doc: Path) -> None:
    """Every ``[text](#anchor)`` names a heading of the page, and every relative
    ``[text](path)`` an existing file or folder."""
    text = doc.read_text()
    headings = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", text, flags=re.S), flags=re.M)
    anchors = {_slug(h) for h in headings}
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        if not path:
            assert anchor in anchors, f"{doc.name}: no heading for #{anchor}"
        else:
            assert (doc.parent / path).exists(), f"{doc.name}: link to missing {path}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_links_resolve(doc):
    check_links(doc)


def test_the_link_check_catches_a_broken_link(tmp_path):
    doc = tmp_path / "page.md"
    doc.write_text("# Set-up — fast (CPU)\n\n[ok](#set-up--fast-cpu) [file](page.md)\n")
    check_links(doc)
    doc.write_text("# Set-up\n\n[bad](#setup)\n")
    with pytest.raises(AssertionError, match="no heading for #setup"):
        check_links(doc)
    doc.write_text("# Set-up\n\n[bad](missing.md)\n")
    with pytest.raises(AssertionError, match="missing missing.md"):
        check_links(doc)
