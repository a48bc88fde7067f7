"""Per-stage configuration (nanoGPT style): one small typed dataclass per stage.

A run's resolved configuration is a :class:`RunConfig` of stage configs; it is
read from YAML, overridden by ``--set stage.key=value`` and written back into the
run directory.  Modules never receive these objects whole: the code that builds
a module passes the fields it needs as keyword arguments.
"""

from __future__ import annotations

import dataclasses
import os
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml

from mogenet.errors import InputError, did_you_mean


@dataclass
class GraphConfig:
    """How the graph bundle is built from the training log.

    Args:
        similarity: collaborative-similarity measure over co-interactions
            (``cosine``, ``jaccard``, ``cooccur``; see ``mogenet.graphs.similarity``).
        topk: neighbours kept per node in the user–user / item–item graphs.
        min_support: minimum number of common interactions for a similarity edge.
        hub_cap: at most this many interactions of one node enter the similarity
            of the other side (an item with 10^5 users would otherwise create
            10^10 user pairs); a seeded uniform sample is kept.  ``None`` = no cap.
        behavior_weights: task → weight of that behaviour in the similarity
            (behaviour-weighted variant, e.g. ``{click: 1, buy: 4}``); an edge
            weighs the sum over the behaviours it has.  ``None`` = binary.
        per_behavior_edges: also store one bipartite edge type per behaviour.
        seed: seeds the hub sampling.
        device: where similarity is computed (``cpu`` or ``cuda``).
        num_threads: CPU worker threads for similarity blocks (0 = all cores).
        chunk_nnz: bound on the partial products of one block (peak memory).
        spectral: dimension of the spectral node embeddings stored with the graphs
            (the top singular vectors of the normalised user–item matrix of every
            training row, labels ignored; ``mogenet.graphs.spectral``); models read
            them as node features (``model.spectral``). ``0`` = none.
    """

    similarity: str = "cosine"
    topk: int = 10
    min_support: int = 1
    hub_cap: int | None = 300
    behavior_weights: dict[str, float] | None = None
    per_behavior_edges: bool = False
    seed: int = 0
    device: str = "cpu"
    num_threads: int = 0
    chunk_nnz: int = 1 << 22
    spectral: int = 0


@dataclass
class ModelConfig:
    """Which model to train and its sizes.

    ``name`` picks a head from the registry (``mogenet.nn.heads.HEADS``).  The
    shared fields below are passed to the head's constructor when its signature
    has them; ``head_options`` carries head-specific keyword arguments and is
    checked against the constructor's signature (an unknown key is an error).

    Args:
        name: head name (``mmoe``, ``shared_bottom``, …); ``NAME+mgnn`` for the head
            on ``x`` and the MGNN representations (MoGENet Table 3); ``ngcf`` for
            the NGCF baseline (see ``mogenet.build``).
        embedding_dim: id-embedding size of the user and item encoders.
        ids: node types (``user``, ``item``) whose nodes of the training log get
            an id embedding each. Leave a type out and its nodes are read through
            their features only (they share one learnt row): ``[]`` for
            feature-only benchmarks such as census-income, where every person
            has one row. On a synthetic log whose valid/test users are new, the
            default did as well as item ids only or id dropout, and features only
            lost 1–4 AUC points (``bench/cold_users.md``).
        id_dropout: probability that a node looked up in training uses the
            shared out-of-vocabulary id row instead of its own (features kept),
            so that cold-start nodes are scored by a trained row
            (``mogenet.nn.NodeEncoder``); 0 = off.
        num_experts: experts of mixture-of-experts heads.
        expert_channels: hidden sizes of each expert (or the shared bottom).
        tower_channels: hidden sizes of each task tower.
        dropout: dropout inside experts and towers.
        head_options: extra keyword arguments of the chosen head.
        graph_channels: size d of the MGNN representations (graph heads only).
        graph_layers: MGNN layers L per channel.
        graph_heads: attention heads of each GAT layer.
        graph_update: the node-state update f of Eq. 1–2 (``gru`` or ``lstm``).
        interaction: the pairwise interaction κ of Eq. 3 (``product``, ``concat``,
            ``add``, ``mlp``).
        graph_channels_used: MGNN channels with propagation (``bipartite``,
            ``user_sim``, ``item_sim``); ``[bipartite]`` is the NGCF-style study.
        graph_edge_weight: feed similarity weights to the attention as edge features.
        graph_dropout: dropout on attention coefficients and messages.
        graph_encoder: the graph encoder of models that read the graph (``mgnn``,
            ``ngcf``); unset = the model's own (``ngcf`` for ``ngcf``, else ``mgnn``).
            NGCF reads ``graph_channels``, ``graph_layers`` and ``graph_dropout``.
        spectral: read the graph bundle's spectral node embeddings (built with
            ``build-graphs --spectral K``) as numeric node features, beside the
            feature tables; a bundle without them gives none.
    """

    name: str = "mmoe"
    embedding_dim: int = 16
    ids: tuple[str, ...] = ("user", "item")
    id_dropout: float = 0.0
    num_experts: int = 4
    expert_channels: tuple[int, ...] = (64, 32)
    tower_channels: tuple[int, ...] = (16,)
    dropout: float = 0.0
    head_options: dict[str, Any] = field(default_factory=dict)
    graph_channels: int = 64
    graph_layers: int = 2
    graph_heads: int = 1
    graph_update: str = "gru"
    interaction: str = "product"
    graph_channels_used: tuple[str, ...] = ("bipartite", "user_sim", "item_sim")
    graph_edge_weight: bool = False
    graph_dropout: float = 0.0
    graph_encoder: str | None = None
    spectral: bool = True


