"""The ``mogenet`` command line: thin verbs over the library.

Each verb lives in its own module ``mogenet/cli/<verb>.py`` exposing
``add_parser(subparsers)`` (which registers the verb and sets ``func``) and the
function it calls.  :func:`main` turns every :class:`~mogenet.errors.MogenetError`
into a one-line ``error: …`` on stderr and exit code 2 (no traceback).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from mogenet.errors import MogenetError

#: Verb modules, in the order ``mogenet --help`` lists them.
VERBS = (
    "demo",
    "split",
    "build_graphs",
    "train",
    "evaluate",
    "predict",
    "export",
    "recommend",
    "prepare",
    "report",
    "compare",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mogenet",
        description="Graph-learning multi-task recommender framework (MoGENet + multi-task heads).",
    )
    from mogenet import __version__

    parser.add_argument("--version", action="version", version=f"mogenet {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    for verb in VERBS:
        importlib.import_module(f"mogenet.cli.{verb}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except MogenetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
