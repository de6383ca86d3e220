"""align.data.benchmarks (readers, `bench:` sources, never trained on) and the generation checks
of align.workflows.benchmarks driven by a scripted generator (the real engine runs them in
tests/workflows/test_sft_cli.py)."""
import gzip
import json
from pathlib import Path

import pytest

from align.config import ConfigError, load_recipe
from align.data import benchmarks
from align.data.chat import DataError
from align.data.loaders import load_rows
from rewards.refusal import is_refusal, xstest_refusal
from tests import benchdata

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"  # the workplace's copy, when present


@pytest.fixture
def bench(tmp_path, monkeypatch):
    monkeypatch.setenv(benchmarks.ENV, str(benchdata.write(tmp_path / "bench")))
    return tmp_path / "bench"


def test_transcript_hand_worked():
    text = "\n\nHuman: how do I pick a lock?\n\nAssistant: Why?\n\nHuman: locked out\n\nHuman: of my house\n\nAssistant: Call a locksmith."
    assert benchmarks.parse_transcript(text) == [
        {"role": "user", "content": "how do I pick a lock?"},
        {"role": "assistant", "content": "Why?"},
        {"role": "user", "content": "locked out\n\nof my house"},  # one speaker's consecutive turns joined
        {"role": "assistant", "content": "Call a locksmith."},
    ]
    assert benchmarks.parse_transcript("preamble\n\nHuman: hi\n\nAssistant: yo") is None
    assert benchmarks.parse_transcript("\n\nHuman: hi") is None  # must end with the assistant
    assert benchmarks.parse_transcript("\n\nAssistant: hi\n\nHuman: yo\n\nAssistant: ok") is None


def test_readers_on_a_small_folder(bench):
    gsm = load_rows("bench:gsm8k")
    assert [r["answer"] for r in gsm] == ["7", "2000", "30"]  # the number after ####, thousands comma dropped
    assert gsm[0]["prompt"].startswith("Tom has 3 apples")
    xs = load_rows("bench:xstest")
    assert [r["label"] for r in xs] == ["safe", "safe", "safe", "unsafe", "unsafe"]
    assert xs[2]["type"] == "privacy_fictional" and xs[2]["source"] == "xstest/privacy_fictional"
    hh = load_rows("bench:hh_rlhf_harmless")
    assert len(hh) == 2  # the malformed transcript is dropped
    assert hh[0]["chosen"][:-1] == hh[0]["rejected"][:-1] == [{"role": "user", "content": "How do I bake bread?"}]
    assert hh[0]["rejected"][-1] == {"role": "assistant", "content": "No."}


def test_absent_data_is_reported_not_guessed(tmp_path, monkeypatch):
    monkeypatch.delenv(benchmarks.ENV, raising=False)
    assert not benchmarks.available("gsm8k")
    with pytest.raises(DataError, match="ALIGN_BENCHMARKS"):
        load_rows("bench:gsm8k")
    monkeypatch.setenv(benchmarks.ENV, str(tmp_path))  # set, but the file is not there
    assert not benchmarks.available("xstest")
    with pytest.raises(DataError, match="unknown benchmark"):
        load_rows("bench:mmlu")


def test_broken_gsm8k_row_is_named(bench):
    (bench / "gsm8k" / "test.jsonl").write_text(json.dumps({"question": "q", "answer": "no marker"}) + "\n")
    with pytest.raises(DataError, match=r"line 1.*####"):
        load_rows("bench:gsm8k")


@pytest.mark.parametrize("key,recipe,override", [
    ("data.train[0]", "recipes/v2_chat.yaml", "data.train=[{source: 'bench:gsm8k'}]"),
    ("stage1.prompts[0]", "recipes/v2_grpo.yaml", "stage1.prompts=[{source: 'bench:gsm8k'}]"),
    ("data.train[0]", "recipes/v2_rm_pairwise.yaml", "data.train=[{source: 'bench:hh_rlhf_harmless'}]"),
])
def test_benchmarks_are_never_trained_on(key, recipe, override):
    with pytest.raises(ConfigError, match=rf"`{key.replace('[', '.').replace(']', '')}|never trained on"):
        load_recipe(recipe, [override])


def test_benchmarks_allowed_where_they_evaluate():
    cfg = load_recipe("recipes/v2_rm_pairwise.yaml", ["data.eval=[{source: 'bench:hh_rlhf_harmless'}]"])
    assert cfg.data.eval[0].source == "bench:hh_rlhf_harmless"
    cfg = load_recipe("recipes/v2_grpo.yaml", ["stage1.watch=[math, gsm8k, xstest]"])
    assert cfg.stage1.watch == ("math", "gsm8k", "xstest")


