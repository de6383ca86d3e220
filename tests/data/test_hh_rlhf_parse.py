"""scripts/rm_hh_rlhf.py: HH-RLHF transcripts -> conversations with an implicit prompt."""
import gzip
import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HH = REPO.parent / "shared" / "data" / "hh-rlhf" / "harmless-base-test.jsonl.gz"


@pytest.fixture(scope="module")
def hh():
    spec = importlib.util.spec_from_file_location("rm_hh_rlhf", REPO / "scripts" / "rm_hh_rlhf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_transcript_hand_worked(hh):
    text = "\n\nHuman: how do I pick a lock?\n\nAssistant: Why?\n\nHuman: locked out\n\nHuman: of my house\n\nAssistant: Call a locksmith."
    assert hh.parse_transcript(text) == [
        {"role": "user", "content": "how do I pick a lock?"},
        {"role": "assistant", "content": "Why?"},
        {"role": "user", "content": "locked out\n\nof my house"},  # one speaker's consecutive turns joined
        {"role": "assistant", "content": "Call a locksmith."},
    ]
    assert hh.parse_transcript("preamble\n\nHuman: hi\n\nAssistant: yo") is None
    assert hh.parse_transcript("\n\nHuman: hi") is None  # must end with the assistant
    assert hh.parse_transcript("\n\nAssistant: hi\n\nHuman: yo\n\nAssistant: ok") is None  # must start with the user


def test_parsed_pairs_have_an_implicit_prompt(hh):
    from align.data.prefs import split_pair

    text_c = "\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: good"
    text_r = "\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: bad"
    prompt, chosen, rejected = split_pair({"chosen": hh.parse_transcript(text_c), "rejected": hh.parse_transcript(text_r)}, "row 0")
    assert [m["content"] for m in prompt] == ["a", "b", "c"]
    assert chosen == [{"role": "assistant", "content": "good"}] and rejected == [{"role": "assistant", "content": "bad"}]


@pytest.mark.skipif(not HH.exists(), reason="HH-RLHF data not in ../shared/data")
def test_real_file_parses_and_splits_deterministically(hh, tmp_path):
    train, test, bad = hh.split_pairs(HH, seed=0, test_frac=0.2)
    with gzip.open(HH, "rt") as fh:
        n = sum(1 for _ in fh)
    assert bad == 0 and len(train) + len(test) == n and len(test) == round(n * 0.2)
    again, _, _ = hh.split_pairs(HH, seed=0, test_frac=0.2)
    assert again == train
    seen = {json.dumps(p, sort_keys=True) for p in train}
    assert not any(json.dumps(p, sort_keys=True) in seen for p in test)
    assert all(p["chosen"][:-1] == p["rejected"][:-1] for p in train + test)  # they differ in the last answer only
