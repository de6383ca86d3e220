"""From recipe data sources to token sequences with loss masks."""
from __future__ import annotations

from align.data.chat import Encoded, encode_messages, encode_text, pack
from align.data.loaders import load_examples


def encode_source(tokenizer, source, max_length: int, loss_on: str) -> list[Encoded]:
    """Encode one DataSource: conversations one per sequence, plain text packed."""
    examples = load_examples(source.source, source.split, source.max_rows)
    chats = [encode_messages(tokenizer, e["messages"], max_length, loss_on) for e in examples if "messages" in e]
    texts = [encode_text(tokenizer, e["text"]) for e in examples if "text" in e]
    return chats + (pack(texts, max_length) if texts else [])


def encode_sources(tokenizer, sources, max_length: int, loss_on: str) -> list[list[Encoded]]:
    pools = [encode_source(tokenizer, s, max_length, loss_on) for s in sources]
    return [[e for e in pool if sum(e.loss_mask) > 0] for pool in pools]
