"""Multi-channel sampler: sampled subgraphs are true, well-formed and leak no target."""

from __future__ import annotations

import pytest
import torch

from mogenet.sampling.sampler import Fanouts, MultiChannelSampler


@pytest.fixture(scope="module")
def bundle(make_bundle):
    return make_bundle(
        num_users=60,
        num_items=40,
        num_rows=900,
        groups=7,
        stride=5,
        spread=12,
        labels={"click": 0.7},
        topk=5,
    )


def edge_set(edge_index):
    return set(map(tuple, edge_index.t().tolist()))


def pairs(bundle, n=24, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randint(0, bundle.num_users, (n,), generator=g),
        torch.randint(0, bundle.num_items, (n,), generator=g),
    )


def test_pair_index_points_at_the_requested_pairs(bundle):
    user, item = pairs(bundle)
    user[3], item[5] = -1, -1  # cold start
    out = MultiChannelSampler(bundle).sample(user, item, torch.Generator().manual_seed(0))
    # x = arange trick: a node's feature is its global id
    x_user, x_item = torch.arange(bundle.num_users), torch.arange(bundle.num_items)
    bip = out["bipartite"]
    for ntype, x, ids in (("user", x_user, user), ("item", x_item, item)):
        pi = bip[ntype].pair_index
        ok = ids >= 0
        assert torch.equal(x[bip[ntype].n_id][pi[ok]], ids[ok])
        assert (pi[~ok] == -1).all()
    assert torch.equal(
        x_user[out["user_sim"].n_id][out["user_sim"].pair_index[user >= 0]], user[user >= 0]
    )
    assert torch.equal(
        x_item[out["item_sim"].n_id][out["item_sim"].pair_index[item >= 0]], item[item >= 0]
    )


def test_every_sampled_edge_is_a_true_edge(bundle):
    user, item = pairs(bundle)
    out = MultiChannelSampler(bundle).sample(user, item, torch.Generator().manual_seed(0))
    graph = bundle.data
    interacts = edge_set(graph["user", "interacts", "item"].edge_index)
    bip = out["bipartite"]
    u_id, i_id = bip["user"].n_id, bip["item"].n_id
    src, dst = bip["item", "rev_interacts", "user"].edge_index  # item → user messages
    assert {(int(u_id[d]), int(i_id[s])) for s, d in zip(src, dst, strict=True)} <= interacts
    src, dst = bip["user", "interacts", "item"].edge_index  # user → item messages
    assert {(int(u_id[s]), int(i_id[d])) for s, d in zip(src, dst, strict=True)} <= interacts
    for channel, etype in (("user_sim", "user"), ("item_sim", "item")):
        sub = out[channel]
        true = graph[etype, "similar", etype]
        weight = dict(
            zip(map(tuple, true.edge_index.t().tolist()), true.edge_weight.tolist(), strict=True)
        )
        for (s, d), w in zip(sub.edge_index.t().tolist(), sub.edge_weight.tolist(), strict=True):
            key = (int(sub.n_id[d]), int(sub.n_id[s]))  # target sampled neighbour
            assert weight[key] == pytest.approx(w)


