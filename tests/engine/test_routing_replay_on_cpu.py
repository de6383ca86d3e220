"""Routing replay on the trainer's DeepSeek-V2 MoE blocks (engine.routing) and the routing statistics
(align.algos.routing), in-process on the built-in model at init (no actors)."""
import pytest
import torch

from align.algos.routing import expert_load, router_entropy, routing_agreement, topk_overlap
from engine.routing import ReplayUnsupported, router_modules, routing


@pytest.fixture(scope="module")
def model():
    from transformers import AutoModelForCausalLM

    from align.models.builtin import init_path

    torch.manual_seed(0)
    m = AutoModelForCausalLM.from_pretrained(str(init_path()), dtype=torch.float32)
    with torch.no_grad():  # sharper routers than at init, so that a wrong route shows in the output
        for r in router_modules(m):
            r.weight.mul_(50)
    return m.eval()


@pytest.fixture(scope="module")
def batch():
    g = torch.Generator().manual_seed(1)
    return {"input_ids": torch.randint(10, 4000, (2, 12), generator=g), "attention_mask": torch.ones(2, 12, dtype=torch.long)}


def test_replaying_the_models_own_routes_is_the_normal_forward(model, batch):
    with torch.no_grad():
        plain = model(**batch).logits
        with routing(model) as seen:
            recorded = model(**batch).logits
        routes = seen.tensor()
        with routing(model, replay=routes) as again:
            replayed = model(**batch).logits
    L = len(router_modules(model))
    assert routes.shape == (L, 24, model.config.num_experts_per_tok)
    assert torch.equal(plain, recorded) and torch.equal(plain, replayed)
    assert torch.equal(again.tensor(), routes)


def test_wrong_routes_change_the_output_and_the_router_still_learns(model, batch):
    """Negative control: other experts give other logits; the gate weights of replayed routes come from the
    current router logits, so the router gets a gradient."""
    with torch.no_grad(), routing(model) as seen:
        plain = model(**batch).logits
    wrong = (seen.tensor() + 1) % model.config.n_routed_experts
    assert (topk_overlap(wrong, seen.tensor()) < model.config.num_experts_per_tok).all()
    model.zero_grad()
    with routing(model, replay=wrong):
        out = model(**batch).logits
    assert (out - plain).abs().max() > 1e-3
    out.float().logsumexp(-1).sum().backward()
    assert all(r.weight.grad is not None and r.weight.grad.abs().sum() > 0 for r in router_modules(model))
    model.zero_grad()


def test_a_dense_model_refuses_replay_with_a_message():
    from transformers import LlamaConfig, LlamaForCausalLM

    dense = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2))
    assert router_modules(dense) == []
    with pytest.raises(ReplayUnsupported, match="dense.*routing_replay: off"):
        with routing(dense, replay=torch.zeros(1, 4, 2, dtype=torch.long)):
            pass


def test_agreement_entropy_and_load_hand_worked():
    a = torch.tensor([[[0, 1], [2, 3], [0, 2]]])  # [L=1, N=3, k=2]
    b = torch.tensor([[[1, 0], [2, 1], [3, 1]]])  # same set; one shared; none shared
    got = routing_agreement(a, b)
    assert got["same_set"].tolist() == pytest.approx([1 / 3]) and got["overlap"].tolist() == pytest.approx([0.5])
    got = routing_agreement(a, b, mask=torch.tensor([True, True, False]))
    assert got["same_set"].tolist() == pytest.approx([0.5]) and got["overlap"].tolist() == pytest.approx([0.75])
    assert expert_load(a, 4)[0].tolist() == pytest.approx([2 / 6, 1 / 6, 2 / 6, 1 / 6])
    flat = torch.zeros(1, 3, 4)  # uniform over 4 experts: entropy ln 4
    assert router_entropy(flat).tolist() == pytest.approx([1.3862944])


def test_vllm_routes_are_attributed_whatever_order_the_scheduler_ran_the_requests():
    from engine.vllm_routes import split

    seqs = [[1, 2, 3], [1, 2, 3, 4], [5, 6], [1, 2, 3]]  # a prefix of another, and a duplicate
    stream = [t for i in (1, 2, 0, 3) for t in seqs[i]]
    routes = torch.arange(len(stream)).repeat(2, 2, 1).permute(0, 2, 1)  # [L=2, N, k=2]: the stream position
    got = split(seqs, torch.tensor(stream), routes)
    assert got[1][:, 0, 0].tolist() == [0, 1, 2, 3] and got[2][:, 0, 0].tolist() == [4, 5]
    assert sorted([got[0][0, 0, 0].item(), got[3][0, 0, 0].item()]) == [6, 9]  # duplicates: either place
    assert got[0].shape == (3, 2, 2)
    with pytest.raises(RuntimeError, match="start none of the remaining sequences"):
        split(seqs, torch.tensor(stream[:-1] + [9]), routes)


def test_route_reads_are_cut_into_single_engine_steps():
    from engine.vllm_routes import batches

    seqs = [[0] * n for n in (5, 4, 3, 6, 1)]
    assert [[len(s) for s in b] for b in batches(seqs, max_tokens=9, max_seqs=8)] == [[5, 4], [3, 6], [1]]
    assert [[len(s) for s in b] for b in batches(seqs, max_tokens=100, max_seqs=2)] == [[5, 4], [3, 6], [1]]
