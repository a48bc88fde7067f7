"""The run directory: everything needed to evaluate, predict with and export a model.

Layout (every file written atomically)::

    RUN_DIR/
      config.yaml       resolved RunConfig (YAML)
      run.json          run info: version, tasks, seed, device, graph path + hash,
                        log_nodes (users/items of the training log; the rest of
                        id_maps have features only), train/valid file hashes,
                        best epoch, popularity global rates
      model.pt          {"model": state_dict, "loss": state_dict}
      id_maps.json      {"users": [raw ids…], "items": [raw ids…]} (index = position)
      features.pt       {"user": FeatureTable state, "item": FeatureTable state}
      popularity.parquet  per-item smoothed positive rates (the popularity baseline)
      history.jsonl     one JSON object per epoch (losses, task weights, valid metrics,
                        lr, gate usage); history.csv: the same, flattened columns
      tensorboard/      TensorBoard scalars (only with ``train.tensorboard``)
      metrics.json      validation metrics at the best epoch + run info
      inputs.pt         only for heads with extra inputs (MoSE, AESM²): the scenario
                        vocabulary / training behaviour history (HeadInputs state)

While training, the directory holds ``config.yaml``, the history so far,
``checkpoint.pt`` (the whole training state after the last finished epoch) and
the marker ``incomplete.json`` (inputs and the command that resumes); the other
files are written when training ends, and the checkpoint and the marker are
removed last.  :meth:`Run.load` refuses a directory with the marker.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from mogenet.baselines import PopularityScorer
from mogenet.build import build_loss, build_model
from mogenet.config import RunConfig
from mogenet.datasets.features import FeatureTable
from mogenet.datasets.idmap import IdMap
from mogenet.datasets.log import ITEM
from mogenet.errors import InputError
from mogenet.graphs import GraphBundle
from mogenet.io import atomic_path, write_json
from mogenet.nn.model import MultiTaskModel
from mogenet.sampling.inputs import HeadInputs

#: Marker of a run directory whose training has not finished.
INCOMPLETE = "incomplete.json"
#: The training state of an unfinished run (see :class:`mogenet.trainer.Trainer`).
CHECKPOINT = "checkpoint.pt"

#: The fitted extra inputs of heads that declare some (see :attr:`Run.inputs`).
INPUTS = "inputs.pt"

RUN_FILES = (
    "config.yaml",
    "run.json",
    "model.pt",
    "id_maps.json",
    "features.pt",
    "popularity.parquet",
)


@dataclass
class Run:
    """A trained run, as saved on disk.

    Args:
        config: the resolved configuration.
        info: run metadata (``run.json``).
        user_map, item_map: id maps of the training graph.
        user_features, item_features: encoded node features.
        state: ``{"model": state_dict, "loss": state_dict}``.
        popularity: the fitted popularity baseline.
        inputs: the head's extra inputs fitted on the training log (empty for most heads).
    """

    config: RunConfig
    info: dict[str, Any]
    user_map: IdMap
    item_map: IdMap
    user_features: FeatureTable
    item_features: FeatureTable
    state: dict[str, Any]
    popularity: PopularityScorer
    inputs: HeadInputs = field(default_factory=HeadInputs)

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.info["tasks"])

    @property
    def log_nodes(self) -> dict[str, int]:
        """Users ``[0, K_u)`` and items ``[0, K_i)`` of the id maps occur in the
        training log; the rest are feature-only (runs before ``log_nodes``: all)."""
        default = {"user": len(self.user_map), "item": len(self.item_map)}
        return {**default, **(self.info.get("log_nodes") or {})}

    def unseen_share(self, users, items) -> dict[str, float]:
        """Share of the pairs ``(users[k], items[k])`` (raw ids) whose user / item
        does not occur in the training log: cold start, scored without an id
        embedding of its own."""
        shares = {}
        for kind, ids, idmap in (("user", users, self.user_map), ("item", items, self.item_map)):
            index = idmap.encode(ids)
            unseen = (index < 0) | (index >= self.log_nodes[kind])
            shares[kind] = float(unseen.mean()) if len(index) else 0.0
        return shares

    def model(self) -> MultiTaskModel:
        """Rebuild the model and load its trained weights."""
        model = build_model(
            self.config.model,
            tasks=self.tasks,
            user_features=self.user_features,
            item_features=self.item_features,
            log_nodes=self.log_nodes,
        )
        model.load_state_dict(self.state["model"])
        return model.eval()

    def bundle(self) -> GraphBundle:
        """The graph bundle the run was trained on (path in ``run.json``), checked by hash."""
        graph = self.info.get("graph") or {}
        bundle = GraphBundle.load(graph.get("path", ""))
        if graph.get("hash") and bundle.meta.get("hash") != graph["hash"]:
            raise InputError(
                "the graph directory changed since training (content hash differs); "
                "rebuild it from the same training file or retrain",
                file=graph.get("path"),
            )
        return bundle

    def loss(self) -> torch.nn.Module:
        loss = build_loss(self.config.loss, tasks=self.tasks)
        loss.load_state_dict(self.state["loss"])
        return loss

    def save(self, directory: str | os.PathLike) -> None:
        """Write every file of the run into ``directory`` (atomically, file by file)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        with atomic_path(d / "config.yaml") as tmp:
            tmp.write_text(self.config.to_yaml())
        info = dict(self.info)
        info["popularity"] = {
            "prior_strength": self.popularity.prior_strength,
            "global_rate": self.popularity.global_rate,
        }
        write_json(d / "run.json", info)
        with atomic_path(d / "model.pt") as tmp:
            torch.save(self.state, tmp)
        write_json(
            d / "id_maps.json", {"users": self.user_map.to_list(), "items": self.item_map.to_list()}
        )
        with atomic_path(d / "features.pt") as tmp:
            torch.save(
                {"user": self.user_features.state_dict(), "item": self.item_features.state_dict()},
                tmp,
            )
        rates = self.popularity.item_rate.rename_axis(ITEM).reset_index()
        with atomic_path(d / "popularity.parquet") as tmp:
            rates.to_parquet(tmp, index=False)
        if self.inputs:
            with atomic_path(d / INPUTS) as tmp:
                torch.save(self.inputs.state_dict(), tmp)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Run:
        """Load a run directory; a clear :class:`InputError` if it is not one."""
        d = Path(directory)
        if not d.is_dir():
            raise InputError("run directory not found", file=d)
        if (d / INCOMPLETE).exists():
            raise InputError(
                "training of this run has not finished (interrupted or still running); "
                f"continue it with `mogenet train --resume {os.fspath(d)}`",
                file=d,
            )
        missing = [f for f in RUN_FILES if not (d / f).exists()]
        if missing:
            raise InputError(f"not a mogenet run directory (missing {', '.join(missing)})", file=d)
        try:
            config = RunConfig.from_yaml(d / "config.yaml")
            info = json.loads((d / "run.json").read_text())
            maps = json.loads((d / "id_maps.json").read_text())
            feats = torch.load(d / "features.pt", weights_only=True)
            state = torch.load(d / "model.pt", weights_only=True, map_location="cpu")
            rates = pd.read_parquet(d / "popularity.parquet")
            inputs = (
                HeadInputs.from_state_dict(torch.load(d / INPUTS, weights_only=True))
                if (d / INPUTS).exists()
                else HeadInputs()
            )
        except (OSError, ValueError, RuntimeError, KeyError) as e:
            raise InputError(f"corrupted run directory ({type(e).__name__}: {e})", file=d) from None
        popularity = PopularityScorer(info["popularity"]["prior_strength"])
        popularity.tasks = tuple(info["tasks"])
        popularity.global_rate = dict(info["popularity"]["global_rate"])
        popularity.item_rate = rates.set_index(ITEM)
        return cls(
            config=config,
            info=info,
            user_map=IdMap(maps["users"]),
            item_map=IdMap(maps["items"]),
            user_features=FeatureTable.from_state_dict(feats["user"]),
            item_features=FeatureTable.from_state_dict(feats["item"]),
            state=state,
            popularity=popularity,
            inputs=inputs,
        )
