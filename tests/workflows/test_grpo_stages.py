"""Two-stage GRPO without actors: recipe checks, prompt shapes, reward combination, the reference."""
import math
from types import SimpleNamespace

import pytest
import torch

from align.config import ConfigError, DataSource, load_recipe
from align.workflows import grpo
from align.data.prompts import load_prompt_rows
from align.data.rollouts import Sample
from align.workflows.grpo_rewards import completion_for
from align.workflows.grpo_rewards import check_reward_models, model_name

RECIPE = "recipes/v2_grpo.yaml"


def test_default_recipe_runs_both_stages_with_reward_models():
    cfg = load_recipe(RECIPE)
    assert cfg.stages == (1, 2)
    assert [r.model for r in cfg.stage2.rewards if r.model] == ["runs/v2_rm_pairwise/final", "runs/v2_rm_pointwise/final"]
    assert [r.fn for r in cfg.stage2.rewards if r.fn] == ["refusal"]
    assert cfg.stage2.normalize_rewards and set(cfg.stage2.watch) == {"math", "refusal", "xstest"}


@pytest.mark.parametrize("entry, words", [
    ("{fn: math_answer, model: runs/x/final}", "names both"),
    ("{weight: 2.0}", "names neither"),
    ("{model: runs/x/final, kwargs: {a: 1}}", "only applies to reward functions"),
])
def test_a_reward_names_exactly_one_of_fn_and_model(entry, words):
    with pytest.raises(ConfigError, match=words) as info:
        load_recipe(RECIPE, [f"stage2.rewards=[{entry}]"])
    assert "stage2.rewards[0]" in str(info.value)


def test_stage_numbers_and_empty_stages_are_refused():
    with pytest.raises(ConfigError, match="must be one of"):
        load_recipe(RECIPE, ["stages=[3]"])
    with pytest.raises(ConfigError, match="stage2.rewards` is empty"):
        load_recipe(RECIPE, ["stage2.rewards=[]"])
    load_recipe(RECIPE, ["stages=[1]", "stage2.rewards=[]"])  # a stage that does not run is not checked


def test_missing_reward_model_folder_is_named(tmp_path):
    cfg = load_recipe(RECIPE, [f"stage2.rewards=[{{model: {tmp_path}/nope/final}}]"])
    with pytest.raises(ConfigError, match=r"stage2.rewards\[0\].model.*holds no reward model.*align rm"):
        check_reward_models(cfg)
    assert model_name(cfg.stage2.rewards[0]) == "nope"


def test_conversations_become_prompts_and_plain_prompts_join_their_shape():
    rows = load_prompt_rows([DataSource("builtin:helpful_chat", max_rows=3), DataSource("builtin:harmful_prompts", max_rows=2)])
    assert len(rows) == 5 and all("messages" not in r for r in rows)
    chat, harmful = rows[:3], rows[3:]
    assert all(isinstance(r["prompt"], list) and r["prompt"][-1]["role"] == "user" for r in chat)
    assert harmful[0]["prompt"] == [{"role": "user", "content": load_prompt_rows([DataSource("builtin:harmful_prompts",
                                                                                             max_rows=1)])[0]["prompt"]}]
    s = Sample([1], [2], [0.0], chat[0], "hi")
    assert completion_for(s) == [{"role": "assistant", "content": "hi"}]
    assert completion_for(Sample([1], [2], [0.0], {"prompt": "q"}, "hi")) == "hi"


def test_a_conversation_without_a_user_turn_is_refused(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"messages": [{"role": "assistant", "content": "hello"}]}\n')
    with pytest.raises(ConfigError, match="bad.jsonl row 0.*no turn before"):
        load_prompt_rows([DataSource(str(f))])


def _stage(normalize: bool):
    g = SimpleNamespace(group_size=4, kl_in_reward=False, advantage_scale="none")
    return SimpleNamespace(grpo=g, normalize_rewards=normalize)


