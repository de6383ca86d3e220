"""The colocated swap's moves are real on CPU (engine.offload.Spill): an offload frees the trainer's parameter,
gradient and optimizer storage, a reload restores it to the bit, and a read of an offloaded side is refused.
So the swap order of the previous scheduler (offload the trainer, then sync its weights) fails here, where it
used to pass because every move was a no-op."""
import pytest
import torch

from align.models.builtin import init_path
from engine.cluster import free_port

DS = {"train_micro_batch_size_per_gpu": 2, "gradient_accumulation_steps": 1, "zero_optimization": {"stage": 2},
      "zero_allow_untested_optimizer": True, "gradient_clipping": 1.0}


def _worker():
    from engine.trainer import TrainWorker

    w = TrainWorker(0, 1, "127.0.0.1", free_port(), threads=1)
    w.setup(str(init_path()), {**DS, "_optimizer": {"lr": 1e-3, "betas": [0.9, 0.999], "weight_decay": 0.0}}, seed=0)
    return w


@pytest.fixture(scope="module")
def batch():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 4000, (2, 24), generator=g)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "loss_mask": torch.ones_like(ids)}


def _step(w, batch):
    return w.train_step([batch], 1e-3, "sft", token_scale=1 / 46, aux_coef=0.0)


def _state(w) -> dict:
    """Parameters and the optimizer's state, as copies."""
    out = {f"p/{n}": p.detach().clone() for n, p in w.engine.module.named_parameters()}
    inner = w.engine.optimizer.optimizer
    for i, (p, st) in enumerate(inner.state.items()):
        out |= {f"opt{i}/{k}": v.clone() for k, v in st.items() if torch.is_tensor(v)}
    return out


def test_an_offload_reload_cycle_is_exact_and_frees_the_states(batch):
    cycled, plain = _worker(), _worker()
    _step(cycled, batch), _step(plain, batch)
    before = _state(cycled)
    out = cycled.offload()
    params = sum(p.numel() * 4 for p in cycled.engine.module.parameters())
    assert out["bytes"] >= 3 * params  # parameters, Adam's two moments (and ZeRO's flat copies)
    assert out["rss_freed_mb"] > 0.5 * out["bytes"] / 2**20, out  # the memory went back, not only the accounting
    back = cycled.reload()
    assert back["bytes"] == out["bytes"]
    after = _state(cycled)
    assert after.keys() == before.keys() and len([k for k in after if k.startswith("opt")]) > 0
    assert all(torch.equal(after[k], before[k]) for k in before)
    a, b = _step(cycled, batch), _step(plain, batch)
    assert a["nll_sum"] == b["nll_sum"] and a["grad_norm"] == b["grad_norm"]
    sa, sb = _state(cycled), _state(plain)
    assert all(torch.equal(sa[k], sb[k]) for k in sa), "training after the cycle differs from training without it"


def test_the_old_order_offload_then_sync_is_refused(batch):
    """The previous `before_weight_sync` offloaded the trainer and then the sync read its parameters."""
    w = _worker()
    w.offload()
    for call in (lambda: w.named_tensors(), lambda: list(w.weight_buckets()), lambda: w.send_weights(),
                 lambda: _step(w, batch), lambda: w.logprobs([batch])):
        with pytest.raises(RuntimeError, match="offloaded .*wrong swap order"):
            call()
    with pytest.raises(RuntimeError, match="offloaded already"):
        w.offload()
    w.reload()
    assert len(w.named_tensors()) > 0
    with pytest.raises(RuntimeError, match="not offloaded"):
        w.reload()


def test_the_reference_offloads_for_real_and_scores_the_same_after(batch):
    from engine.reference import ReferenceWorker

    ref = ReferenceWorker(str(init_path()))
    before = ref.logprobs([batch])[0]
    out = ref.offload()
    assert out["bytes"] >= sum(p.numel() * 4 for p in ref.model.parameters())
    with pytest.raises(RuntimeError, match="offloaded .*wrong swap order"):
        ref.logprobs([batch])
    ref.reload()
    assert torch.equal(ref.logprobs([batch])[0], before)
