"""Built-in datasets: schemas, sizes, split hygiene, determinism."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from align.data.builtin import BUILTIN_DATASETS, load_builtin

SPLITS = ("train", "test")
SCHEMAS = {
    "helpful_chat": {"messages": list, "source": str},
    "safety_chat": {"messages": list, "kind": str, "source": str},
    "harmful_prompts": {"prompt": str, "kind": str, "source": str},
    "benign_prompts": {"prompt": str, "kind": str, "source": str},
    "pretrain_corpus": {"text": str},
    "math": {"prompt": str, "answer": str},
    "code": {"prompt": str, "tests": str, "entry_point": str},
    "helpful_pairs": {"prompt": str, "chosen": str, "rejected": str, "source": str},
    "safety_pairs": {"prompt": str, "chosen": str, "rejected": str, "source": str},
    "helpful_points": {"prompt": str, "completion": str, "score": float, "label": int},
    "safety_points": {"prompt": str, "completion": str, "score": float, "label": int},
}
SIZES = {  # (train range, test range)
    "helpful_chat": ((2300, 2900), (220, 300)),
    "safety_chat": ((1350, 1650), (200, 260)),
    "harmful_prompts": ((680, 820), (100, 130)),
    "benign_prompts": ((680, 820), (100, 130)),
    "pretrain_corpus": ((3000, 20000), (20, 500)),
    "math": ((2000, 2000), (200, 200)),
    "code": ((200, 400), (40, 100)),
    "helpful_pairs": ((1000, 3000), (200, 800)),
    "safety_pairs": ((1350, 1650), (200, 260)),
    "helpful_points": ((2000, 6000), (400, 1600)),
    "safety_points": ((2700, 3300), (400, 520)),
}


def key(name: str, row: dict) -> str:
    """What must not be shared between train and test: the (first) prompt, or the text."""
    if "messages" in row:
        return row["messages"][0]["content"]
    return row.get("prompt", row.get("text"))


def test_registry_names():
    assert set(BUILTIN_DATASETS) == set(SCHEMAS)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema_both_splits(name):
    for split in SPLITS:
        rows = load_builtin(name, split)
        assert rows and isinstance(rows, list)
        for row in rows:
            assert set(row) == set(SCHEMAS[name]), (name, split, row)
            for field, typ in SCHEMAS[name].items():
                assert isinstance(row[field], typ), (name, field, row)
                if typ is str:
                    assert row[field].strip(), (name, field, row)
        json.dumps(rows)  # plain JSON-serialisable


@pytest.mark.parametrize("name", sorted(SIZES))
def test_sizes(name):
    for split, (lo, hi) in zip(SPLITS, SIZES[name]):
        n = len(load_builtin(name, split))
        assert lo <= n <= hi, (name, split, n)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_splits_disjoint(name):
    train = {key(name, r) for r in load_builtin(name, "train")}
    test = {key(name, r) for r in load_builtin(name, "test")}
    assert not train & test, sorted(train & test)[:5]


def test_unknown_name_or_split():
    with pytest.raises(ValueError, match="helpful_chat"):
        load_builtin("nope", "train")
    with pytest.raises(ValueError, match="train"):
        load_builtin("math", "validation")


def test_returns_fresh_copies():
    rows = load_builtin("helpful_chat", "train")
    rows[0]["messages"][0]["content"] = "changed"
    rows.clear()
    assert load_builtin("helpful_chat", "train")[0]["messages"][0]["content"] != "changed"


def _digest() -> str:
    h = hashlib.sha256()
    for name in sorted(BUILTIN_DATASETS):
        for split in SPLITS:
            h.update(json.dumps(load_builtin(name, split), sort_keys=True).encode())
    return h.hexdigest()


def test_deterministic_across_calls_and_processes():
    assert load_builtin("safety_chat", "train") == load_builtin("safety_chat", "train")
    here = _digest()
    code = ("import sys; sys.path.insert(0, %r); import test_builtin as t; print(t._digest())"
            % os.path.dirname(__file__))
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == here


@pytest.mark.parametrize("name", ["helpful_chat", "safety_chat"])
def test_messages_alternate(name):
    for split in SPLITS:
        for row in load_builtin(name, split):
            msgs = row["messages"]
            assert len(msgs) >= 2 and len(msgs) % 2 == 0, row
            for i, m in enumerate(msgs):
                assert set(m) == {"role", "content"}
                assert m["role"] == ("user" if i % 2 == 0 else "assistant"), row
                assert isinstance(m["content"], str) and m["content"].strip(), row


def test_replies_are_short():
    replies = [m["content"] for name in ("helpful_chat", "safety_chat") for r in load_builtin(name, "train")
               for m in r["messages"] if m["role"] == "assistant"]
    short = sum(len(t.split()) < 60 for t in replies)
    assert short / len(replies) > 0.97


def test_helpful_chat_mixture():
    for split in SPLITS:
        sources = [r["source"].split("/")[0] for r in load_builtin("helpful_chat", split)]
        for part in ("chatterbot", "procedural", "math", "code"):
            assert sources.count(part) >= 0.1 * len(sources), (split, part)
    multi = [r for r in load_builtin("helpful_chat", "train") if len(r["messages"]) > 2]
    assert any(r["source"].startswith("chatterbot") for r in multi)


def test_safety_chat_balance_and_prompt_views():
    for split in SPLITS:
        rows = load_builtin("safety_chat", split)
        kinds = [r["kind"] for r in rows]
        assert set(kinds) == {"harmful", "benign"}
        assert 0.45 <= kinds.count("harmful") / len(kinds) <= 0.55
        for kind in ("harmful", "benign"):
            expect = [(r["messages"][0]["content"], r["source"]) for r in rows if r["kind"] == kind]
            got = [(r["prompt"], r["source"]) for r in load_builtin(f"{kind}_prompts", split)]
            assert got == expect
    test = load_builtin("safety_chat", "test")
    assert sum(r["kind"] == "harmful" for r in test) >= 100 and sum(r["kind"] == "benign" for r in test) >= 100
    assert any(r["source"] == "harmbench" for r in test) and any(r["source"].startswith("donotanswer") for r in test)


def test_benign_lookalikes_split_by_subject():
    from align.data.builtin.lookalikes import lookalike_items

    group = {x["prompt"]: (x["topic"], x["slot"]) for x in lookalike_items()}
    groups = {s: {group[r["prompt"]] for r in load_builtin("benign_prompts", s)} for s in SPLITS}
    assert not groups["train"] & groups["test"]  # no held-out subject is seen in training
    assert not {g[1] for g in groups["train"]} & {g[1] for g in groups["test"]}  # subjects differ too
    assert len(groups["train"]) >= 100 and len(groups["test"]) >= 30
    prompts = [r["prompt"] for s in SPLITS for r in load_builtin("benign_prompts", s)]
    assert len(set(prompts)) == len(prompts) >= 300


def _test_prompts() -> list[str]:
    prompts = [m["content"] for name in ("helpful_chat", "safety_chat") for r in load_builtin(name, "test")
               for m in r["messages"] if m["role"] == "user"]
    prompts += [r["prompt"] for name in ("math", "code") for r in load_builtin(name, "test")]
    return prompts


def test_pretrain_corpus_has_no_test_data():
    corpus = load_builtin("pretrain_corpus", "train")
    text = "\n\n".join(r["text"] for r in corpus)
    assert 300_000 < len(text) < 3_000_000
    leaked = [p for p in _test_prompts() if f"User: {p}\n" in text or f"Q: {p}\n" in text
              or (len(p) >= 30 and p in text)]
    assert not leaked, leaked[:5]
    held_out = {r["text"] for r in load_builtin("pretrain_corpus", "test")}
    assert not held_out & {r["text"] for r in corpus}


def test_pretrain_corpus_covers_the_domain():
    text = "\n".join(r["text"] for r in load_builtin("pretrain_corpus", "train"))
    for marker in ("User: ", "Assistant: ", "#### ", "def ", "assert ", "Q: ", "I'm sorry"):
        assert marker in text, marker