@dataclass
class SamplerConfig:
    """Neighbour sampling for models with a graph encoder (unused by the others).

    Args:
        bipartite: fanout per hop in the user–item graph (``-1`` = all neighbours).
        user_sim: fanout per hop in the user–user similarity graph.
        item_sim: fanout per hop in the item–item similarity graph.
        weighted_similarity: draw similar neighbours in proportion to similarity.
        remove_target_edges: drop each training pair's own edge from its subgraph.
        num_workers: sampling threads (batches are the same for any number).
        similarity_folds: out-of-fold similarity channels for training batches:
            ``K`` ≥ 2 splits the training pairs into ``K`` folds by a hash of
            (user, item) and samples a fold-``f`` batch's user–user / item–item
            subgraphs from graphs built without fold ``f``'s positives, so a
            training positive never sees similarity edges it helped create
            (``mogenet.sampling.sampler``, *Similarity leakage*); evaluation and
            prediction use the full graphs.  ``0`` = off (the leaky behaviour).
            On by default with ``K = 5`` (each fold graph sees 80 % of the
            positives; a larger ``K`` is closer to the full graphs but builds and
            holds ``K`` copies of both similarity graphs).  Measured on the
            4000-user × 1000-item synthetic log (96k training rows, 2-core machine):
            the 5 fold graphs build once in 0.9 s (the bundle's own similarity:
            0.5 s); a sampling epoch (batch 512, fanouts [10, 10]) took 5.6 s vs
            6.1 s without folds (the fold graphs are a little sparser); an
            item-CF score on the sampled graph fell from GAUC 0.79 (leaky) to
            0.58 on training pairs, vs 0.60 on test pairs; MoGENet's test mean
            GAUC was 0.699 with and without folds (1 seed).
    """

    bipartite: tuple[int, ...] = (10, 10)
    user_sim: tuple[int, ...] = (10, 10)
    item_sim: tuple[int, ...] = (10, 10)
    weighted_similarity: bool = False
    remove_target_edges: bool = True
    num_workers: int = 2
    similarity_folds: int = 5


@dataclass
class LossConfig:
    """How per-task losses are combined.

    Args:
        weighting: ``uncertainty`` (learned log-variances, Kendall et al. 2018) or
            ``fixed``.
        weights: per-task weights for ``fixed`` (default 1 each).
        cooperative: β of MoGENet's cooperative loss on the gates (Eq. 7); 0 = off.
        contrastive: γ of the in-batch contrastive loss on the pair embeddings (not
            in the papers; ``mogenet.losses.contrastive_loss``); 0 = off.  1.0 added
            2–5 test-GAUC points to MMoE and MoGENet on the 4000 × 1000 × 120k
            collaborative synthetic log (``bench/collab.md``), but cost the sparse
            ``buy`` task 5–6 points on a log with ~15 impressions per user (README,
            MoGENet status): check it on validation data.
        contrastive_task: task whose positives are the contrastive pairs (default:
            the first task).
        temperature: τ of the contrastive loss.
    """

    weighting: str = "uncertainty"
    weights: dict[str, float] | None = None
    cooperative: float = 0.0
    contrastive: float = 0.0
    contrastive_task: str | None = None
    temperature: float = 0.2


