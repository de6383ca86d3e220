"""Chat encoding with the model's own chat template and assistant-only loss masks.

Prompts and conversations are rendered by `tokenizer.apply_chat_template` (so SmolLM2's
ChatML, the built-in `<|user|>...<|end|>` template or any HF chat model's), and the loss
mask is found by prefix differences: 1 exactly on each assistant turn's tokens (its content
and the template's end-of-turn marker). For the built-in template this is the content and
`<|end|>`, the same positions as its `{% generation %}` mask (a test holds both).
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


def render_ids(tokenizer, messages: list[dict], add_generation_prompt: bool = False) -> list[int]:
    """The model's own chat template, rendered to text and tokenized without extra special tokens."""
    if not getattr(tokenizer, "chat_template", None):
        raise DataError(f"the tokenizer of `{getattr(tokenizer, 'name_or_path', '?')}` has no chat template, so "
                        "conversations cannot be encoded; use a chat model, set `tokenizer.chat_template` in its "
                        "tokenizer_config.json, or train on `text` rows.")
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
    return tokenizer.encode(text, add_special_tokens=False)


def encode_messages(tokenizer, messages: list[dict], max_length: int, loss_on: str = "assistant") -> Encoded:
    """Token ids and loss mask of a conversation, truncated to `max_length`.

    The mask is found by prefix differences, so templates without `{% generation %}` markers
    (ChatML, Llama's) work: assistant turn k's tokens are those `messages[:k + 1]` adds to
    `messages[:k]` rendered with the generation prompt (content, end-of-turn marker and
    whatever the template puts after it). A template that does not render prefixes as
    prefixes (one that rewrites earlier turns) is refused rather than masked wrongly.
    """
    ids = render_ids(tokenizer, messages)
    if loss_on == "all":
        mask = [0] + [1] * (len(ids) - 1)
    else:
        mask = [0] * len(ids)
        for k, m in enumerate(messages):
            if m["role"] != "assistant":
                continue
            start = _prefix_len(tokenizer, ids, messages[:k], True)
            end = _prefix_len(tokenizer, ids, messages[: k + 1], False)
            mask[start:end] = [1] * (end - start)
    return Encoded(tuple(ids[:max_length]), tuple(mask[:max_length]))


def _prefix_len(tokenizer, ids: list[int], head: list[dict], generation_prompt: bool) -> int:
    part = render_ids(tokenizer, head, add_generation_prompt=generation_prompt) if head else []
    if ids[: len(part)] != part:
        raise DataError(f"the chat template of `{getattr(tokenizer, 'name_or_path', '?')}` does not render the first "
                        f"{len(head)} message(s) as a prefix of the whole conversation, so the assistant-only loss mask "
                        "cannot be derived; use `data.loss_on: all` or a template that keeps earlier turns verbatim.")
    return len(part)


def encode_prompt(tokenizer, messages: list[dict]) -> list[int]:
    """Token ids of a prompt (conversation so far) followed by the model's generation prompt."""
    return render_ids(tokenizer, messages, add_generation_prompt=True)


def encode_text(tokenizer, text: str) -> list[int]:
    """A plain document for pretraining: `<|bos|> text <|end|>`."""
    return [tokenizer.bos_token_id] + tokenizer.encode(text, add_special_tokens=False) + [tokenizer.eos_token_id]


def pack(docs: list[list[int]], block: int) -> list[Encoded]:
    """Concatenate documents and cut them into blocks of `block` tokens (loss on all)."""
    flat = [t for d in docs for t in d]
    blocks = [flat[i : i + block] for i in range(0, len(flat) - 1, block)]
    return [Encoded(tuple(b), (0,) + (1,) * (len(b) - 1)) for b in blocks if len(b) > 1]
