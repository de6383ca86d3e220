"""The vLLM rollout engine on CPU: generation structure, determinism, log-probs equal to transformers.

The model is the built-in tiny DeepSeek-V2 (MLA + DeepSeekMoE), perturbed: random-initialised
MoE models give near-uniform outputs that hide errors, so noise with the weights' own scale is
added and the router and output head are sharpened (entropy ~4 nats instead of ~8.3).
One engine serves the whole module.
"""
import pytest
import torch

from engine_helpers import hf_logprobs, max_gap, perturb


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from align.models.builtin import init_path

    folder = tmp_path_factory.mktemp("rollout_model")
    model = perturb(AutoModelForCausalLM.from_pretrained(init_path()), seed=1, sharpen=8.0)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(init_path()).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def hf_model(model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def engine(model_dir):
    from engine.rollout import RolloutEngine

    eng = RolloutEngine(str(model_dir), kv_cache_gib=1, max_model_len=256)
    yield eng
    eng.close()


def prompts(k: int = 4, seed: int = 0) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return [[1] + torch.randint(6, 4000, (int(n),), generator=g).tolist()
            for n in torch.randint(3, 12, (k,), generator=g)]


def test_generate_structure_and_finish_reasons(engine):
    ps = prompts(3)
    outs = engine.generate(ps, n=4, temperature=1.0, max_tokens=7, seed=3)
    assert len(outs) == 3 and all(len(o) == 4 for o in outs)
    for group in outs:
        for s in group:
            assert set(s) == {"token_ids", "logprobs", "finish_reason"}
            assert len(s["token_ids"]) == len(s["logprobs"]) == 7 and s["finish_reason"] == "length"
            assert all(isinstance(t, int) and 0 <= t < 4096 for t in s["token_ids"])
            assert all(lp <= 0.0 for lp in s["logprobs"])
    assert len({tuple(s["token_ids"]) for s in outs[0]}) > 1, "the n samples of one prompt must differ"

    full = engine.generate(ps[:1], temperature=1.0, max_tokens=8, seed=11)[0][0]["token_ids"]
    stop = next(t for i, t in enumerate(full) if i >= 2 and t not in full[:i])
    cut = full.index(stop)
    stopped = engine.generate(ps[:1], temperature=1.0, max_tokens=8, seed=11, stop_token_ids=[stop])[0][0]
    assert stopped["finish_reason"] == "stop"
    assert stopped["token_ids"] == full[: cut + 1]  # same seed, same samples; the stop token is returned


def test_generation_is_deterministic(engine):
    ps = prompts(4, seed=1)
    a = engine.generate(ps, n=1, temperature=0.0, max_tokens=12)
    b = engine.generate(ps[::-1], n=1, temperature=0.0, max_tokens=12)[::-1]  # other batch order
    assert [o[0]["token_ids"] for o in a] == [o[0]["token_ids"] for o in b]
    s1 = engine.generate(ps, n=3, temperature=1.0, max_tokens=12, seed=7)
    s2 = engine.generate(ps, n=3, temperature=1.0, max_tokens=12, seed=7)
    s3 = engine.generate(ps, n=3, temperature=1.0, max_tokens=12, seed=8)
    ids = lambda outs: [[s["token_ids"] for s in o] for o in outs]  # noqa: E731
    assert ids(s1) == ids(s2) and ids(s1) != ids(s3)


def test_score_matches_transformers(engine, hf_model):
    g = torch.Generator().manual_seed(0)
    seqs = [[1] + torch.randint(6, 4000, (n,), generator=g).tolist() for n in (20, 40, 70)]
    plens = [1, 9, 30]
    got = engine.score(seqs, plens)
    ref = hf_logprobs(hf_model, seqs, plens)
    assert max_gap(got, ref) < 1e-3
    assert float(torch.cat(ref).std()) > 0.5, "the reference must not be near-uniform"


def test_sampled_logprobs_match_transformers(engine, hf_model):
    ps = prompts(3, seed=2)
    outs = engine.generate(ps, n=2, temperature=1.0, max_tokens=16, seed=0)
    seqs = [p + s["token_ids"] for p, o in zip(ps, outs) for s in o]
    plens = [len(p) for p in ps for _ in range(2)]
    ref = hf_logprobs(hf_model, seqs, plens)
    assert max_gap([s["logprobs"] for o in outs for s in o], ref) < 1e-3
    assert max_gap(engine.score(seqs, plens), ref) < 1e-3


def test_info_and_sleep_are_noops_on_cpu(engine, model_dir):
    assert engine.model_path == str(model_dir)
    info = engine.info()
    assert info["device"] == "cpu" and info["in_process"] and info["start_seconds"] > 0
    assert (info["attention_backend"], info["dtype"]) == ("CPU_MLA", "float32")  # chosen, not vLLM's AMX default
    assert engine.sleep(level=1) == {"action": "sleep", "done": False, "noop": True, "seconds": 0.0, "level": 1,
                                     "reason": "vLLM has no sleep mode on CPU"}
    assert engine.wake_up(tags=["weights"])["done"] is False
    assert engine.generate([[1, 5, 6]], temperature=0.0, max_tokens=2)[0][0]["finish_reason"] == "length"


def test_cpu_threads_bind_the_engine_to_the_cores_asked_for(model_dir):
    """`rollout.cpu_threads`: every thread of the engine's process, those vLLM starts included, runs on the cores
    asked for (here the last one; unbound, they may run on any), and torch uses that many threads. A subprocess:
    the binding would pin pytest."""
    import os
    import subprocess
    import sys

    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        pytest.skip("needs 2 cores")
    code = ("import os, sys; from engine.rollout import RolloutEngine\n"
            f"e = RolloutEngine({str(model_dir)!r}, kv_cache_gib=1, max_model_len=128, cpu_threads=1, cpu_offset={len(cores) - 1})\n"
            "out = e.generate([[1, 5, 6]], n=2, temperature=1.0, max_tokens=4, seed=0)\n"
            "import torch; masks = {tuple(sorted(os.sched_getaffinity(int(t)))) for t in os.listdir('/proc/self/task')}\n"
            "print('RESULT', sorted(masks), e.info()['cpu_cores'], torch.get_num_threads(), len(out[0]))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT")]
    assert line, proc.stderr[-2000:]
    assert line[0] == f"RESULT [({cores[-1]},)] [{cores[-1]}] 1 2"
