"""The rewards of one GRPO stage: rule-based functions and served reward models, one guarded path.

A recipe entry names either a function (`fn: math_answer`, `fn: "my_pkg.mod:fn"`, TRL's
`fn: "trl.rewards:think_format_reward"`) or a reward-model folder written by `align rm`
(`model: runs/v2_rm_pairwise/final`). A reward model is started as a Ray actor
(engine.reward_model.RewardModelServer) and wrapped in TRL's reward contract, then guarded
like any function: a timeout, failures counted, too many failures stop the run. Stage 2 of
DeepSeek-V2 (helpfulness and safety reward models) is then just a list of entries with
weights; `normalize_rewards` puts them on one scale within each group before the sum.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from align.config import ConfigError
from align.errors import RunFailure

MODEL_TIMEOUT_S = 120.0


@dataclass
class StageRewards:
    fns: list  # GuardedReward, in recipe order
    model_names: set[str] = field(default_factory=set)  # which of them are reward models
    servers: list = field(default_factory=list)  # the reward-model actors, killed with the stage

    @property
    def weights(self) -> list[float]:
        return [f.weight for f in self.fns]

    def close(self) -> None:
        import ray

        for actor in self.servers:
            ray.kill(actor)
        self.servers.clear()


def model_name(entry) -> str:
    """`runs/v2_rm_pairwise/final` -> `v2_rm_pairwise` (the run name), unless the entry names it."""
    path = Path(entry.model)
    return entry.name or (path.parent.name if path.name == "final" else path.name)


def check_reward_models(cfg) -> None:
    """Every reward-model folder of every stage to run must exist before stage 1 starts."""
    for stage in cfg.stages:
        for i, entry in enumerate(getattr(cfg, f"stage{stage}").rewards):
            if entry.model and not (Path(entry.model) / "config.json").is_file():
                raise ConfigError(
                    f"`stage{stage}.rewards[{i}].model` is `{entry.model}`, which holds no reward model (no "
                    "config.json). Train it first, e.g. `align rm recipes/v2_rm_pairwise.yaml`, or point it at the "
                    "`final/` folder of an `align rm` run.")


def _spec(entry):
    from rewards import RewardSpec

    return RewardSpec(entry.fn, weight=entry.weight, timeout_s=entry.timeout_s, kwargs=dict(entry.kwargs), name=entry.name)


def check_reward_functions(cfg) -> None:
    """Load (without running) every reward function of every stage: a typo fails before any work."""
    from rewards import RewardLoadError, load_reward

    for stage in cfg.stages:
        for i, e in enumerate(getattr(cfg, f"stage{stage}").rewards):
            if e.fn:
                try:
                    load_reward(_spec(e))
                except RewardLoadError as exc:
                    raise ConfigError(f"`stage{stage}.rewards[{i}].fn`: {exc}") from None


def build_rewards(cfg, sc, threads: int) -> StageRewards:
    """Guarded reward functions for stage config `sc`, reward models served by fresh actors."""
    from engine.reward_model import as_reward_function, start_server
    from rewards import GuardedReward, load_reward

    out = StageRewards([])
    for e in sc.rewards:
        if e.fn:
            out.fns.append(load_reward(_spec(e)))
            continue
        name = model_name(e)
        actor = start_server(e.model, num_gpus=cfg.trainer.gpus_per_worker and 0.01, dtype=cfg.model.dtype,
                             threads=threads, max_length=cfg.max_length + sc.grpo.max_new_tokens,
                             batch_size=sc.grpo.micro_batch_size)
        out.servers.append(actor)
        out.model_names.add(name)
        out.fns.append(GuardedReward(as_reward_function(actor, name), name=name, weight=e.weight,
                                     timeout_s=e.timeout_s or MODEL_TIMEOUT_S))
    return out


# ---------------------------------------------------------------------- scoring a batch
class RewardFailure(RunFailure):
    """A reward function failed on more of a batch than the recipe allows."""


def score(samples: list, reward_fns: list, max_fail_frac: float) -> tuple[list[list], dict]:
    """Run every guarded reward function on the batch; stop on too many failures."""
    prompts = [s.row["prompt"] for s in samples]
    completions = [completion_for(s) for s in samples]
    keys = sorted({k for s in samples for k in s.row} - {"prompt"})
    columns = {k: [s.row.get(k) for s in samples] for k in keys} | {"completion_ids": [s.completion_ids for s in samples]}
    results, metrics = [], {}
    for fn in reward_fns:
        before = fn.stats().failed_samples
        t0 = time.perf_counter()
        values = fn(prompts, completions, **columns)
        failed = fn.stats().failed_samples - before
        frac = failed / max(1, len(samples))
        if frac > max_fail_frac:
            raise RewardFailure(
                f"reward function `{fn.name}` failed on {failed} of {len(samples)} samples ({frac:.0%}), more than "
                f"`max_reward_failure_frac` = {max_fail_frac:.0%}. Last error: {_last_error(fn)}. Fix the function "
                "(run it on a few rows by hand) or raise the limit in the recipe.")
        got = [v for v in values if v is not None]
        metrics[f"reward/{fn.name}/mean"] = sum(got) / len(got) if got else float("nan")
        metrics[f"reward/{fn.name}/failures"] = failed
        metrics[f"reward/{fn.name}/seconds"] = time.perf_counter() - t0
        results.append(values)
    return results, metrics


def completion_for(s):
    """TRL's shapes: a string after a string prompt, an assistant turn after a conversation."""
    return s.text if isinstance(s.row["prompt"], str) else [{"role": "assistant", "content": s.text}]


def _last_error(fn) -> str:
    return ": ".join(fn.last_errors[-1]) if fn.last_errors else "see the log above"