def test_hops_fanouts_and_no_duplicates(bundle):
    user, item = pairs(bundle, n=40)
    fan = Fanouts(bipartite=(3, 2), user_sim=(4, 2), item_sim=(2,))
    out = MultiChannelSampler(bundle, fanouts=fan, remove_target_edges=False).sample(
        user, item, torch.Generator().manual_seed(3)
    )
    sub = out["user_sim"]
    n_hop, e_hop = sub.num_sampled_nodes, sub.num_sampled_edges
    assert len(n_hop) == 3 and len(e_hop) == 2 and sum(n_hop) == sub.num_nodes
    assert n_hop[0] == user.unique().numel()  # seeds first
    ei = sub.edge_index
    first, second = ei[:, : e_hop[0]], ei[:, e_hop[0] :]
    # hop-1 edges end at seeds; hop-2 edges end at the nodes found in hop 1
    assert (first[1] < n_hop[0]).all()
    assert ((second[1] >= n_hop[0]) & (second[1] < n_hop[0] + n_hop[1])).all()
    sim = bundle.data["user", "similar", "user"].edge_index
    deg = torch.bincount(sim[0], minlength=bundle.num_users)
    for hop, (edges, fanout) in enumerate(((first, 4), (second, 2))):
        per_target = torch.bincount(edges[1], minlength=sub.num_nodes)
        targets = per_target.nonzero().squeeze(1)
        expect = torch.clamp(deg[sub.n_id[targets]], max=fanout)
        assert torch.equal(per_target[targets], expect), hop  # min(deg, fanout)
        keys = edges[1] * sub.num_nodes + edges[0]
        assert keys.unique().numel() == keys.numel()  # no duplicate neighbour per draw
    # bipartite hops alternate: users sampled items at hop 1 (to_user edges), whose new
    # items sample users at hop 2 (to_item edges of hop 2 end at hop-1 items)
    bip = out["bipartite"]
    n_item = bip["item"].num_sampled_nodes
    to_item = bip["user", "interacts", "item"]
    hop2 = to_item.edge_index[:, to_item.num_sampled_edges[0] :]
    assert ((hop2[1] >= n_item[0]) & (hop2[1] < n_item[0] + n_item[1])).all()


def test_target_edges_are_removed_in_training(bundle):
    edges = bundle.data["user", "interacts", "item"].edge_index
    user, item = edges[0, :30], edges[1, :30]  # every pair is a graph edge
    full = Fanouts(bipartite=(-1, -1), user_sim=(), item_sim=())
    targets = set(zip(user.tolist(), item.tolist(), strict=True))

    def sampled_pairs(remove):
        bip = MultiChannelSampler(bundle, fanouts=full, remove_target_edges=remove).sample(
            user, item
        )["bipartite"]
        u_id, i_id = bip["user"].n_id, bip["item"].n_id
        out = set()
        for etype, (ui, ii) in (
            ((("item", "rev_interacts", "user")), (1, 0)),
            (("user", "interacts", "item"), (0, 1)),
        ):
            ei = bip[etype].edge_index
            out |= set(zip(u_id[ei[ui]].tolist(), i_id[ei[ii]].tolist(), strict=True))
        return out

    assert targets <= sampled_pairs(remove=False)  # full neighbourhoods contain them
    kept = sampled_pairs(remove=True)
    assert not (targets & kept)
    assert kept == sampled_pairs(remove=False) - targets  # nothing else is lost


def test_full_fanout_equals_the_neighbourhood(bundle):
    user, item = pairs(bundle, n=5)
    out = MultiChannelSampler(
        bundle,
        fanouts=Fanouts(bipartite=(-1,), user_sim=(-1,), item_sim=(-1,)),
        remove_target_edges=False,
    ).sample(user, item)
    sub = out["item_sim"]
    true = bundle.data["item", "similar", "item"].edge_index
    for seed in item.unique().tolist():
        expected = set(true[1, true[0] == seed].tolist())
        local = (sub.n_id == seed).nonzero().item()
        got = set(sub.n_id[sub.edge_index[0, sub.edge_index[1] == local]].tolist())
        assert got == expected


def test_same_seed_same_subgraphs(bundle):
    user, item = pairs(bundle)
    sampler = MultiChannelSampler(bundle)

    def run(seed):
        out = sampler.sample(user, item, torch.Generator().manual_seed(seed))
        return [
            out["bipartite"]["user", "interacts", "item"].edge_index,
            out["user_sim"].edge_index,
        ]

    a, b, c = run(5), run(5), run(6)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a, c, strict=True))


