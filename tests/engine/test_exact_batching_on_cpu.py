"""GRPO through the real DeepSpeed workers: the step's gradient is the whole batch's, and the router policy.

Two ZeRO-2 workers, two micro-batches each (accumulation 2), on the built-in DeepSeek-V2 at init: the
global gradient norm DeepSpeed reports must equal the norm of the autograd gradient of the whole-batch
loss computed in one process, for a token-mean loss (dapo) and a sequence-mean one (grpo). Negative
control: the per-micro-batch normalisation a naive driver would use gives another norm. `lr=0` keeps
the weights fixed between the calls. With `grpo.router: freeze` the routers are left out of training.
"""
import pytest
import torch

from align.algos.grpo import LOSS_TYPES, policy_loss
from align.config import load_recipe
from align.data.chat import Encoded

N, MICRO, WORKERS = 8, 2, 2


@pytest.fixture(scope="module")
def setup():
    import ray

    from align.models.builtin import init_path
    from align.workflows import common
    from engine.trainer import collate

    cfg = load_recipe("recipes/v2_grpo.yaml", ["model.path=builtin:tiny-v2@init", "trainer.num_workers=2",
                                               "trainer.threads_per_worker=1", f"stage1.grpo.micro_batch_size={MICRO}"])
    g = torch.Generator().manual_seed(0)
    enc = []
    for i in range(N):
        p, c = 5 + i % 3, 3 + (5 * i) % 7  # uneven prompt and completion lengths
        ids = torch.randint(10, 4000, (p + c,), generator=g).tolist()
        enc.append(Encoded(tuple(ids), (0,) * p + (1,) * c))
    adv = torch.randn(N, generator=g)
    path = init_path()
    trainers = common.start_trainers(cfg, path, N, micro=MICRO, freeze_router=True, optim=cfg.stage1.optim)
    per_rank = []
    for r in range(WORKERS):
        idx = list(range(r, N, WORKERS))
        mbs = []
        for k in range(0, len(idx), MICRO):
            part = idx[k:k + MICRO]
            mb = collate([enc[j] for j in part], 0)
            mb["advantages"] = adv[part]
            mbs.append(mb)
        per_rank.append(mbs)
    yield trainers, per_rank, enc, adv, path
    trainers.kill()
    ray.shutdown()


def _ds_grad_norm(trainers, per_rank, loss_type: str, token_scale: float, seq_scale: float) -> float:
    lt = LOSS_TYPES[loss_type]
    kw = {"eps_low": 0.2, "eps_high": 0.2, "beta": 0.0, "aggregation": lt.aggregation, "ratio_level": lt.ratio_level}
    res = trainers.call("train_step", per_rank=[(m, 0.0, "grpo") for m in per_rank], token_scale=token_scale,
                        seq_scale=seq_scale, loss_kwargs=kw)
    return res[0]["grad_norm"]


def _reference_grad_norm(path: str, enc, adv, loss_type: str) -> float:
    """The whole batch in one forward, in this process: the gradient the step must take."""
    from transformers import AutoModelForCausalLM

    from engine.objectives import completion_logprobs
    from engine.trainer import collate, freeze_routers

    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    freeze_routers(model)
    batch = collate(enc, 0)
    logp, _, _ = completion_logprobs(model, batch)
    mask = batch["loss_mask"][:, 1:].float()
    lt = LOSS_TYPES[loss_type]
    loss, _ = policy_loss(logp, logp.detach(), adv, mask, aggregation=lt.aggregation, ratio_level=lt.ratio_level)
    loss.backward()
    return float(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in model.parameters() if p.grad is not None)))


@pytest.mark.parametrize("loss_type", ["dapo", "grpo"])
def test_worker_gradient_equals_the_whole_batch_gradient(setup, loss_type):
    trainers, per_rank, enc, adv, path = setup
    slots = WORKERS * len(per_rank[0])
    tokens = sum(sum(e.loss_mask[1:]) for e in enc)
    got = _ds_grad_norm(trainers, per_rank, loss_type, slots / tokens, slots / N)
    want = _reference_grad_norm(path, enc, adv, loss_type)
    assert got == pytest.approx(want, rel=1e-4)
    # negative control: the global counts without DeepSpeed's averaging over the 4 micro-batch slots
    naive = _ds_grad_norm(trainers, per_rank, loss_type, 1.0 / tokens, 1.0 / N)
    assert naive == pytest.approx(want / slots, rel=1e-3) and abs(naive - want) > 0.5 * want


def test_router_freeze_leaves_the_routers_out_of_training(setup):
    """After a real update (lr > 0) every router weight is unchanged and the experts moved."""
    trainers, per_rank, *_ = setup
    before = trainers.group.call_rank0("parameter_fingerprint")
    kw = {"eps_low": 0.2, "eps_high": 0.2, "beta": 0.0, "aggregation": "token_mean"}
    trainers.call("train_step", per_rank=[(m, 1e-2, "grpo") for m in per_rank], token_scale=0.1, seq_scale=0.5,
                  loss_kwargs=kw)
    after = trainers.group.call_rank0("parameter_fingerprint")
    routers = [n for n in before if n.endswith("mlp.gate.weight")]
    experts = [n for n in before if n.endswith("mlp.experts.gate_up_proj")]
    assert routers and experts
    assert all(before[n] == after[n] for n in routers)
    assert all(before[n] != after[n] for n in experts)
