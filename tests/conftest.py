"""Shared fixtures: a small tokenizer trained in seconds, CPU-only environment."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def small_tokenizer(tmp_path_factory):
    from align.models.tokenizer import train_tokenizer

    texts = ["How do I kill a Python process? Use kill with the PID.", "The cat sat on the mat.",
             "What is 12 + 7? 12 + 7 = 19.\n#### 19", "def add(a, b):\n    return a + b"] * 50
    return train_tokenizer(texts, tmp_path_factory.mktemp("tok"), vocab_size=400)
