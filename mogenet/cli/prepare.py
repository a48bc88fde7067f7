"""``mogenet prepare NAME --raw RAW_DIR --out DIR``: a public dataset → mogenet CSVs.

The raw files are the ones the dataset's publisher distributes (see
``datasets/NAME.md`` for where to get them and their terms); nothing is downloaded.
Dataset-specific options are passed as ``--option key=value`` (repeatable) and typed
after the preparer's own defaults.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mogenet.errors import InputError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from mogenet.datasets.public import PREPARERS

    listing = "\n".join(f"  {n:<11} {p.title}" for n, p in sorted(PREPARERS.items()))
    parser = subparsers.add_parser(
        "prepare",
        help="convert a public dataset's raw files into mogenet CSVs",
        description=(
            "Convert a public dataset's raw files (as published) into mogenet CSVs:\n"
            "interactions.csv (wide form) and, where the data has them, users.csv,\n"
            "items.csv and the official train.csv/test.csv.\n\ndatasets:\n" + listing
        ),
        epilog="options per dataset, source and terms: datasets/NAME.md",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", metavar="NAME", choices=sorted(PREPARERS), help="dataset name")
    parser.add_argument("--raw", required=True, type=Path, metavar="RAW_DIR", help="raw files")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    parser.add_argument(
        "--chunksize", type=int, default=None, metavar="N", help="raw lines read at a time"
    )
    parser.add_argument(
        "--option",
        "-o",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="dataset option, e.g. funnel=false or partitions=16 (repeatable)",
    )
    parser.set_defaults(func=run)
    return parser


def _coerce(key: str, text: str, default: Any) -> Any:
    if isinstance(default, bool):
        low = text.strip().lower()
        if low in _TRUE | _FALSE:
            return low in _TRUE
        raise InputError(f"option {key} takes true or false, got {text!r}")
    if isinstance(default, int | float):
        try:
            return type(default)(text)
        except ValueError:
            raise InputError(
                f"option {key} takes a{'n integer' if isinstance(default, int) else ' number'}, "
                f"got {text!r}"
            ) from None
    return text


def parse_options(items: list[str], accepted: dict[str, Any], *, dataset: str) -> dict[str, Any]:
    """``["key=value", …]`` → typed keyword options (types from ``accepted`` defaults)."""
    options: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"--option takes KEY=VALUE, got {item!r}")
        if key not in accepted:
            raise InputError(f"'{dataset}' has no option {key!r}; it accepts {', '.join(accepted)}")
        options[key] = _coerce(key, text, accepted[key])
    return options


def run(args: argparse.Namespace) -> dict:
    from mogenet.datasets.public import PREPARERS

    preparer = PREPARERS[args.name]
    options = parse_options(args.option, preparer.options, dataset=args.name)
    if args.chunksize is not None:
        options["chunksize"] = args.chunksize
    result = preparer(args.raw, args.out, **options)

    print(f"prepared {args.name} -> {args.out}")
    print(
        f"  rows {result['rows']:,}  users {result['users']:,}  items {result['items']:,}  "
        f"tasks {','.join(result['tasks'])}"
    )
    shown = {"dataset", "rows", "users", "items", "tasks", "files", "categorical"}
    for key, value in result.items():
        if key not in shown:
            print(f"  {key}: {value}")
    print(f"  files: {' '.join(result['files'])}")
    return result
