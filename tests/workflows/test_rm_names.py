"""Reward-model metric names stay short whatever the data source."""
import pytest

from align.workflows.rm import source_name


@pytest.mark.parametrize("source, name", [
    ("builtin:safety_pairs", "safety_pairs"), ("/data/x/prefs.jsonl", "prefs"), ("runs/p.parquet", "p"),
    ("Anthropic/hh-rlhf", "hh-rlhf"), ("trl-lib/ultrafeedback_binarized", "ultrafeedback_binarized"),
])
def test_source_name(source, name):
    assert source_name(source) == name
