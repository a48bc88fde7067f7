"""What a head needs beyond the (user, item) pair, fitted on the training log.

Heads declare extra inputs in :attr:`~mogenet.nn.heads.MultiTaskHead.inputs`;
:class:`HeadInputs` is fitted once on the training log for the head a run trains
(only the inputs it declares) and attaches them to every set of
:class:`~mogenet.sampling.Examples` — training, validation, and later evaluation
and prediction data (it is saved with the run):

- ``"sequence"``: the user's behaviour history (:class:`~mogenet.sampling.sequence.History`,
  training log only) → ``Examples.sequence`` / ``sequence_labels``;
- ``"scenario"``: the scenario vocabulary of the training log's ``scenario``
  column (sorted raw values) → ``Examples.scenario`` codes.  A scenario that the
  training log does not have is an :class:`~mogenet.errors.InputError` (a
  scenario-gated head has no gate for it), as is a missing ``scenario`` column.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from mogenet.datasets.idmap import IdMap
from mogenet.datasets.log import SCENARIO, TIMESTAMP, InteractionLog
from mogenet.errors import InputError
from mogenet.sampling.loader import Examples
from mogenet.sampling.sequence import History

#: The extra inputs a :class:`HeadInputs` can supply.
SUPPORTED = frozenset({"sequence", "scenario"})


def scenario_map(log: InteractionLog, *, model: str = "the model") -> IdMap:
    """The scenario vocabulary of a training log (sorted distinct values)."""
    _require_scenarios(log, model)
    return IdMap.from_values(log.frame[SCENARIO])


def data_options(head_cls: type, log: InteractionLog) -> dict[str, int]:
    """Constructor options of ``head_cls`` that the training data fixes:
    ``num_scenarios`` for heads that read scenarios, nothing for the others."""
    if "scenario" not in getattr(head_cls, "inputs", ()):
        return {}
    return {"num_scenarios": len(scenario_map(log, model=head_cls.__name__))}


def _require_scenarios(log: InteractionLog, model: str) -> None:
    if not log.has_scenario:
        raise InputError(
            f"{model} reads scenarios but the data has no 'scenario' column",
            file=log.source,
            column=SCENARIO,
        )


@dataclass
class HeadInputs:
    """The fitted extra inputs of a head (empty for heads that declare none).

    Args:
        scenarios: scenario vocabulary (code = position), or ``None``.
        history: training behaviour history, or ``None``.
        sequence_length: ``L`` of the sequences (the head's ``max_length``).
    """

    scenarios: IdMap | None = None
    history: History | None = None
    sequence_length: int = 0

    @classmethod
    def fit(cls, head, log: InteractionLog, user_map: IdMap, item_map: IdMap) -> HeadInputs:
        """Fit the inputs ``head`` declares on the training ``log``."""
        needs = frozenset(getattr(head, "inputs", frozenset()))
        name = type(head).__name__
        unknown = needs - SUPPORTED
        if unknown:
            raise ValueError(f"{name} declares unsupported input(s) {sorted(unknown)}")
        scenarios = history = None
        length = 0
        if "scenario" in needs:
            scenarios = scenario_map(log, model=name)
            if len(scenarios) > head.num_scenarios:
                raise InputError(
                    f"the training data has {len(scenarios)} scenarios but {name} was "
                    f"built for num_scenarios={head.num_scenarios}",
                    file=log.source,
                    column=SCENARIO,
                )
        if "sequence" in needs:
            history = History.from_log(log, user_map, item_map)
            length = int(head.max_length)
        return cls(scenarios=scenarios, history=history, sequence_length=length)

    def __bool__(self) -> bool:
        return self.scenarios is not None or self.history is not None

    def __repr__(self) -> str:
        parts = []
        if self.scenarios is not None:
            parts.append(f"scenarios={self.scenarios.to_list()}")
        if self.history is not None:
            parts.append(f"history={self.history!r}, sequence_length={self.sequence_length}")
        return f"HeadInputs({', '.join(parts)})"

    def attach(self, examples: Examples, log: InteractionLog) -> Examples:
        """``examples`` (encoded from ``log``, same rows) with the fitted inputs."""
        if len(examples) != len(log):
            raise ValueError(f"{len(examples)} examples but the log has {len(log)} rows")
        extra = {}
        if self.history is not None:
            time = log.frame[TIMESTAMP].to_numpy(dtype=np.int64) if log.has_timestamp else None
            sequence, labels = self.history.sequences(examples.user, time, self.sequence_length)
            extra.update(sequence=sequence, sequence_labels=labels)
        if self.scenarios is not None:
            extra["scenario"] = self.encode_scenarios(log)
        return replace(examples, **extra) if extra else examples

    def encode_scenarios(self, log: InteractionLog) -> torch.Tensor:
        """``[N]`` long scenario codes of the rows of ``log``."""
        _require_scenarios(log, "the model")
        codes = self.scenarios.encode(log.frame[SCENARIO])
        unknown = codes < 0
        if unknown.any():
            values = sorted(set(log.frame[SCENARIO].to_numpy()[unknown].astype(str)))
            shown = ", ".join(repr(v) for v in values[:5]) + (", …" if len(values) > 5 else "")
            raise InputError(
                f"{int(unknown.sum())} row(s) have scenario(s) unseen in training ({shown}); "
                f"known: {', '.join(self.scenarios.to_list())}",
                file=log.source,
                column=SCENARIO,
            )
        return torch.from_numpy(codes)

    def state_dict(self) -> dict:
        """Plain tensors, lists and ints (``torch.load(weights_only=True)`` reads it)."""
        state: dict = {"sequence_length": self.sequence_length}
        if self.scenarios is not None:
            state["scenarios"] = self.scenarios.to_list()
        if self.history is not None:
            state["history"] = self.history.state_dict()
        return state

    @classmethod
    def from_state_dict(cls, state: dict) -> HeadInputs:
        return cls(
            scenarios=IdMap(state["scenarios"]) if "scenarios" in state else None,
            history=History.from_state_dict(state["history"]) if "history" in state else None,
            sequence_length=int(state.get("sequence_length", 0)),
        )


__all__ = ["SUPPORTED", "HeadInputs", "data_options", "scenario_map"]