def test_combined_rewards_hand_worked():
    # one group of 4; reward A in {0,1}, reward B (an RM) on a scale 10x larger
    values = [[1.0, 0.0, 0.0, 1.0], [10.0, 20.0, 30.0, 40.0]]
    raw, adv, _ = grpo._advantages(_stage(False), [1.0, 0.5], values, [], 4)
    assert raw.tolist() == [6.0, 10.0, 15.0, 21.0]  # 1*A + 0.5*B
    assert adv.tolist() == pytest.approx([-7.0, -3.0, 2.0, 8.0])  # scale "none": r - mean(13)
    # normalised within the group first, (r - mean) / (std + 1e-4): A: mean .5, std .57735 ->
    # +-.5/.57745 = +-0.865876; B: mean 25, std 12.90994 -> [-15, -5, 5, 15] / 12.91004; then 1*A + 0.5*B
    raw_n, adv_n, _ = grpo._advantages(_stage(True), [1.0, 0.5], values, [], 4)
    assert raw_n.tolist() == raw.tolist()  # the logged reward stays the raw weighted sum
    a = [0.865876, -0.865876, -0.865876, 0.865876]
    b = [-1.161886, -0.387295, 0.387295, 1.161886]
    want = [x + 0.5 * y for x, y in zip(a, b)]
    mean = sum(want) / 4
    assert adv_n.tolist() == pytest.approx([w - mean for w in want], abs=1e-4)


def test_unjudged_completions_leave_the_group_statistics():
    values = [[1.0, None, 0.0, 1.0]]
    raw, adv, stats = grpo._advantages(_stage(True), [1.0], values, [], 4)
    assert raw.tolist()[1] == 0.0 and adv.tolist()[1] == 0.0
    assert not any(math.isnan(x) for x in adv.tolist())


def test_reference_defaults_to_the_sft_model():
    cfg = load_recipe(RECIPE, ["model.path=builtin:tiny-v2@init"])
    from align.workflows.models import resolve_model

    sft = resolve_model("builtin:tiny-v2@init")
    assert grpo.reference_path(cfg, cfg.stage2, "runs/x/stage1/final") == sft
    cfg2 = load_recipe(RECIPE, ["model.path=builtin:tiny-v2@init", "stage2.reference=start"])
    assert grpo.reference_path(cfg2, cfg2.stage2, "runs/x/stage1/final") == "runs/x/stage1/final"


def test_combination_matches_torch_reference():
    # cross-check group_normalise against a direct torch computation on random data
    from align.algos.combine import group_normalise

    m = torch.randn(12, 3, dtype=torch.float64)
    got = group_normalise(m, 4, eps=0.0)
    g = m.reshape(3, 4, 3)
    want = ((g - g.mean(1, keepdim=True)) / g.std(1, keepdim=True)).reshape(12, 3)
    assert torch.allclose(got, want)


def test_a_batch_that_does_not_split_evenly_is_refused_with_its_numbers():
    cfg = load_recipe(RECIPE, ["stages=[1]", "stage1.grpo.prompts_per_step=3", "stage1.grpo.group_size=4",
                               "stage1.grpo.micro_batch_size=8"])
    with pytest.raises(ConfigError, match=r"batch size 12 must be a multiple of .* = 8 x 1.*stage1.grpo.prompts_per_step"):
        grpo._check_inputs(cfg)
    cfg = load_recipe(RECIPE, ["stages=[1]", "stage1.grpo.loss_type=ppo"])
    with pytest.raises(ConfigError, match=r"stage1.grpo.loss_type` is `ppo`; known loss types: bnpo, dapo, dr_grpo, grpo, gspo"):
        grpo._check_inputs(cfg)


def test_overlong_masking_takes_truncated_completions_out_of_the_loss():
    from align.data.rollouts import loss_tokens, micro_batches, to_encoded

    done = Sample([1, 2], [3, 4, 5], [0.0] * 3, {"prompt": "q"}, finish_reason="stop")
    cut = Sample([1, 2], [6, 7, 8, 9], [0.0] * 4, {"prompt": "q"}, finish_reason="length")
    assert to_encoded([done, cut])[1].loss_mask == (0, 0, 1, 1, 1, 1)
    assert to_encoded([done, cut], mask_truncated=True)[1].loss_mask == (0, 0, 0, 0, 0, 0)
    assert loss_tokens(micro_batches([done, cut], 1, 2, 0, mask_truncated=True)) == 3
    assert loss_tokens(micro_batches([done, cut], 1, 2, 0)) == 7


