import subprocess
import sys
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from align.config import ConfigError, load_recipe, parse_override

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted((REPO / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=[p.name for p in RECIPES])
def test_every_recipe_validates_and_says_how_to_run(path):
    cfg = load_recipe(path)
    assert cfg.command in ("sft", "rm", "grpo")
    first = path.read_text().splitlines()[0]
    assert first.startswith("#"), f"{path.name} must open with a comment saying how to run it"


def test_unknown_key_names_closest(tmp_path):
    with pytest.raises(ConfigError, match=r"Unknown key `sft\.epoch`\. Did you mean `sft\.epochs`"):
        load_recipe(REPO / "recipes/v2_chat.yaml", ["sft.epoch=3"])


def test_unknown_section_named(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("command: sft\ntrianer: {num_workers: 1}\n")
    with pytest.raises(ConfigError, match=r"Unknown key `trianer`\. Did you mean `trainer`"):
        load_recipe(p)


@pytest.mark.parametrize("override,needle", [
    ("sft.epochs=abc", "`sft.epochs` must be float"),
    ("trainer.num_workers=1.5", "`trainer.num_workers` must be int"),
    ("trainer.zero_stage=4", "`trainer.zero_stage` is 4, but it must be one of [0, 1, 2, 3]"),
    ("run.resume=maybe", "`run.resume` must be bool"),
    ("data.train=3", "`data.train` must be a list"),
])
def test_wrong_types_named(override, needle):
    with pytest.raises(ConfigError) as exc:
        load_recipe(REPO / "recipes/v2_chat.yaml", [override])
    assert needle in str(exc.value)


def test_missing_files_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_recipe(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"`trainer.deepspeed_config` names `missing.json`"):
        load_recipe(REPO / "recipes/v2_chat.yaml", ["trainer.deepspeed_config=missing.json"])
    with pytest.raises(ConfigError, match=r"`data.train\[0\].source` names `x.jsonl`"):
        load_recipe(REPO / "recipes/v2_chat.yaml", ["data.train=[{source: x.jsonl}]"])


def test_overrides_typed_and_config_frozen():
    cfg = load_recipe(REPO / "recipes/v2_chat.yaml", ["optim.lr=3e-4", "sft.epochs=1", "run.name=x"])
    assert cfg.optim.lr == pytest.approx(3e-4) and cfg.sft.epochs == 1.0 and cfg.run.name == "x"
    assert isinstance(cfg.data.train, tuple) and cfg.data.train[0].weight == 4.0
    with pytest.raises(FrozenInstanceError):
        cfg.optim.lr = 1.0
    assert parse_override("a.b=[1, 2]") == (["a", "b"], [1, 2])
    with pytest.raises(ConfigError, match="must look like"):
        parse_override("no_equals_sign")


def test_cli_exit_code_2_without_traceback():
    proc = subprocess.run([sys.executable, "-m", "align.cli", "validate", str(REPO / "recipes/v2_chat.yaml"),
                           "optim.lrr=1"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2
    assert "Unknown key `optim.lrr`. Did you mean `optim.lr`?" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "align.cli", "sft", "no/such/recipe.yaml"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_help():
    proc = subprocess.run([sys.executable, "-m", "align.cli", "--help"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0 and "sft" in proc.stdout and "validate" in proc.stdout


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n# and another\n"])
def test_empty_or_comment_only_recipe_is_refused_with_exit_2(tmp_path, text):
    recipe = tmp_path / "empty.yaml"
    recipe.write_text(text)
    out = tmp_path / "runs"
    proc = subprocess.run([sys.executable, "-m", "align.cli", "sft", str(recipe), f"run.output_dir={out}"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2, proc.stderr
    assert f"Recipe `{recipe}` is empty" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists(), "a refused recipe must not start a run"


def test_rollout_dtype_and_backend_keys():
    with pytest.raises(ConfigError, match="rollout.sync_check_tol"):  # bf16 engine, fp32 trainer, default tolerance
        load_recipe(REPO / "recipes/v2_grpo.yaml", ["rollout.dtype=bfloat16"])
    cfg = load_recipe(REPO / "recipes/v2_grpo.yaml", ["rollout.dtype=bfloat16", "rollout.attention_backend=CPU_MLA",
                                                      "rollout.sync_check_tol=0.3"])
    assert (cfg.rollout.dtype, cfg.rollout.attention_backend, cfg.rollout.sync_check_tol) == ("bfloat16", "CPU_MLA", 0.3)
    assert load_recipe(REPO / "recipes/v2_grpo.yaml").rollout.dtype is None  # default: the model's dtype
    with pytest.raises(ConfigError, match="rollout.dtype"):
        load_recipe(REPO / "recipes/v2_grpo.yaml", ["rollout.dtype=float8"])
