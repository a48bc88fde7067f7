"""Degree-distribution plot of a graph bundle (``mogenet build-graphs --plot``).

matplotlib is an optional dependency (``pip install mogenet[plot]``); it is
imported only when a plot is drawn, and drawn with the Agg canvas (no display,
no pyplot global state).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mogenet.errors import InputError
from mogenet.io import atomic_path


def require_matplotlib() -> None:
    """Raise :class:`InputError` (with the install command) when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError(
            "plotting needs matplotlib: pip install matplotlib (or pip install 'mogenet[plot]')"
        ) from None


def degree_ccdf(degrees: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Complementary CDF of the non-zero degrees: ``(d, P(D ≥ d))``, ``d`` ascending.

    Isolated nodes (degree 0) cannot sit on a log axis; they are left out, so the
    fractions are over the nodes with at least one edge.
    """
    deg = np.asarray(degrees)
    deg = deg[deg > 0]
    if deg.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    values, counts = np.unique(deg, return_counts=True)
    at_least = counts[::-1].cumsum()[::-1]  # nodes with degree ≥ value
    return values, at_least / deg.size


def plot_degrees(bundle, path: str | os.PathLike, *, dpi: int = 100) -> Path:
    """Write a PNG of every channel's degree distribution (log-log CCDF).

    One panel per node type (user, item); one line per channel — ``interacts``,
    ``similar`` and, when the bundle has them, one per behaviour — showing the
    fraction of nodes with degree ≥ d.  The legend gives each channel's number of
    isolated nodes (left out of the log axes).  The file is written atomically.

    Args:
        bundle: a :class:`~mogenet.graphs.GraphBundle`.
        path: the PNG to write (parent directories are created).
        dpi: resolution.

    Raises:
        InputError: matplotlib is not installed.
    """
    require_matplotlib()
    from matplotlib.figure import Figure

    degrees = bundle.degrees()
    fig = Figure(figsize=(5.0 * len(degrees), 4.0), dpi=dpi, layout="constrained")
    axes = fig.subplots(1, len(degrees), squeeze=False)[0]
    for ax, (node_type, channels) in zip(axes, degrees.items(), strict=True):
        drawn = False
        for channel, deg in channels.items():
            x, y = degree_ccdf(deg)
            isolated = int((deg == 0).sum())
            label = f"{channel} (isolated {isolated})"
            # behaviour channels dashed, so the ones that equal ``interacts`` stay visible
            style = {"interacts": ("-", 2.6), "similar": ("-", 1.4)}.get(channel, ("--", 1.2))
            ax.plot(
                x, y, linestyle=style[0], linewidth=style[1], marker=".", markersize=3, label=label
            )
            drawn = drawn or x.size > 0
        if drawn:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_title(f"{node_type} degree ({len(next(iter(channels.values())))} nodes)")
        ax.set_xlabel("degree d")
        ax.set_ylabel("P(degree ≥ d), non-isolated nodes")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(f"degree distributions — {bundle.num_users} users, {bundle.num_items} items")
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path