def test_dynamic_sampling_keeps_groups_with_a_signal():
    from align.algos.grpo import informative_groups

    r = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.5, 0.5, 0.2, 0.9])  # groups of 2: varied, flat, flat, varied
    assert informative_groups(r, 2).tolist() == [True, False, False, True]
    valid = torch.tensor([True, True, True, True, True, True, True, False])  # one judged sample: no signal
    assert informative_groups(r, 2, valid).tolist() == [True, False, False, False]


def test_every_update_is_logged_and_the_step_shows_their_mean():
    a = {"clip_frac": 0.0, "loss": 1.0, "logprob_mismatch": 1e-7, "is/weight_mean": 1.0}
    b = {"clip_frac": 0.5, "loss": 3.0, "logprob_mismatch": 1e-7, "is/weight_mean": 1.0}
    got = grpo._per_update([a, b])
    assert got["clip_frac"] == 0.25 and got["loss"] == 2.0
    assert got["update1/clip_frac"] == 0.0 and got["update2/clip_frac"] == 0.5 and got["update2/loss"] == 3.0
    assert "update1/logprob_mismatch" not in got and "update2/is/weight_mean" not in got  # one per batch
    assert grpo._per_update([a]) == a


def test_routing_replay_on_a_dense_model_is_refused_with_the_reason(tmp_path):
    from transformers import LlamaConfig

    LlamaConfig(vocab_size=32, hidden_size=16, num_hidden_layers=1, num_attention_heads=2).save_pretrained(tmp_path)
    cfg = load_recipe(RECIPE, ["stages=[1]", "stage1.grpo.routing_replay=r2", f"model.path={tmp_path}"])
    with pytest.raises(ConfigError, match=r"routing_replay` is r2, but the model \(llama\) is dense"):
        grpo._check_inputs(cfg)
    cfg = load_recipe(RECIPE, ["stages=[1]", "stage1.grpo.routing_replay=r3", f"model.path={tmp_path}"])
    with pytest.raises(ConfigError, match=r"routing_replay` is r3, but the model \(llama\) is dense"):
        grpo._check_inputs(cfg)
    for mode in ("r2", "r3"):  # DeepSeek-V2: supported
        grpo._check_inputs(load_recipe(RECIPE, ["stages=[1]", f"stage1.grpo.routing_replay={mode}",
                                                "model.path=builtin:tiny-v2@init"]))


def test_routing_load_figures_hand_worked(tmp_path):
    from align.workflows import routing_log

    c1 = torch.tensor([[3.0, 1.0, 0.0, 0.0]])  # one layer, 4 experts: shares .75 .25 0 0
    got = routing_log.log_step(tmp_path, 1, {"trainer": c1})
    assert got == {"routing/load_max/l0": 3.0, "routing/load_drift/l0": 0.0}
    c2 = torch.tensor([[1.0, 1.0, 1.0, 1.0]])  # balanced: drift = (.5 + .25 + .25 + .25) / 2 = 0.5
    got = routing_log.log_step(tmp_path, 2, {"trainer": c2, "rollout": c1})
    assert got["routing/load_max/l0"] == 1.0 and got["routing/load_drift/l0"] == pytest.approx(0.5)
    assert got["routing/rollout_load_max/l0"] == 3.0 and got["routing/rollout_load_drift/l0"] == 0.0
    routing_log.keep_until(tmp_path, 1)  # a resumed step replaces its line
    routing_log.log_step(tmp_path, 2, {"trainer": c2})
    assert [json_step["step"] for json_step in map(__import__("json").loads,
                                                   (tmp_path / "routing_load.jsonl").read_text().splitlines())] == [1, 2]
    assert routing_log.log_step(tmp_path, 3, {}) == {}
