import pandas as pd
import pytest
import torch

from mogenet.datasets import IdMap, InteractionLog
from mogenet.errors import InputError
from mogenet.nn.heads import AESM2, MMoE, MoSE
from mogenet.sampling import Examples
from mogenet.sampling.inputs import HeadInputs, data_options, scenario_map
from mogenet.sampling.sequence import PAD

TASKS = ("click", "buy")
USERS, ITEMS = IdMap(["a", "b"]), IdMap(["i0", "i1", "i2"])


def make_log(scenarios=("s1", "s0", "s1", "s0"), times=(1, 2, 3, 4), source="train.csv"):
    frame = pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "a"],
            "item_id": ["i0", "i1", "i2", "i2"],
            "timestamp": list(times),
            "scenario": list(scenarios),
            "click": [1, 0, 1, 1],
            "buy": [1, 0, 0, 0],
        }
    )
    return InteractionLog(frame, TASKS, source=source)


def encode(log):
    return Examples.from_log(log, USERS, ITEMS)


def test_nothing_for_heads_without_inputs():
    log = make_log()
    inputs = HeadInputs.fit(MMoE(in_channels=4, tasks=TASKS), log, USERS, ITEMS)
    assert not inputs and inputs.state_dict() == {"sequence_length": 0}
    ex = encode(log)
    assert inputs.attach(ex, log) is ex
    assert data_options(MMoE, log) == {}


def test_scenarios_are_coded_by_the_training_vocabulary():
    log = make_log()
    assert data_options(AESM2, log) == {"num_scenarios": 2}
    assert scenario_map(log).to_list() == ["s0", "s1"]
    inputs = HeadInputs.fit(AESM2(in_channels=4, tasks=TASKS, num_scenarios=2), log, USERS, ITEMS)
    assert inputs.history is None and "scenarios=['s0', 's1']" in repr(inputs)
    ex = inputs.attach(encode(log), log)
    assert ex.scenario.tolist() == [1, 0, 1, 0] and ex.sequence is None
    assert "inputs=['scenario']" in repr(ex)
    again = HeadInputs.from_state_dict(inputs.state_dict())
    assert again.scenarios == inputs.scenarios


def test_scenario_errors_are_one_line_input_errors():
    log = make_log()
    head = AESM2(in_channels=4, tasks=TASKS, num_scenarios=2)
    inputs = HeadInputs.fit(head, log, USERS, ITEMS)
    test = make_log(scenarios=("s0", "s9", "s9", "s1"), source="test.csv")
    with pytest.raises(InputError, match=r"test.csv, column 'scenario': 2 row\(s\).*'s9'.*known"):
        inputs.attach(encode(test), test)
    bare = InteractionLog(log.frame.drop(columns="scenario"), TASKS, source="valid.csv")
    with pytest.raises(InputError, match="valid.csv.*no 'scenario' column"):
        inputs.attach(encode(bare), bare)
    with pytest.raises(InputError, match="AESM2 reads scenarios"):
        data_options(AESM2, bare)
    small = AESM2(in_channels=4, tasks=TASKS, num_scenarios=1)
    with pytest.raises(InputError, match="2 scenarios but AESM2 was built for num_scenarios=1"):
        HeadInputs.fit(small, log, USERS, ITEMS)


def test_sequences_come_from_the_training_log_only():
    train = make_log()
    head = MoSE(in_channels=4, tasks=TASKS, max_length=2)
    inputs = HeadInputs.fit(head, train, USERS, ITEMS)
    assert inputs.sequence_length == 2 and inputs.scenarios is None
    ex = inputs.attach(encode(train), train)
    # user a: rows at t=1 (i0), 2 (i1), 4 (i2); each sees only earlier rows
    assert ex.sequence.tolist() == [[PAD, PAD], [PAD, 0], [PAD, PAD], [0, 1]]
    assert ex.sequence_labels[1].tolist() == [[0, 0], [1, 1]]
    # a held-out row at t=3 of user a sees the training rows before t=3, never its own
    held = InteractionLog(
        pd.DataFrame(
            {"user_id": ["a", "b"], "item_id": ["i2", "i0"], "timestamp": [3, 99]}
            | {t: [1, 1] for t in TASKS}
        ),
        TASKS,
    )
    assert inputs.attach(encode(held), held).sequence.tolist() == [[0, 1], [PAD, 2]]
    pairs = InteractionLog(pd.DataFrame({"user_id": ["a"], "item_id": ["i0"]}), ())
    assert inputs.attach(encode(pairs), pairs).sequence.tolist() == [[1, 2]]  # no time: now
    again = HeadInputs.from_state_dict(inputs.state_dict())
    assert torch.equal(again.attach(encode(train), train).sequence, ex.sequence)


def test_attach_checks_rows_and_unsupported_inputs():
    log = make_log()
    inputs = HeadInputs.fit(MoSE(in_channels=4, tasks=TASKS), log, USERS, ITEMS)
    with pytest.raises(ValueError, match="4 examples but the log has 1 rows"):
        inputs.attach(encode(log), InteractionLog(log.frame.iloc[:1], TASKS))

    class Odd(MMoE):
        inputs = frozenset({"weather"})

    with pytest.raises(ValueError, match="unsupported input"):
        HeadInputs.fit(Odd(in_channels=4, tasks=TASKS), log, USERS, ITEMS)
