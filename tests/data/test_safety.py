"""Refusal phrasings and the refusal detector, checked against all built-in data."""
from __future__ import annotations

import pytest

from align.data.builtin import load_builtin
from align.data.builtin.prefs import COMPLIANCE
from align.data.safety import REFUSALS, is_refusal

OTHER_REFUSALS = (
    "I'm sorry, but I cannot assist with that request.",
    "I cannot provide instructions for making weapons.",
    "I can't and won't help with that.",
    "I must respectfully decline.",
    "As an AI language model, I cannot help with illegal activities.",
    "I apologize, but I can't fulfill this request.",
    "Sorry, I can't do that.",
    "I'm not able to share personal information about people.",
    "I won't write that, because it could hurt someone.",
    "That's not something I can help with.",
    "I'm unable to help with this request.",
    "I'd rather not answer that.",
    "I will not provide that information.",
    "This request goes against my guidelines.",
    "Sorry, can't help with that.",
    "Can't assist with this request, sorry.",
)
NOT_REFUSALS = (
    "Sure! Run `kill PID` to stop the process.",
    "I'm sorry to hear that. Try restarting your computer first.",
    "I can't read, but I like stories.",
    "You can't help with that by restarting; try unplugging it first.",
    "Restarting won't help with that. Check the cable.",
    # a garbled helpful answer from a small model: its subject-less phrase is about the user
    "Sure! Use `git merge --abort`. You can't help with that.",
    "I'm sorry, I can't hear you over the sound of how awesome I am.",
    "Use a tripod and a long exposure.",
    "If you can't find the file, search for it by name.",
    "The capital of France is Paris.",
    "",
    "   ",
)


@pytest.mark.parametrize("text", REFUSALS)
def test_own_refusals_detected_with_variations(text):
    assert is_refusal(text)
    assert is_refusal("  \n" + text)
    assert is_refusal(text.upper())
    assert is_refusal(text.replace("'", "\u2019"))
    assert is_refusal(text + " Here is some unrelated trailing text that goes on for a while.")
    assert is_refusal(f'"{text}"')


def test_refusals_tuple():
    assert isinstance(REFUSALS, tuple) and len(REFUSALS) >= 5 and all(isinstance(r, str) for r in REFUSALS)
    assert "I'm sorry, but I can't help with that." in REFUSALS


@pytest.mark.parametrize("text", OTHER_REFUSALS)
def test_common_refusal_phrasings(text):
    assert is_refusal(text)


@pytest.mark.parametrize("text", NOT_REFUSALS)
def test_non_refusals(text):
    assert not is_refusal(text)


def test_non_string_is_not_refusal():
    assert not is_refusal(None)  # type: ignore[arg-type]


def test_safety_chat_replies_match_kind():
    for split in ("train", "test"):
        for row in load_builtin("safety_chat", split):
            reply = row["messages"][-1]["content"]
            if row["kind"] == "harmful":
                assert reply in REFUSALS and is_refusal(reply), row
            else:
                assert not is_refusal(reply), row


def test_no_helpful_answer_is_a_refusal():
    replies = [m["content"] for split in ("train", "test") for r in load_builtin("helpful_chat", split)
               for m in r["messages"] if m["role"] == "assistant"]
    flagged = [t for t in replies if is_refusal(t)]
    assert not flagged, flagged[:5]
    for split in ("train", "test"):
        for p in load_builtin("helpful_pairs", split):
            assert not is_refusal(p["chosen"]), p


def test_safety_pairs():
    for split in ("train", "test"):
        kinds = {r["messages"][0]["content"]: r["kind"] for r in load_builtin("safety_chat", split)}
        pairs = load_builtin("safety_pairs", split)
        assert {p["prompt"] for p in pairs} == set(kinds)
        for p in pairs:
            if kinds[p["prompt"]] == "harmful":
                assert is_refusal(p["chosen"]) and not is_refusal(p["rejected"])
                assert p["rejected"] in COMPLIANCE  # generic, with no real harmful content
            else:
                assert not is_refusal(p["chosen"]) and is_refusal(p["rejected"])


def test_points_follow_pairs():
    for name in ("helpful", "safety"):
        for split in ("train", "test"):
            pairs = load_builtin(f"{name}_pairs", split)
            points = {(p["prompt"], p["completion"]): (p["score"], p["label"]) for p in load_builtin(f"{name}_points", split)}
            for p in pairs:
                assert points[(p["prompt"], p["chosen"])] == (1.0, 1)
                assert points[(p["prompt"], p["rejected"])] == (0.0, 0)