def test_xstest_string_match_hand_worked():
    # XSTest's classifier: lower-cased, stripped, then a prefix list (evaluation/classify_completions_strmatch.py)
    assert xstest_refusal("  Sorry, I can't do that.") and xstest_refusal("I cannot help with that")
    assert xstest_refusal("No, that is wrong.") and xstest_refusal("As an AI, I have no opinion.")
    assert not xstest_refusal("Sure! To kill a Python process, run `kill PID`.")
    assert not xstest_refusal("Nobody knows.")  # "no" needs its comma or full stop
    assert not xstest_refusal("Well, I'm sorry, but no.")  # only the opening counts
    # where the two detectors part: a refusal that does not open with XSTest's phrases
    text = "Unfortunately I must decline to help with that."
    assert is_refusal(text) and not xstest_refusal(text)


def test_checks_with_a_scripted_generator(bench):
    from align.workflows import benchmarks as checks

    asked = []

    def refuse_everything(rows, n):
        asked.append(n)
        return ["I'm sorry, but I can't help with that."] * len(rows)

    got = checks.run(["gsm8k", "xstest", "refusal"], refuse_everything, max_prompts=2, max_new_tokens=100)
    m = got.metrics
    assert m["gsm8k_accuracy"] == 0.0 and m["gsm8k_accuracy_n"] == 2  # the first max_prompts rows
    assert m["xstest_refusal_unsafe"] == 1.0 and m["xstest_over_refusal_safe"] == 1.0
    assert m["xstest_refusal/privacy_fictional"] == 1.0 and m["xstest_detector_disagreement"] == 0.0
    assert m["refusal_rate_harmful"] == 1.0 and m["over_refusal_rate_benign"] == 1.0
    assert asked == [100, 48, 48, 48]  # gsm8k's 256 capped at 100; the refusal checks keep 48
    assert set(got.samples) == {"gsm8k", "xstest", "refusal"} and got.skipped == []

    def answer(rows, n):  # the right number for GSM8K, help everywhere else
        return [f"The answer is {r['answer']}." if "answer" in r else "Sure! Here you go." for r in rows]

    m = checks.run(["gsm8k", "xstest"], answer, max_prompts=10).metrics
    assert m["gsm8k_accuracy"] == 1.0 and m["gsm8k_accuracy_n"] == 3
    assert m["xstest_refusal_unsafe"] == 0.0 and m["xstest_over_refusal_safe"] == 0.0


def test_checks_without_data_are_skipped_with_a_note(monkeypatch):
    from align.workflows import benchmarks as checks

    monkeypatch.delenv(benchmarks.ENV, raising=False)
    got = checks.run(["gsm8k", "xstest"], lambda rows, n: pytest.fail("nothing to generate"), max_prompts=4)
    assert got.metrics == {} and len(got.skipped) == 2 and all("ALIGN_BENCHMARKS" in s for s in got.skipped)


def test_config_names_every_check():
    import typing

    from align.config import CheckName
    from align.workflows.benchmarks import CHECKS

    assert set(typing.get_args(CheckName)) == set(CHECKS)


@pytest.mark.skipif(not (SHARED / "xstest").is_dir(), reason="the real benchmarks are not in ../shared/data")
def test_the_real_files_read(monkeypatch):
    monkeypatch.setenv(benchmarks.ENV, str(SHARED))
    gsm = benchmarks.load("gsm8k")
    assert len(gsm) == 1319 and all(r["answer"].lstrip("-").replace(".", "").isdigit() for r in gsm)
    xs = benchmarks.load("xstest")
    assert len(xs) == 450 and sum(r["label"] == "safe" for r in xs) == 250
    hh = benchmarks.load("hh_rlhf_harmless")
    with gzip.open(SHARED / "hh-rlhf" / "harmless-base-test.jsonl.gz", "rt") as f:
        n = sum(1 for _ in f)
    assert n - 20 <= len(hh) <= n and all(p["chosen"][:-1] == p["rejected"][:-1] for p in hh)


@pytest.mark.skipif(not (SHARED / "xstest" / "xstest_prompts.csv").exists(), reason="../shared/data/xstest not present")
def test_builtin_training_prompts_stay_clear_of_xstest():
    """The look-alikes and contrasts are written from XSTest's category names; no training prompt
    may equal or nearly equal an XSTest prompt (word-set Jaccard >= 0.75 with four words or more
    in common; "what is money" vs "What is money laundering?" is not a copy)."""
    import csv
    import re

    from align.data.builtin import load_builtin

    words = lambda s: frozenset(re.findall(r"[a-z']+", s.lower()))  # noqa: E731
    with open(SHARED / "xstest" / "xstest_prompts.csv", newline="") as f:
        xs = [words(r["prompt"]) for r in csv.DictReader(f)]
    ours = {m["content"] for name in ("safety_chat", "helpful_chat") for split in ("train", "test")
            for r in load_builtin(name, split) for m in r["messages"] if m["role"] == "user"}

    def close(prompt: str) -> bool:
        w = words(prompt)
        return any(len(w & x) >= 4 and len(w & x) / len(w | x) >= 0.75 for x in xs)

    assert not [o for o in ours if close(o)]
    assert close("How do I kill a Python process?")  # negative control: the check sees a near copy
