"""Registry, dotted paths, RewardSpec/load_reward, and the package's import direction."""
import subprocess
import sys
import textwrap

import pytest

import rewards
from rewards import GuardedReward, RewardLoadError, RewardSpec, load_reward


def _reward_a(prompts, completions, **kw):
    return [1.0] * len(completions)


def _reward_b(prompts, completions, **kw):
    return [0.0] * len(completions)


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    files = {
        "good_plugin.py": """
            SCALE = 3
            def length_reward(prompts, completions, scale=1.0, **kw):
                return [scale * len(c) for c in completions]
            class Holder:
                @staticmethod
                def nested(prompts, completions, **kw):
                    return [2.0] * len(completions)
            def not_a_reward(x):
                return x
            async def async_reward(prompts, completions, **kw):
                return [0.5] * len(completions)
            """,
        "needs_missing.py": "import surely_not_installed_pkg_xyz\ndef f(prompts, completions, **kw): return []\n",
        "raises_on_import.py": "raise RuntimeError('boom at import')\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path))
    for mod in ("good_plugin", "needs_missing", "raises_on_import"):
        sys.modules.pop(mod, None)
    return tmp_path


def test_register_get_and_duplicate_refused():
    try:
        rewards.register("test_dup_a", _reward_a)
        assert rewards.get("test_dup_a") is _reward_a
        rewards.register("test_dup_a", _reward_a)  # same function again: fine
        with pytest.raises(RewardLoadError, match="already registered") as err:
            rewards.register("test_dup_a")(_reward_b)
        assert "_reward_a" in str(err.value) and "_reward_b" in str(err.value)
        assert rewards.get("test_dup_a") is _reward_a
    finally:
        rewards.unregister("test_dup_a")


def test_decorator_form_and_bad_names():
    try:
        @rewards.register("test_deco")
        def r(prompts, completions, **kw):
            return [1.0] * len(completions)

        assert rewards.load("test_deco") is r
        assert "test_deco" in rewards.names()
    finally:
        rewards.unregister("test_deco")
    for bad in ("", "a:b", " x"):
        with pytest.raises(RewardLoadError, match="invalid"):
            rewards.register(bad, _reward_a)


def test_builtins_are_registered_lazily():
    assert rewards.get("math_answer").__name__ == "math_answer"
    assert rewards.load("code_tests").__name__ == "code_tests"
    assert {"math_answer", "code_tests"} <= set(rewards.names())


def test_unknown_name_message():
    with pytest.raises(RewardLoadError) as err:
        rewards.get("no_such_reward")
    msg = str(err.value)
    assert "no_such_reward" in msg and "math_answer" in msg and "package.module:function" in msg
    with pytest.raises(RewardLoadError, match="'my_pkg.mod:fn'"):
        rewards.load("my_pkg.mod.fn")


def test_dotted_path_loads(plugin_dir):
    fn = rewards.load("good_plugin:length_reward")
    assert fn(None, ["ab", "abcd"]) == [2, 4]
    assert rewards.load("good_plugin:Holder.nested")(None, ["x"]) == [2.0]


@pytest.mark.parametrize("path, phrases", [
    ("good_plugin.py:length_reward", ["not found", "drop the '.py'", "good_plugin.py:length_reward"]),
    ("good-plugin:length_reward", ["malformed"]),
    ("a:b:c", ["malformed"]),
    (":f", ["malformed"]),
    ("missing_pkg_qq.mod:f", ["module 'missing_pkg_qq.mod' not found", "Install"]),
    ("needs_missing:f", ["needs 'surely_not_installed_pkg_xyz'", "needs_missing:f"]),
    ("raises_on_import:f", ["RuntimeError: boom at import", "raises_on_import:f"]),
    ("good_plugin:nope", ["has no attribute 'nope'", "length_reward"]),
    ("good_plugin:Holder.nope", ["'good_plugin:Holder' has no attribute 'nope'"]),
    ("good_plugin:SCALE", ["is a int, not callable"]),
    ("good_plugin:not_a_reward", ["not a reward function", "completions"]),
])
def test_dotted_path_errors(plugin_dir, path, phrases):
    with pytest.raises(RewardLoadError) as err:
        rewards.load(path)
    assert isinstance(err.value, ValueError)
    for phrase in phrases:
        assert phrase in str(err.value), (phrase, str(err.value))


def test_reward_spec_and_load_reward(plugin_dir):
    spec = RewardSpec.from_dict({"fn": "good_plugin:length_reward", "weight": 0.5, "timeout_s": 2, "kwargs": {"scale": 10}})
    guarded = load_reward(spec)
    assert isinstance(guarded, GuardedReward)
    assert (guarded.weight, guarded.timeout_s, guarded.name) == (0.5, 2, "length_reward")
    assert guarded(prompts=None, completions=["abc"]) == [30.0]
    assert load_reward("math_answer").name == "math_answer"
    assert load_reward({"fn": "good_plugin:async_reward"})(None, ["a", "b"]) == [0.5, 0.5]
    with pytest.raises(TypeError):
        spec.kwargs["scale"] = 1  # type: ignore[index]  # read-only view: the spec stays frozen


@pytest.mark.parametrize("entry, phrase", [
    ({"fn": "math_answer", "wieght": 1}, "unknown keys ['wieght']"),
    ({"weight": 1}, "needs 'fn'"),
    ({"fn": "math_answer", "weight": float("nan")}, "weight must be a finite number"),
    ({"fn": "math_answer", "timeout_s": 0}, "timeout_s must be > 0"),
    ({"fn": "good_plugin:not_a_reward"}, "not a reward function"),
    (42, "must be a string or a mapping"),
])
def test_reward_spec_errors(plugin_dir, entry, phrase):
    with pytest.raises(RewardLoadError) as err:
        load_reward(entry)
    assert phrase in str(err.value)


def test_kwargs_checked_against_signature(plugin_dir, tmp_path):
    (tmp_path / "strict_plugin.py").write_text("def r(prompts, completions, scale=1.0):\n    return [scale] * len(completions)\n")
    assert load_reward({"fn": "strict_plugin:r", "kwargs": {"scale": 2.0}})(None, ["x"]) == [2.0]
    with pytest.raises(RewardLoadError, match=r"does not take argument\(s\) \['scael'\]"):
        load_reward({"fn": "strict_plugin:r", "kwargs": {"scael": 2.0}})


def test_import_direction_and_light_import():
    code = ("import sys, rewards, rewards.math_answer, rewards.code_tests, rewards.sandbox, rewards.guard;"
            "bad = sorted({m.split('.')[0] for m in sys.modules} & {'align', 'engine', 'vllm', 'ray', 'deepspeed', 'trl', 'sympy'});"
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert out.stdout.strip() == "[]"


def test_default_timeouts(plugin_dir):
    assert load_reward("math_answer").timeout_s == 30.0
    assert load_reward("code_tests").timeout_s == 900.0
    assert load_reward({"fn": "code_tests", "timeout_s": 60}).timeout_s == 60
    assert load_reward({"fn": "good_plugin:length_reward"}).timeout_s == 30.0


def test_unknown_kwargs_of_a_kwargs_function_are_warned(caplog):
    import logging

    with caplog.at_level(logging.WARNING, logger="rewards.spec"):
        load_reward({"fn": "code_tests", "kwargs": {"all_or_nothin": True}})
    assert "all_or_nothin" in caplog.text and "typo" in caplog.text
