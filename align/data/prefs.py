"""Reward-model data: preference pairs and scored points -> token ids, with row-level checks.

Formats (TRL's):
- pairwise: `prompt` (a string or a conversation) + `chosen` + `rejected` (strings or
  assistant turns / conversations); or `chosen`/`rejected` full conversations with an
  implicit prompt (the shared leading turns). Optional margin column.
- pointwise: `prompt` + `completion` + `score` (a number) or `label` (0/1).
A sequence is the chat template applied to the prompt turns plus the answer turn, so the
same tokenizer that the policy uses renders it. Over-long sequences keep the end of the
answer (where the reward head reads) and drop the start of the prompt. Pairs whose chosen
and rejected texts are identical carry no preference: they are skipped and counted.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from align.data.chat import DataError
from align.data.loaders import load_rows


@dataclass(frozen=True)
class Pair:
    chosen: tuple[int, ...]
    rejected: tuple[int, ...]
    margin: float = 0.0
    source: str = ""


@dataclass(frozen=True)
class Point:
    ids: tuple[int, ...]
    target: float
    source: str = ""


def _as_turns(value, role: str, where: str, field: str) -> list[dict]:
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    if isinstance(value, list) and value and all(isinstance(m, dict) and {"role", "content"} <= set(m) for m in value):
        return value
    raise DataError(f"{where}: field `{field}` must be a string or a list of {{role, content}} messages, "
                    f"got {type(value).__name__}.")


def split_pair(row: dict, where: str) -> tuple[list[dict], list[dict], list[dict]]:
    """(prompt turns, chosen turns, rejected turns) of a preference row."""
    for f in ("chosen", "rejected"):
        if f not in row:
            raise DataError(f"{where}: missing field `{f}`; a preference row needs `chosen` and `rejected` "
                            "(and `prompt` unless they are whole conversations).")
    chosen = _as_turns(row["chosen"], "assistant", where, "chosen")
    rejected = _as_turns(row["rejected"], "assistant", where, "rejected")
    if "prompt" in row and row["prompt"] is not None:
        return _as_turns(row["prompt"], "user", where, "prompt"), chosen, rejected
    n = 0  # implicit prompt: the turns both conversations share
    while n < min(len(chosen), len(rejected)) - 1 and chosen[n] == rejected[n]:
        n += 1
    if n == 0:
        raise DataError(f"{where}: no `prompt` field and `chosen`/`rejected` share no leading turns; "
                        "give a `prompt` column or whole conversations that start with the same user turn.")
    return chosen[:n], chosen[n:], rejected[n:]


def encode(tok, prompt: list[dict], answer: list[dict], max_length: int) -> tuple[int, ...]:
    """Chat-template ids of prompt + answer, cut from the left to `max_length`."""
    ids = tok.apply_chat_template(prompt + answer, tokenize=True)
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    return tuple(ids[-max_length:])


def _number(row: dict, field: str, where: str) -> float:
    value = row[field]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise DataError(f"{where}: field `{field}` must be a finite number, got {value!r}.")
    return float(value)


def load_pairs(tok, source, max_length: int, margin_column: str | None = None) -> tuple[list[Pair], int]:
    """Encoded pairs of one DataSource and the number of skipped identical pairs."""
    pairs, skipped = [], 0
    for i, row in enumerate(load_rows(source.source, source.split, source.max_rows)):
        where = f"{source.source} ({source.split}) row {i}"
        prompt, chosen, rejected = split_pair(row, where)
        if chosen == rejected:
            skipped += 1
            continue
        margin = _number(row, margin_column, where) if margin_column and margin_column in row else 0.0
        if margin_column and margin_column not in row:
            raise DataError(f"{where}: missing margin field `{margin_column}` (rm.margin_column).")
        pairs.append(Pair(encode(tok, prompt, chosen, max_length), encode(tok, prompt, rejected, max_length), margin,
                          str(row.get("source", ""))))
    return pairs, skipped


def load_points(tok, source, max_length: int, column: str) -> list[Point]:
    """Encoded (prompt, completion, target) points; `column` is `score` or `label`."""
    out = []
    for i, row in enumerate(load_rows(source.source, source.split, source.max_rows)):
        where = f"{source.source} ({source.split}) row {i}"
        for f in ("prompt", "completion", column):
            if f not in row:
                raise DataError(f"{where}: missing field `{f}`; a pointwise row needs `prompt`, `completion` and `{column}`.")
        target = _number(row, column, where)
        if column == "label" and target not in (0.0, 1.0):
            raise DataError(f"{where}: field `label` must be 0 or 1 for the bce loss, got {row[column]!r}.")
        prompt = _as_turns(row["prompt"], "user", where, "prompt")
        answer = _as_turns(row["completion"], "assistant", where, "completion")
        out.append(Point(encode(tok, prompt, answer, max_length), target, str(row.get("source", ""))))
    return out
