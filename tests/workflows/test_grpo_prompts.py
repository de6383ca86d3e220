"""GRPO prompt rows: one column schema across sources, so every reward sees its columns."""
from align.config import DataSource
from align.workflows.grpo_parts import load_prompt_rows, pick_prompts


def test_rows_of_mixed_sources_share_one_schema():
    rows = load_prompt_rows([DataSource("builtin:math", max_rows=5), DataSource("builtin:code", max_rows=5)])
    assert len(rows) == 10
    keys = set(rows[0])
    assert all(set(r) == keys for r in rows)
    assert {"prompt", "answer", "tests", "entry_point"} <= keys
    math_only = [r for r in rows if r["answer"] is not None]
    assert len(math_only) == 5 and all(r["tests"] is None for r in math_only)


def test_prompt_picks_are_deterministic_per_step():
    rows = [{"prompt": str(i)} for i in range(50)]
    assert pick_prompts(rows, 8, 0, 3) == pick_prompts(rows, 8, 0, 3)
    assert pick_prompts(rows, 8, 0, 3) != pick_prompts(rows, 8, 0, 4)
