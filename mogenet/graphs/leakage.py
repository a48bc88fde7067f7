"""Label-leakage check between a graph bundle and a validation / test log.

Graphs are built from the training interactions only: no validation or test pair
may appear as a message-passing edge.  The similarity graphs are computed from
the bipartite edges alone, so a log that passes this check has contributed to no
similarity score either.

The rule is **strict**: a row is a leak when its (user, item) pair is an edge of
the bipartite graph, whatever its labels (a negative row still reveals that the
pair interacted) and even when the same pair legitimately occurs in training at an
earlier time (a user re-interacting with an item).  Such repeats are reported;
``mogenet split`` keeps each (user, item) pair in exactly one split so this does
not happen for its outputs.  Users or items unknown to the bundle (cold start)
are never leaks.
"""

from __future__ import annotations

import numpy as np

from mogenet.datasets.log import ITEM, USER, InteractionLog
from mogenet.errors import InputError
from mogenet.graphs.bipartite import pair_keys
from mogenet.graphs.bundle import INTERACTS, GraphBundle


class LeakageError(InputError):
    """A validation / test pair is a message-passing edge of the training graph."""


def find_leaks(bundle: GraphBundle, log: InteractionLog) -> np.ndarray:
    """Row positions (``int64``, ascending) of ``log`` rows whose pair is a graph edge."""
    users = bundle.user_map.encode(log.frame[USER].to_numpy())
    items = bundle.item_map.encode(log.frame[ITEM].to_numpy())
    known = (users >= 0) & (items >= 0)
    edge_index = bundle.data[INTERACTS].edge_index.numpy()
    edge_keys = pair_keys(edge_index[0], edge_index[1], bundle.num_items)
    if np.any(edge_keys[1:] < edge_keys[:-1]):  # bundles store sorted edges; be safe
        edge_keys = np.sort(edge_keys)
    keys = pair_keys(users, items, bundle.num_items)
    if len(edge_keys) == 0:
        return np.zeros(0, dtype=np.int64)
    pos = np.minimum(np.searchsorted(edge_keys, keys), len(edge_keys) - 1)
    leak = known & (edge_keys[pos] == keys)
    return np.flatnonzero(leak).astype(np.int64)


def check_leakage(bundle: GraphBundle, log: InteractionLog, *, name: str = "valid") -> None:
    """Raise :class:`LeakageError` if any row of ``log`` is a bipartite edge of ``bundle``.

    Args:
        bundle: graphs built from the training log.
        log: a validation or test log.
        name: what ``log`` is, for the message (``"valid"``, ``"test"``).

    Raises:
        LeakageError: naming the number of leaking rows and the first one (file and
            line when ``log.source`` is known).
    """
    leaks = find_leaks(bundle, log)
    if len(leaks) == 0:
        return
    first = int(leaks[0])
    user, item = log.frame[USER].iloc[first], log.frame[ITEM].iloc[first]
    where = "" if log.source is not None else f", row position {first}"
    message = (
        f"label leakage: {len(leaks)} of {len(log)} {name} rows are (user, item) pairs that are "
        f"message-passing edges of the training graph (first: user '{user}', item '{item}'"
        f"{where}); graphs must be built from training interactions only"
    )
    if log.source is None:
        raise LeakageError(message)
    raise LeakageError(message, file=log.source, row=first + 2)  # header is line 1