@dataclass
class TrainConfig:
    """Optimisation and early stopping.

    Args:
        epochs: maximum number of epochs.
        batch_size: examples per training step (the global batch under ``torchrun``:
            each of the N processes takes ``batch_size / N`` of it).
        eval_batch_size: examples per evaluation step.
        lr: Adam learning rate.
        weight_decay: Adam weight decay (L2 on every model parameter, embeddings
            included; not on the loss's task log-variances).  3e-4 was the best of
            {0, 1e-4, 3e-4, 1e-3} for MMoE on the synthetic demo log.
        patience: epochs without a better validation score (``monitor``) before
            stopping. Validation GAUC is noisy: with patience 2 MMoE stopped at epoch
            4 on the id-only synthetic log; with 5 it trained to epoch 27 and gained
            1.6–4 GAUC points per task on test.
        monitor: the validation score that picks the best epoch and drives early
            stopping (:func:`mogenet.trainer.monitor_score`): ``gauc``, ``auc`` or
            ``logloss``, averaged over tasks, or ``TASK.METRIC`` for one task
            (``buy.auc``). A task with a few dozen validation positives makes the
            mean GAUC jumpy: on one funnel log (25 validation buys) MMoE's buy GAUC
            fell 6 points after epoch 1 and early stopping ended training at epoch 4
            while the other tasks still improved; with ``auc`` it trained 14 epochs
            (``bench/funnel_300k_contrastive_tree_auc.md``).
        device: ``cpu``, ``cuda`` or ``cuda:N`` (under ``torchrun``, ``cuda`` means
            ``cuda:LOCAL_RANK``).
        seed: seeds parameters init, shuffling and every random draw.
        cpu_threads: intra-op threads PyTorch uses on CPU.  Mini-batches of small
            MLPs are dominated by per-op overhead, and on the 2-core reference
            machine one thread was 16x faster per step than two (13 ms vs 208 ms,
            MMoE, batch 512, other work running); raise it for wide models.
            ``0`` keeps PyTorch's default.
        flush_denormal: on CPU, flush subnormal floats (below 1.2e-38) to zero
            (:func:`torch.set_flush_denormal`, for the whole process).  Weights that
            get almost no gradient are shrunk by weight decay into the subnormal
            range, and x86 arithmetic on subnormals is slow: a 64-wide ``Linear``
            and ``GRUCell`` step with subnormal weights took 52x as long
            (``scripts/bench_denormal.py``), and
            MoGENet with the paper's losses on the 480k collaborative log went from
            46 s to 420 s per epoch after epoch 8, with 80k subnormal parameters.
            Flushing changes only values that small.  Ignored on CUDA.
        amp: bf16 autocast of the forward pass and loss on CUDA (no loss scaling is
            needed for bf16).  Ignored on CPU, where bf16 matmuls are slower than
            fp32 for these small MLPs and would change the numbers of CPU runs.
        grad_clip: clip the global gradient norm (model and loss parameters) to this
            value before each step; ``0`` = no clipping.
        lr_schedule: learning-rate schedule per optimiser step, a name of
            :data:`mogenet.trainer.LR_SCHEDULES`: ``constant``, ``cosine`` (from
            ``lr`` down to 0 at the last step of ``epochs``) or ``warmup_cosine``
            (linear warm-up from 0 over ``warmup_epochs``, then cosine).
        warmup_epochs: warm-up length of ``warmup_cosine`` in epochs (fractions
            allowed).
        tensorboard: also log every history value to ``RUN_DIR/tensorboard`` (needs
            the ``tensorboard`` package; without it a warning says so and training
            goes on).
        find_unused_parameters: under ``torchrun``, let DDP search each step for
            parameters that got no gradient (needed by heads that leave some out of
            a step; DDP warns once when none was found, and then this can be turned
            off to save one traversal of the autograd graph per step).
    """

    epochs: int = 30
    batch_size: int = 512
    eval_batch_size: int = 8192
    lr: float = 1e-3
    weight_decay: float = 3e-4
    patience: int = 5
    monitor: str = "gauc"
    device: str = "cpu"
    seed: int = 0
    cpu_threads: int = 1
    flush_denormal: bool = True
    amp: bool = True
    grad_clip: float = 0.0
    lr_schedule: str = "constant"
    warmup_epochs: float = 1.0
    tensorboard: bool = False
    find_unused_parameters: bool = True


