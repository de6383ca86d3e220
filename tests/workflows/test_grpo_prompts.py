"""GRPO prompt rows: one column schema across sources, so every reward sees its columns."""
from align.config import DataSource
from align.data.prompts import load_prompt_rows, pick_prompts


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
    assert pick_prompts(rows, n=8, seed=0, step=3) == pick_prompts(rows, n=8, seed=0, step=3)
    assert pick_prompts(rows, n=8, seed=0, step=3) != pick_prompts(rows, n=8, seed=0, step=4)
    got = pick_prompts(rows, n=50, seed=0, step=3)
    assert sorted(r["prompt"] for r in got) == sorted(r["prompt"] for r in rows)  # without replacement


def test_sources_are_drawn_at_the_ratios_of_their_weights():
    from align.data.prompts import load_prompt_pool

    rows, weights = load_prompt_pool([DataSource("builtin:math", max_rows=300, weight=1.0),
                                      DataSource("builtin:code", max_rows=30, weight=3.0)])
    assert weights[0] == 1.0 / 300 and weights[-1] == 3.0 / 30
    picks = [r for step in range(200) for r in pick_prompts(rows, weights, n=8, seed=0, step=step)]
    code_share = sum(r["tests"] is not None for r in picks) / len(picks)
    # 3:1 by weight, though code has 10x fewer rows; without replacement inside a step of 8
    # (30 code rows) the share is a little under 0.75
    assert 0.68 < code_share < 0.78
