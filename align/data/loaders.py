"""Rows from anywhere: built-in suites, local JSONL/JSON/parquet files, hub datasets.

Everything goes through `datasets` except the built-in suites (plain Python) and the
evaluation benchmarks (`bench:<name>`, align.data.benchmarks). Rows
are normalised to TRL's formats: `messages` conversations, `prompt`/`completion`
(strings or conversations) or `text`. A broken row raises DataError naming the
source, the row and the field.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from align.data.chat import DataError, check_messages

LOCAL_FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet"}


def _read_jsonl(path: Path) -> list[dict]:
    """JSONL read line by line, so rows keep exactly their own fields and a bad line is named."""
    rows = []
    for i, line in enumerate(path.read_text().splitlines()):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} row {len(rows)} (line {i + 1}): not valid JSON ({exc.msg}).") from None
    return rows


def _load_local(path: Path, split: str) -> list[dict]:
    import datasets

    if path.suffix == ".jsonl":
        return _read_jsonl(path)
    fmt = LOCAL_FORMATS.get(path.suffix)
    if fmt is None:
        raise DataError(f"{path}: unsupported file type `{path.suffix}`; use .jsonl, .json or .parquet.")
    try:
        ds = datasets.load_dataset(fmt, data_files=str(path), split="train")
    except Exception as exc:  # datasets raises many types for malformed files
        raise DataError(f"{path}: could not be read as {fmt}: {exc}") from None
    return list(ds)


def _load_hub(name: str, split: str) -> list[dict]:
    import datasets

    try:
        return list(datasets.load_dataset(name, split=split))
    except Exception as exc:
        raise DataError(f"dataset `{name}` (split {split}) could not be loaded through `datasets`: {exc}. "
                        "Use builtin:<name>, a local .jsonl/.parquet file, or a hub name available offline.") from None


def load_rows(source: str, split: str = "train", max_rows: int | None = None) -> list[dict]:
    """Raw rows of `source`: `builtin:<name>`, `bench:<name>`, a local file, or a hub dataset name."""
    if source.startswith("bench:"):  # evaluation only (align.data.benchmarks); the split is the benchmark's own
        from align.data import benchmarks

        rows = benchmarks.load(source.split(":", 1)[1])
    elif source.startswith("builtin:"):
        from align.data.builtin import load_builtin

        try:
            rows = load_builtin(source.split(":", 1)[1], split)
        except ValueError as exc:
            raise DataError(f"`{source}`: {exc}") from None
    elif Path(source).expanduser().exists():
        rows = _load_local(Path(source).expanduser(), split)
    elif source.endswith(tuple(LOCAL_FORMATS)):
        raise DataError(f"data file `{source}` does not exist.")
    else:
        rows = _load_hub(source, split)
    return rows[:max_rows] if max_rows else rows


def to_example(row: Any, where: str) -> dict:
    """Normalise a row to {"messages": [...]} or {"text": str}, or raise DataError."""
    if not isinstance(row, dict):
        raise DataError(f"{where}: a row must be a mapping, got {type(row).__name__}.")
    row = {k: v for k, v in row.items() if v is not None}  # `datasets` fills absent columns with None
    if "messages" in row:
        check_messages(row["messages"], where)
        return {"messages": row["messages"]}
    if "prompt" in row or "completion" in row:
        return {"messages": _prompt_completion(row, where)}
    if "text" in row:
        if not isinstance(row["text"], str) or not row["text"]:
            raise DataError(f"{where}: field `text` must be a non-empty string.")
        return {"text": row["text"]}
    raise DataError(f"{where}: no `messages`, `prompt`/`completion` or `text` field (fields: {sorted(row)}).")


def _prompt_completion(row: dict, where: str) -> list[dict]:
    for name in ("prompt", "completion"):
        if name not in row or row[name] in (None, "", []):
            raise DataError(f"{where}: field `{name}` is missing or empty.")
    prompt, completion = row["prompt"], row["completion"]
    if isinstance(prompt, str) and isinstance(completion, str):
        messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]
    elif isinstance(prompt, list) and isinstance(completion, list):
        messages = list(prompt) + list(completion)
    else:
        raise DataError(f"{where}: fields `prompt` and `completion` must both be strings or both be conversations.")
    check_messages(messages, where)
    return messages


def load_examples(source: str, split: str = "train", max_rows: int | None = None) -> list[dict]:
    """Validated, normalised examples of a source."""
    rows = load_rows(source, split, max_rows)
    if not rows:
        raise DataError(f"`{source}` (split {split}) has no rows.")
    return [to_example(r, f"{source} row {i}") for i, r in enumerate(rows)]
