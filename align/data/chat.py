"""Chat encoding with assistant-only loss masks.

A conversation is encoded segment by segment: `<|bos|>`, then for each message its
role token, its content and `<|end|>`. Because special tokens split the byte-level
BPE, the concatenation equals `tokenizer.apply_chat_template(messages)` (a test
holds this); the loss mask is 1 exactly on assistant content and its `<|end|>`.
"""
from __future__ import annotations

from dataclasses import dataclass

ROLE_ORDER_HELP = "a conversation is a list of {role, content} messages: an optional system message, then user and assistant turns alternating, starting with user and ending with assistant"


class DataError(ValueError):
    """A broken dataset row; the message names the file, the row and the field."""


@dataclass(frozen=True)
class Encoded:
    input_ids: tuple[int, ...]
    loss_mask: tuple[int, ...]


def check_messages(messages, where: str) -> None:
    """Raise DataError unless `messages` is a well-formed training conversation."""
    if not isinstance(messages, list) or not messages:
        raise DataError(f"{where}: field `messages` must be a non-empty list; {ROLE_ORDER_HELP}.")
    roles = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise DataError(f"{where}: field `messages[{i}]` must have `role` and `content`.")
        if not isinstance(m["content"], str):
            raise DataError(f"{where}: field `messages[{i}].content` must be a string, got {type(m['content']).__name__}.")
        roles.append(m["role"])
    body = roles[1:] if roles[0] == "system" else roles
    expected = ["user" if i % 2 == 0 else "assistant" for i in range(len(body))]
    if body != expected or not body or body[-1] != "assistant":
        raise DataError(f"{where}: field `messages` has roles {roles}; {ROLE_ORDER_HELP}.")


def _special(tokenizer, token: str) -> int:
    return tokenizer.convert_tokens_to_ids(token)


def encode_messages(tokenizer, messages: list[dict], max_length: int, loss_on: str = "assistant") -> Encoded:
    """Token ids and loss mask of a conversation, truncated to `max_length`."""
    end = _special(tokenizer, "<|end|>")
    ids, mask = [tokenizer.bos_token_id], [0]
    for m in messages:
        content = tokenizer.encode(m["content"], add_special_tokens=False)
        seg = [_special(tokenizer, f"<|{m['role']}|>")] + content + [end]
        trainable = loss_on == "all" or m["role"] == "assistant"
        ids += seg
        mask += [0] + [int(trainable)] * (len(seg) - 1)
    if loss_on == "all":
        mask = [0] + [1] * (len(ids) - 1)
    return Encoded(tuple(ids[:max_length]), tuple(mask[:max_length]))


def encode_prompt(tokenizer, messages: list[dict]) -> list[int]:
    """Token ids of a prompt (conversation so far) followed by the generation prompt."""
    end = _special(tokenizer, "<|end|>")
    ids = [tokenizer.bos_token_id]
    for m in messages:
        ids += [_special(tokenizer, f"<|{m['role']}|>")] + tokenizer.encode(m["content"], add_special_tokens=False) + [end]
    return ids + [_special(tokenizer, "<|assistant|>")]


def encode_text(tokenizer, text: str) -> list[int]:
    """A plain document for pretraining: `<|bos|> text <|end|>`."""
    return [tokenizer.bos_token_id] + tokenizer.encode(text, add_special_tokens=False) + [tokenizer.eos_token_id]


def pack(docs: list[list[int]], block: int) -> list[Encoded]:
    """Concatenate documents and cut them into blocks of `block` tokens (loss on all)."""
    flat = [t for d in docs for t in d]
    blocks = [flat[i : i + block] for i in range(0, len(flat) - 1, block)]
    return [Encoded(tuple(b), (0,) + (1,) * (len(b) - 1)) for b in blocks if len(b) > 1]