def test_bad_fanouts():
    with pytest.raises(ValueError, match="fanout"):
        Fanouts(bipartite=(0,))
    with pytest.raises(ValueError, match="unknown channel"):
        Fanouts.from_mapping({"social": [3]})


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_sampler_invariants(bundle):
    """On CUDA the random streams differ from the CPU's, so the invariants are checked:
    true edges, pair_index, no target edge, determinism, and everything on the GPU."""
    user, item = pairs(bundle, n=40)
    edges = bundle.data["user", "interacts", "item"].edge_index
    user[:10], item[:10] = edges[0, :10], edges[1, :10]
    sampler = MultiChannelSampler(bundle, device="cuda")

    def run(seed):
        return sampler.sample(user, item, torch.Generator(device="cuda").manual_seed(seed))

    out = run(0)
    bip = out["bipartite"]
    assert bip["user"].n_id.is_cuda and out["user_sim"].edge_index.is_cuda
    assert torch.equal(bip["user"].n_id[bip["user"].pair_index].cpu(), user)
    interacts = edge_set(edges)
    u_id, i_id = bip["user"].n_id.cpu(), bip["item"].n_id.cpu()
    src, dst = bip["item", "rev_interacts", "user"].edge_index.cpu()
    sampled = {(int(u_id[d]), int(i_id[s])) for s, d in zip(src, dst, strict=True)}
    assert sampled <= interacts
    assert not sampled & set(zip(user[:10].tolist(), item[:10].tolist(), strict=True))
    again = run(0)["bipartite"]["item", "rev_interacts", "user"].edge_index
    assert torch.equal(again, bip["item", "rev_interacts", "user"].edge_index)


def test_fold_sampling_uses_the_fold_graphs(bundle):
    from mogenet.sampling.folds import fold_similarity

    user, item = pairs(bundle, n=30)
    full = Fanouts(bipartite=(-1,), user_sim=(-1,), item_sim=(-1,))
    sampler = MultiChannelSampler(bundle, fanouts=full, similarity_folds=3)
    assert "similarity_folds=3" in repr(sampler) and sampler.fold_build_seconds is None
    plain = MultiChannelSampler(bundle, fanouts=full)
    gen = torch.Generator().manual_seed(0)
    # fold=None: the full graphs, exactly what a sampler without folds draws
    a, b = sampler.sample(user, item, gen), plain.sample(user, item, gen)
    assert torch.equal(a["user_sim"].edge_index, b["user_sim"].edge_index)
    assert sampler.fold_build_seconds is None  # fold graphs are built on first use only
    for fold in range(3):
        out = sampler.sample(user, item, gen, fold=fold)
        graphs = fold_similarity(bundle, 3, fold)
        for channel in ("user_sim", "item_sim"):
            sub = out[channel]
            got = {
                (int(sub.n_id[d]), int(sub.n_id[s]))
                for s, d in sub.edge_index[:, : sub.num_sampled_edges[0]].t().tolist()
            }
            seeds = set(sub.n_id[: sub.num_sampled_nodes[0]].tolist())
            expected = {e for e in edge_set(graphs[channel][0]) if e[0] in seeds}
            assert got == expected  # all neighbours in the fold graph, none other
    assert sampler.fold_build_seconds is not None


def test_bad_similarity_folds(bundle):
    with pytest.raises(ValueError, match="similarity_folds"):
        MultiChannelSampler(bundle, similarity_folds=1)
    user, item = pairs(bundle, n=3)
    with pytest.raises(ValueError, match="fold 0 outside"):
        MultiChannelSampler(bundle).sample(user, item, fold=0)
    with pytest.raises(ValueError, match="fold 2 outside"):
        MultiChannelSampler(bundle, similarity_folds=2).sample(user, item, fold=2)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fold_graphs_equal_the_cpu_ones(bundle):
    """Fold graphs are built on the sampler's device; the selection is the same there."""
    cpu = MultiChannelSampler(bundle, similarity_folds=3).fold_graphs()
    cuda = MultiChannelSampler(bundle, similarity_folds=3, device="cuda").fold_graphs()
    for a, b in zip(cpu, cuda, strict=True):
        for x, y in zip(a, b, strict=True):
            assert y.col.is_cuda
            assert torch.equal(x.rowptr, y.rowptr.cpu()) and torch.equal(x.col, y.col.cpu())
            assert torch.allclose(x.weight, y.weight.cpu(), rtol=1e-5)
    user, item = pairs(bundle, n=8)
    out = MultiChannelSampler(bundle, similarity_folds=3, device="cuda").sample(
        user, item, torch.Generator(device="cuda").manual_seed(0), fold=1
    )
    assert out["user_sim"].edge_index.is_cuda
