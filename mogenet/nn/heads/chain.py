r"""What the funnel-ordered heads (ESMM, AITM, BPCM) share: the task chain and the
monotone calibration penalty.

A **chain** is the order of a behaviour funnel, e.g. ``click → cart → fav → buy``:
every step is (at most) as likely as the one before it. Heads take it as the
constructor argument ``chain`` (default: the order of ``tasks``); on the command line
it is a YAML list::

    mogenet train … --model aitm --set model.head_options.chain=[click,cart,buy]

The chain may leave tasks out; what a head does with such a task is documented on
the head (all three give it an ordinary tower and logit, outside the funnel).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from mogenet.errors import InputError

__all__ = [
    "ChainError",
    "calibration_losses",
    "calibration_penalty",
    "check_chain",
    "chain_parents",
]

_HINT = "e.g. --set model.head_options.chain=[click,buy]"


class ChainError(InputError, ValueError):
    """A ``chain`` that is not an ordering of (some of) the head's tasks. Both a
    :class:`ValueError` and an :class:`~mogenet.errors.InputError` (the CLI prints it
    as one line)."""


def check_chain(chain: Sequence[str] | None, tasks: Sequence[str]) -> tuple[str, ...]:
    """Validate a funnel order over ``tasks``: ``None`` means ``tasks`` in their order;
    otherwise a non-empty sequence of distinct names of ``tasks`` (any order, any subset).

    Raises:
        ChainError: (a :class:`ValueError`) naming the problem and the tasks.
    """
    tasks = tuple(tasks)
    if chain is None:
        return tasks
    if isinstance(chain, str):
        raise ChainError(f"chain must be a list of task names, not the string {chain!r} ({_HINT})")
    chain = tuple(chain)
    if not chain:
        raise ChainError(f"chain is empty; give at least one of the tasks {list(tasks)}")
    unknown = [t for t in chain if t not in tasks]
    if unknown:
        raise ChainError(f"chain names unknown task(s) {unknown}; tasks are {list(tasks)}")
    if len(set(chain)) != len(chain):
        raise ChainError(f"chain repeats a task: {list(chain)}")
    return chain


def chain_parents(chain: Sequence[str]) -> dict[str, str]:
    """Each chain step after the first → the step before it
    (``("click", "cart", "buy")`` → ``{"cart": "click", "buy": "cart"}``)."""
    return {chain[k]: chain[k - 1] for k in range(1, len(chain))}


def calibration_penalty(logits: Mapping[str, Tensor], chain: Sequence[str]) -> Tensor:
    r"""The behavioural expectation calibrator of AITM (Xi et al., KDD'21) and
    BPCM (Eq. 12): how much the predicted probabilities *rise* along the chain,

    .. math::
        \mathcal{L}_{lc} = \sum_{t=2}^{T} \frac{1}{B} \sum_{b=1}^{B}
        \max\big(\sigma(o^{t}_b) - \sigma(o^{t-1}_b),\, 0\big),

    exactly 0 when every row is non-increasing along the chain. Heads multiply it by
    their ``calibration_weight`` :math:`\alpha`. A chain of one task gives 0.

    Args:
        logits: task name → ``[B]`` logits (must hold every chain task).
        chain: the funnel order.

    Shapes:
        - **input:** ``logits[task]`` ``[B]``
        - **output:** scalar
    """
    probs = [logits[t].sigmoid() for t in chain]
    terms = [(probs[k] - probs[k - 1]).clamp_min(0).mean() for k in range(1, len(probs))]
    if not terms:
        return probs[0].new_zeros(())
    return torch.stack(terms).sum()


def calibration_losses(
    logits: Mapping[str, Tensor], chain: Sequence[str], weight: float
) -> dict[str, Tensor]:
    """The :attr:`~mogenet.nn.output.HeadOutput.losses` of a calibrated head (AITM,
    BPCM): ``{"calibration": weight * calibration_penalty(logits, chain)}``, or no
    term when ``weight`` is 0."""
    if weight > 0:
        return {"calibration": weight * calibration_penalty(logits, chain)}
    return {}
