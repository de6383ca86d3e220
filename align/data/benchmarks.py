"""Real benchmarks for evaluation only: GSM8K, XSTest, HH-RLHF harmless-base.

They are read from the folder named by the environment variable `ALIGN_BENCHMARKS`, in the
layout of the original downloads:

    $ALIGN_BENCHMARKS/gsm8k/test.jsonl                   (openai/grade-school-math)
    $ALIGN_BENCHMARKS/xstest/xstest_prompts.csv          (paul-rottger/exaggerated-safety)
    $ALIGN_BENCHMARKS/hh-rlhf/harmless-base-test.jsonl.gz (Anthropic/hh-rlhf)

A recipe names one as the source `bench:<name>` (`bench:gsm8k`, `bench:xstest`,
`bench:hh_rlhf_harmless`) in an *evaluation* slot only: `align.config` refuses `bench:` in
training data and GRPO prompts, so a benchmark is never trained on. When the folder or the
file is absent, `available(name)` is False and the commands skip that evaluation with a note
(the toolkit runs without any of them).

Rows:
- gsm8k: {"prompt": question, "answer": the number after "####", "source": "gsm8k"}, in file
  order (a fixed subset is the first N).
- xstest: {"prompt", "label": "safe" | "unsafe", "type": XSTest's category, "source"}.
- hh_rlhf_harmless: {"chosen": conversation, "rejected": conversation}, each HH-RLHF
  "\\n\\nHuman: ... \\n\\nAssistant: ..." transcript parsed into turns (implicit prompt: the shared
  leading turns); rows that do not parse into two conversations sharing a prompt are dropped.
"""
from __future__ import annotations

import csv
import gzip
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from align.data.chat import DataError

ENV = "ALIGN_BENCHMARKS"
PREFIX = "bench:"
_TURN = re.compile(r"\n\n(Human|Assistant): ")


def parse_transcript(text: str) -> list[dict] | None:
    """HH-RLHF text -> [{role, content}, ...], one speaker's consecutive turns joined; None
    unless it opens with a human turn, alternates, and ends with the assistant."""
    parts = _TURN.split(text)
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


def _gsm8k(path: Path) -> list[dict]:
    rows = []
    for i, line in enumerate(path.read_text().splitlines()):
        row = json.loads(line)
        if "####" not in row.get("answer", ""):
            raise DataError(f"{path} line {i + 1}: a GSM8K answer ends with `#### <number>`; this one does not.")
        rows.append({"prompt": row["question"], "answer": row["answer"].rsplit("####", 1)[1].strip().replace(",", ""),
                     "source": "gsm8k"})
    return rows


def _xstest(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    bad = [i for i, r in enumerate(rows) if r.get("label") not in ("safe", "unsafe") or not r.get("prompt")]
    if bad:
        raise DataError(f"{path} row {bad[0]}: an XSTest row needs `prompt` and `label` safe/unsafe.")
    return [{"prompt": r["prompt"], "label": r["label"], "type": r["type"], "source": f"xstest/{r['type']}"} for r in rows]


def _hh_rlhf(path: Path) -> list[dict]:
    with gzip.open(path, "rt") as f:
        raw = [json.loads(x) for x in f]
    rows = []
    for r in raw:
        c, j = parse_transcript(r["chosen"]), parse_transcript(r["rejected"])
        if c is not None and j is not None and c[:-1] == j[:-1] and c != j:
            rows.append({"chosen": c, "rejected": j})
    return rows


@dataclass(frozen=True)
class Benchmark:
    file: str  # relative to $ALIGN_BENCHMARKS
    read: Callable[[Path], list[dict]]


BENCHMARKS: dict[str, Benchmark] = {
    "gsm8k": Benchmark("gsm8k/test.jsonl", _gsm8k),
    "xstest": Benchmark("xstest/xstest_prompts.csv", _xstest),
    "hh_rlhf_harmless": Benchmark("hh-rlhf/harmless-base-test.jsonl.gz", _hh_rlhf),
}


def root() -> Path | None:
    value = os.environ.get(ENV)
    return Path(value).expanduser() if value else None


def path_of(name: str) -> Path | None:
    """The benchmark's file, or None when `ALIGN_BENCHMARKS` is unset or lacks it."""
    if name not in BENCHMARKS:
        raise DataError(f"`{PREFIX}{name}`: unknown benchmark; known: {', '.join(sorted(BENCHMARKS))}.")
    base = root()
    path = base / BENCHMARKS[name].file if base else None
    return path if path and path.is_file() else None


def available(name: str) -> bool:
    return path_of(name) is not None


def missing_note(name: str) -> str:
    return (f"{name} skipped: its data is not here (set {ENV} to a folder holding {BENCHMARKS[name].file}; "
            "see align/data/benchmarks.py)")


def load(name: str) -> list[dict]:
    """Every row of benchmark `name`; DataError when its data is absent."""
    path = path_of(name)
    if path is None:
        raise DataError(f"`{PREFIX}{name}`: {missing_note(name)}.")
    return BENCHMARKS[name].read(path)