@dataclass
class RunConfig:
    """The whole configuration of a training run, one field per stage."""

    tasks: tuple[str, ...] | None = None
    graph: GraphConfig = field(default_factory=GraphConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))

    @classmethod
    def preset(cls, name: str) -> RunConfig:
        """A named configuration (``mogenet train --set`` still overrides it).

        ``mogenet-paper``: MoGENet's published settings (§3): L = 2, d = 64, 4 experts
        of [32, 32], a linear output v, β = 1e-6 (cooperative loss), λ = 1e-3 (L2 as
        Adam weight decay), Adam with lr 1e-4, batch 256.

        ``mogenet-fast``: MoGENet as ``scripts/bench_collab.py`` trains it — batch
        1024, lr 2e-3, fanouts [5, 5] in every channel, patience 3, a linear output
        v, and the in-batch contrastive loss (γ = 1, not in the paper). It converges
        in about 10 epochs; on the 4000-user collaborative synthetic log it beats
        the paper's losses by 4–5 test-GAUC points (``bench/collab.md``), on a
        sparser log the contrastive term costs the sparse task (README).
        """
        try:
            sets = PRESETS[name]
        except KeyError:
            raise InputError(
                f"unknown preset {name!r} (presets: {', '.join(sorted(PRESETS))})"
            ) from None
        return cls().override(sets)

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str = "config") -> RunConfig:
        return _build(cls, d, source)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> RunConfig:
        try:
            d = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError:
            raise InputError("config file not found", file=path) from None
        except yaml.YAMLError as e:
            raise InputError(f"invalid YAML ({str(e).splitlines()[0]})", file=path) from None
        if not isinstance(d, dict):
            raise InputError("config must be a YAML mapping of stage → settings", file=path)
        return cls.from_dict(d, source=str(path))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def override(self, assignments: list[str]) -> RunConfig:
        """Apply ``stage.key=value`` assignments (values parsed as YAML scalars/lists)."""
        d = self.to_dict()
        for a in assignments:
            key, sep, raw = a.partition("=")
            if not sep:
                raise InputError(f"--set expects key=value, got {a!r}")
            node = d
            *parents, leaf = key.strip().split(".")
            for p in parents:
                if not isinstance(node.get(p), dict):
                    sections = sorted(k for k, v in node.items() if isinstance(v, dict))
                    raise InputError(
                        f"--set {key}: unknown section '{p}' (known: {', '.join(sections)})"
                        + did_you_mean(p, sections)
                    )
                node = node[p]
            if leaf not in node and not (parents and parents[-1] == "head_options"):
                known = ", ".join(sorted(node))
                raise InputError(
                    f"--set {key}: unknown setting '{leaf}' (known: {known})"
                    + did_you_mean(leaf, node)
                )
            node[leaf] = yaml.safe_load(raw)
        return RunConfig.from_dict(d, source="--set")


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _build(cls: type, d: dict[str, Any], source: str) -> Any:
    """Build dataclass ``cls`` from a plain dict, checking names and coercing types."""
    if not isinstance(d, dict):
        raise InputError(f"{source}: expected a mapping for {cls.__name__}, got {d!r}")
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for k, v in d.items():
        if k not in names:
            raise InputError(
                f"{source}: unknown setting '{k}' in {cls.__name__} "
                f"(known: {', '.join(sorted(names))})" + did_you_mean(k, names)
            )
        kwargs[k] = _coerce(hints[k], v, f"{source}: {k}")
    return cls(**kwargs)


def _coerce(tp: Any, v: Any, where: str) -> Any:
    if dataclasses.is_dataclass(tp):
        return _build(tp, v or {}, where)
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        if v is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], v, where)
    if origin is tuple:
        if not isinstance(v, (list, tuple)):
            v = [v]
        return tuple(_coerce(args[0], x, where) for x in v)
    if origin is dict or tp is dict:
        if not isinstance(v, dict):
            raise InputError(f"{where}: expected a mapping, got {v!r}")
        return dict(v)
    if tp is Any:
        return v
    if tp is bool:
        if isinstance(v, bool):
            return v
        raise InputError(f"{where}: expected true/false, got {v!r}")
    if tp in (int, float, str):
        try:
            out = tp(v)
        except (TypeError, ValueError):
            raise InputError(f"{where}: expected {tp.__name__}, got {v!r}") from None
        if tp is int and isinstance(v, float) and out != v:
            raise InputError(f"{where}: expected an integer, got {v!r}")
        return out
    return v


#: Named configurations as ``--set`` assignments (see :meth:`RunConfig.preset`).
PRESETS: dict[str, list[str]] = {
    "default": [],
    "mogenet-paper": [
        "model.name=mogenet",
        "model.graph_layers=2",
        "model.graph_channels=64",
        "model.num_experts=4",
        "model.expert_channels=[32,32]",
        "model.tower_channels=[]",
        "loss.weighting=uncertainty",
        "loss.cooperative=1e-6",
        "train.weight_decay=1e-3",
        "train.lr=1e-4",
        "train.batch_size=256",
    ],
    "mogenet-fast": [
        "model.name=mogenet",
        "model.tower_channels=[]",
        "loss.contrastive=1.0",
        "train.batch_size=1024",
        "train.lr=2e-3",
        "train.patience=3",
        "sampler.bipartite=[5,5]",
        "sampler.user_sim=[5,5]",
        "sampler.item_sim=[5,5]",
    ],
}
