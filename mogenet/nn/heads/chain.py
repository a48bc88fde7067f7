r"""What the funnel-ordered heads (ESMM, AITM, BPCM) share: the task chain and the
monotone calibration penalty.

A **chain** is the order of a behaviour funnel, e.g. ``click → cart → fav → buy``:
every step is (at most) as likely as the one before it. Heads take it as the
constructor argument ``chain`` (default: the order of ``tasks``); on the command line
it is a YAML list::

    mogenet train … --model aitm --set model.head_options.chain=[click,cart,buy]

A funnel that **branches**, e.g. ``click → cart → buy`` beside ``click → fav`` (a
favourite and a cart both follow a click, but neither follows the other), is a list
of chains that start at the same task::

    --set 'model.head_options.chain=[[click,cart,buy],[click,fav]]'

It is a tree: every task but the root has one parent, the step before it
(:func:`chain_parents`), and all that the heads do along a chain they do along each
parent → child edge (ESM²'s decomposition of Wen et al., SIGIR'20, has the same
shape: impression → click → {cart/wish, other} → buy).

The chain may leave tasks out; what a head does with such a task is documented on
the head (all three give it an ordinary tower and logit, outside the funnel).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from mogenet.errors import InputError

__all__ = [
    "Chain",
    "ChainError",
    "calibration_losses",
    "calibration_penalty",
    "chain_parents",
    "chain_root",
    "check_chain",
]

_HINT = "e.g. --set model.head_options.chain=[click,buy]"


class ChainError(InputError, ValueError):
    """A ``chain`` that is not an ordering of (some of) the head's tasks. Both a
    :class:`ValueError` and an :class:`~mogenet.errors.InputError` (the CLI prints it
    as one line)."""


Chain = tuple[str, ...] | tuple[tuple[str, ...], ...]


def _check_path(path: Sequence[str], tasks: tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(path, str):
        raise ChainError(f"chain must be a list of task names, not the string {path!r} ({_HINT})")
    path = tuple(path)
    if not path:
        raise ChainError(f"chain is empty; give at least one of the tasks {list(tasks)}")
    if not all(isinstance(t, str) for t in path):
        raise ChainError(
            f"a chain is a list of task names or a list of such lists, got {list(path)!r}"
        )
    unknown = [t for t in path if t not in tasks]
    if unknown:
        raise ChainError(f"chain names unknown task(s) {unknown}; tasks are {list(tasks)}")
    if len(set(path)) != len(path):
        raise ChainError(f"chain repeats a task: {list(path)}")
    return path


def check_chain(chain: Sequence | None, tasks: Sequence[str]) -> Chain:
    """Validate a funnel over ``tasks``: ``None`` means ``tasks`` in their order; a
    sequence of distinct names of ``tasks`` (any order, any subset) is one chain; a
    sequence of such sequences is a branching funnel (one chain per branch, all from
    the same first task, every task with one parent in all branches it is in).

    Returns:
        the chain as a tuple of names, or the branches as a tuple of such tuples
        (one branch alone is returned as a plain chain).

    Raises:
        ChainError: (a :class:`ValueError`) naming the problem and the tasks.
    """
    tasks = tuple(tasks)
    if chain is None:
        return tasks
    if isinstance(chain, str) or not chain or isinstance(next(iter(chain)), str):
        return _check_path(chain, tasks)
    branches = tuple(_check_path(branch, tasks) for branch in chain)
    if len(branches) == 1:
        return branches[0]
    roots = {branch[0] for branch in branches}
    if len(roots) > 1:
        raise ChainError(
            f"the branches of a chain must start at the same task, got {sorted(roots)}"
        )
    parents = chain_parents(branches)  # each task's parent in the first branch naming it
    for branch in branches:
        for parent, task in zip(branch, branch[1:], strict=False):
            if parents[task] != parent:
                raise ChainError(
                    f"task {task!r} follows {parents[task]!r} in one branch and {parent!r} "
                    "in another; each task has one parent"
                )
    return branches


def chain_root(chain: Chain) -> str:
    """The first task of a chain (of every branch)."""
    first = chain[0]
    return first if isinstance(first, str) else first[0]


def chain_parents(chain: Chain) -> dict[str, str]:
    """Each step after the root → the step before it, parents before children
    (``("click", "cart", "buy")`` → ``{"cart": "click", "buy": "cart"}``; the
    branches ``(("click", "cart"), ("click", "fav"))`` → ``{"cart": "click", "fav":
    "click"}``)."""
    branches = (chain,) if isinstance(chain[0], str) else chain
    parents: dict[str, str] = {}
    for branch in branches:
        for k in range(1, len(branch)):
            parents.setdefault(branch[k], branch[k - 1])
    return parents


def calibration_penalty(logits: Mapping[str, Tensor], chain: Chain) -> Tensor:
    r"""The behavioural expectation calibrator of AITM (Xi et al., KDD'21) and
    BPCM (Eq. 12): how much the predicted probabilities *rise* along the chain,

    .. math::
        \mathcal{L}_{lc} = \sum_{t=2}^{T} \frac{1}{B} \sum_{b=1}^{B}
        \max\big(\sigma(o^{t}_b) - \sigma(o^{t-1}_b),\, 0\big),

    exactly 0 when every row is non-increasing along the chain. Heads multiply it by
    their ``calibration_weight`` :math:`\alpha`. A chain of one task gives 0. In a
    branching funnel the sum is over every parent → child edge
    (:func:`chain_parents`), :math:`t-1` being :math:`t`'s parent.

    Args:
        logits: task name → ``[B]`` logits (must hold every chain task).
        chain: the funnel (a chain or its branches; see :func:`check_chain`).

    Shapes:
        - **input:** ``logits[task]`` ``[B]``
        - **output:** scalar
    """
    parents = chain_parents(chain)
    if not parents:
        return logits[chain_root(chain)].new_zeros(())
    probs = {t: logits[t].sigmoid() for t in (chain_root(chain), *parents)}
    terms = [(probs[t] - probs[p]).clamp_min(0).mean() for t, p in parents.items()]
    return torch.stack(terms).sum()


def calibration_losses(
    logits: Mapping[str, Tensor], chain: Chain, weight: float
) -> dict[str, Tensor]:
    """The :attr:`~mogenet.nn.output.HeadOutput.losses` of a calibrated head (AITM,
    BPCM): ``{"calibration": weight * calibration_penalty(logits, chain)}``, or no
    term when ``weight`` is 0."""
    if weight > 0:
        return {"calibration": weight * calibration_penalty(logits, chain)}
    return {}
