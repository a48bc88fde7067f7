"""Render a run report in headless Chromium and check what a person would see.

Usage::

    python scripts/screenshot_report.py runs/mmoe/report.html --out report.png
    python scripts/screenshot_report.py runs/mmoe --out report.png   # writes the report first

Two Chromium runs (``--headless --no-sandbox --disable-gpu
--disable-background-networking --no-first-run``):

1. ``--screenshot`` of the page at ``--width`` × ``--height`` CSS pixels;
2. ``--dump-dom`` of the page after its load event, where the report's inline
   script has written ``data-images-ok`` / ``data-images-total`` on ``<html>``:
   how many ``<img>`` elements the browser decoded (``naturalWidth > 0``).

Checks, printed and returned as JSON (exit code 1 when one fails):

- ``images_decoded``: every ``<img>`` decoded, and there is at least one;
- ``screenshot_not_blank``: the PNG exists, has the requested size, and more than
  ``--min-ink`` of its pixels differ from the background (the most common colour),
  with more than 16 distinct colours (text and plots, not a blank or error page).

Chromium comes from ``--chromium`` (default ``/usr/bin/chromium``;
``apt-get install chromium`` on Debian).  Nothing is fetched from the network: the
report is self-contained and opened as a ``file://`` URL.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--hide-scrollbars",
    "--virtual-time-budget=10000",  # let the load event and the inline script run
)


def chromium(binary: str, args: list[str], *, profile: Path, timeout: float) -> str:
    """Run headless Chromium; its stdout (the DOM for ``--dump-dom``)."""
    cmd = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        raise RuntimeError(f"chromium exited with {done.returncode}: {' | '.join(tail)}")
    return done.stdout


def image_counts(dom: str) -> tuple[int, int]:
    """``(decoded, total)`` from the ``data-images-*`` attributes of ``<html>``."""
    tag = re.search(r"<html[^>]*>", dom)
    attrs = dict(re.findall(r'data-images-(ok|total)="(\d+)"', tag.group(0) if tag else ""))
    if "ok" not in attrs or "total" not in attrs:
        return -1, -1  # the page's script did not run
    return int(attrs["ok"]), int(attrs["total"])


def ink(png: Path) -> dict:
    """Size, share of non-background pixels and distinct colours of a PNG."""
    import numpy as np
    from PIL import Image

    with Image.open(png) as im:
        pixels = np.asarray(im.convert("RGB")).reshape(-1, 3)
        size = im.size
    codes = (pixels[:, 0].astype(np.int64) << 16) | (pixels[:, 1].astype(np.int64) << 8)
    codes |= pixels[:, 2]
    values, counts = np.unique(codes, return_counts=True)
    background = counts.max()
    return {
        "width": size[0],
        "height": size[1],
        "ink": round(1.0 - background / codes.size, 4),
        "colours": int(values.size),
    }


def check(
    page: Path, out: Path, *, binary: str, width: int, height: int, min_ink: float, timeout: float
) -> dict:
    """Screenshot ``page`` to ``out`` and run the checks (see the module docstring)."""
    url = page.resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="mogenet-chromium-") as profile:
        out.parent.mkdir(parents=True, exist_ok=True)
        chromium(
            binary,
            [f"--screenshot={out.resolve()}", f"--window-size={width},{height}", url],
            profile=Path(profile),
            timeout=timeout,
        )
        dom = chromium(binary, ["--dump-dom", url], profile=Path(profile), timeout=timeout)
    ok, total = image_counts(dom)
    shot = ink(out) if out.is_file() else {"width": 0, "height": 0, "ink": 0.0, "colours": 0}
    result = {
        "page": str(page),
        "screenshot": str(out),
        "images": {"decoded": ok, "total": total, "img_tags": dom.count("<img")},
        "png": shot,
        "checks": {
            "images_decoded": total > 0 and ok == total == dom.count("<img"),
            "screenshot_not_blank": (shot["width"], shot["height"]) == (width, height)
            and shot["ink"] > min_ink
            and shot["colours"] > 16,
        },
    }
    result["ok"] = all(result["checks"].values())
    return result


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("page", help="a report .html, or a run directory (its report is written)")
    p.add_argument("--out", default="report.png", help="screenshot PNG (default: %(default)s)")
    p.add_argument("--chromium", default=CHROMIUM, help="browser binary (default: %(default)s)")
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=2400)
    p.add_argument("--min-ink", type=float, default=0.02, help="share of non-background pixels")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per Chromium run")
    args = p.parse_args(argv)
    page = Path(args.page)
    if page.is_dir():
        from mogenet.report import write_html_report

        page = write_html_report(page)
    if not Path(args.chromium).exists():
        raise SystemExit(f"{args.chromium} not found (apt-get install chromium, or --chromium)")
    result = check(
        page,
        Path(args.out),
        binary=args.chromium,
        width=args.width,
        height=args.height,
        min_ink=args.min_ink,
        timeout=args.timeout,
    )
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    sys.exit(0 if main()["ok"] else 1)
