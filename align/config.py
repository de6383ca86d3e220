"""Typed, frozen recipe configs: YAML + dotted overrides -> validated dataclasses.

A recipe is a YAML mapping whose sections mirror the dataclasses below. Every
key is checked: an unknown key, a wrong type or a missing file raises
`ConfigError` with one message that names the key (and the closest valid key);
the CLI turns it into exit code 2. Configs are frozen: nothing mutates them at
run time; `dataclasses.replace` makes a modified copy where a workflow needs one.
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml


class ConfigError(ValueError):
    """An invalid recipe or override; the message names the key and the fix."""


# --------------------------------------------------------------------------- schema
@dataclass(frozen=True)
class RunConfig:
    name: str = "run"
    output_dir: Optional[str] = None  # default: runs/<name>
    seed: int = 0
    resume: bool = False
    overwrite: bool = False
    tensorboard: bool = True
    wandb: bool = False


@dataclass(frozen=True)
class LoraConfig:
    """LoRA adapters through peft (engine.lora): only they train; weights leave the trainer merged."""
    r: int = 16
    alpha: float = 32.0  # the update is scaled by alpha / r
    dropout: float = 0.0
    # last name part of the linear layers to adapt: attention (Llama/GQA and DeepSeek-V2 MLA names), dense FFN and
    # shared experts; names a model lacks are skipped, but at least one must exist
    targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "kv_a_proj_with_mqa", "kv_b_proj",
                                "gate_proj", "up_proj", "down_proj")
    experts: bool = True  # MoE models: also the routed experts' fused parameters (a LoRA per expert); dense: no-op


@dataclass(frozen=True)
class ModelConfig:
    path: str = "builtin:tiny-v2"  # an HF folder, or builtin:tiny-v2 / builtin:tiny-v2@init / builtin:smollm2-135m / builtin:smollm2-moe
    dtype: Literal["float32", "bfloat16"] = "float32"
    lora: Optional[LoraConfig] = None  # None: full fine-tuning


@dataclass(frozen=True)
class ClusterConfig:
    address: Optional[str] = None  # None: start Ray locally; "auto" or "ray://host:port": join
    num_cpus: Optional[int] = None  # local Ray only; default: all cores
    layout: Optional[str] = None  # a configs/cluster/*.yaml fragment, informational


@dataclass(frozen=True)
class TrainerConfig:
    num_workers: int = 2
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    zero_stage: Literal[0, 1, 2, 3] = 2
    deepspeed_config: Optional[str] = None  # a JSON fragment merged under the generated config
    threads_per_worker: int = 1
    # Ray placement-group strategy for the ranks: PACK (fewest nodes), SPREAD, STRICT_PACK, STRICT_SPREAD (one per node)
    placement: Literal["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"] = "PACK"


@dataclass(frozen=True)
class DataSource:
    source: str  # builtin:<name>, a .jsonl/.json/.parquet file, or a hub dataset name
    weight: float = 1.0
    split: str = "train"
    max_rows: Optional[int] = None


@dataclass(frozen=True)
class DataConfig:
    train: tuple[DataSource, ...] = ()
    eval: tuple[DataSource, ...] = ()
    max_length: int = 256
    samples_per_epoch: Optional[int] = None  # default: the smallest mixture showing every item of every source
    loss_on: Literal["assistant", "all"] = "assistant"


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup_ratio: float = 0.05
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0


@dataclass(frozen=True)
class SFTConfig:
    epochs: float = 2.0
    batch_size: int = 16  # sequences per optimizer step, across all workers
    micro_batch_size: int = 8  # sequences per worker per forward
    aux_loss_coef: float = 0.001  # DeepSeekMoE expert-level balance loss (alpha_1)
    save_every: int = 200
    eval_every: int = 0  # 0: only at the end
    log_every: int = 1
    max_steps: Optional[int] = None
    group_by_length: bool = True  # batches of similar lengths (HF's group_by_length): less padding


# held-out generation checks (align.workflows.benchmarks.CHECKS; gsm8k and xstest need $ALIGN_BENCHMARKS)
CheckName = Literal["math", "code", "refusal", "gsm8k", "xstest"]


@dataclass(frozen=True)
class GenEvalConfig:
    enabled: bool = True
    watch: tuple[CheckName, ...] = ("refusal",)  # checks on the final model
    baseline: bool = False  # also run them on the starting model (the summary then has before/after)
    max_prompts: int = 200
    max_new_tokens: Optional[int] = None  # cap on every check's reply (None: each check's own, 48 to 256 tokens)
    kv_cache_gib: float = 1.0


@dataclass(frozen=True)
class SFTRecipe:
    command: Literal["sft"] = "sft"
    run: RunConfig = field(default_factory=RunConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    eval: GenEvalConfig = field(default_factory=GenEvalConfig)


@dataclass(frozen=True)
class RMConfig:
    loss: Literal["pairwise", "pointwise"] = "pairwise"
    pointwise_loss: Literal["mse", "bce"] = "bce"  # regression of `score` or classification of `label`
    margin_column: Optional[str] = None  # pairwise: a per-pair margin column (TRL's `margin`)
    center_coef: Optional[float] = None  # pairwise: TRL's reward-centering coefficient (e.g. 0.01)
    epochs: float = 1.0
    batch_size: int = 32  # pairs (or points) per optimizer step, across all workers
    micro_batch_size: int = 16  # pairs (or points) per worker per forward
    max_steps: Optional[int] = None
    eval_every: int = 0  # also evaluate every k steps (0: only before and after training)
    eval_at_start: bool = True  # held-out accuracy of the starting model too (step 0 of metrics.jsonl)
    save_every: int = 200
    log_every: int = 1


@dataclass(frozen=True)
class RMRecipe:
    command: Literal["rm"] = "rm"
    run: RunConfig = field(default_factory=RunConfig)
    model: ModelConfig = field(default_factory=lambda: ModelConfig(path="runs/v2_chat/final"))
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    rm: RMConfig = field(default_factory=RMConfig)


@dataclass(frozen=True)
class RewardEntry:
    """One reward: a rule-based function (`fn`) or a reward model folder from `align rm` (`model`)."""
    fn: Optional[str] = None  # a registered name (math_answer, code_tests) or a dotted path pkg.mod:fn
    model: Optional[str] = None  # an `align rm` output folder (e.g. runs/v2_rm_pairwise/final), served by a Ray actor
    name: Optional[str] = None  # for metrics; default: the function's name, or the reward model's run name
    weight: float = 1.0
    timeout_s: Optional[float] = None  # default: the function's own default_timeout_s, else 30 s (reward models 120 s)
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RolloutConfig:
    num_engines: int = 1
    cpus_per_engine: float = 1.0
    gpus_per_engine: float = 0.0
    placement: Literal["split", "colocated"] = "split"
    dtype: Optional[Literal["float32", "bfloat16"]] = None  # None: model.dtype (bfloat16 on a float32 trainer adds mismatch)
    attention_backend: Optional[str] = None  # vLLM attention backend; None: engine.device.rollout_backend picks it
    kv_cache_gib: float = 1.0
    # CPU only: each engine's threads, pinned to cores of their own (engine i takes cores i*n .. i*n+n-1);
    # None: vLLM's choice, which for an in-process engine (ours on CPU) is one torch thread, unpinned. More
    # threads help large matmuls; the built-in tiny model generates no faster on 2 (README, Speed). Never
    # oversubscribe with `async: one_step`, where generation and training run at once
    cpu_threads: Optional[int] = None
    sync_every: int = 1  # weight sync after every k policy updates
    # group: trainer rank 0 broadcasts `sync_bucket_mb` buckets over a gloo (CPU) / NCCL (GPU) group of its own
    # and every vLLM worker loads each as it arrives (engine.sync_group); ray: the whole model as one Ray object
    # through the driver (the first design; a fallback, and the benchmark's "before")
    sync_transport: Literal["group", "ray"] = "group"
    sync_bucket_mb: float = 64.0
    sync_timeout_s: float = 120.0  # a sync (or the sync group's forming) that takes longer fails, naming the member
    # max |logp_vllm - logp_trainer| the start/end sync checks allow; None: 1e-3, which only holds when
    # rollout and trainer share a dtype (a bfloat16 engine against a float32 trainer must set it)
    sync_check_tol: Optional[float] = None


@dataclass(frozen=True)
class RolloutCorrectionConfig:
    """Importance weights pi_trainer / pi_rollout on the policy term (align.algos.rollout_correction)."""
    mode: Literal["off", "token_truncate", "token_mask", "sequence_truncate", "sequence_mask"] = "token_truncate"
    c_min: Optional[float] = None  # lower bound (truncate: clamp; mask: drop below); None: none
    c_max: Optional[float] = 2.0  # upper bound; None: none


@dataclass(frozen=True)
class GRPOConfig:
    steps: int = 20
    prompts_per_step: int = 16
    group_size: int = 8
    max_new_tokens: int = 64
    temperature: float = 1.0
    top_p: float = 1.0
    updates_per_batch: int = 1  # policy updates (epochs) per rollout batch, with fixed old log-probs
    micro_batch_size: int = 16
    eps_low: float = 0.2
    eps_high: float = 0.2
    beta: float = 0.04  # KL coefficient
    kl_estimator: Literal["k1", "k2", "k3"] = "k3"
    kl_in_reward: bool = False  # fold beta * KL into the reward instead of the loss
    advantage_scale: Literal["group", "batch", "none"] = "group"
    loss_type: str = "grpo"  # align.algos.grpo.LOSS_TYPES: grpo, dapo, bnpo, dr_grpo, gspo
    rollout_correction: RolloutCorrectionConfig = field(default_factory=RolloutCorrectionConfig)
    dynamic_sampling: bool = False  # DAPO: drop zero-variance groups, draw more prompts until the batch is full
    max_sampling_rounds: int = 4  # dynamic sampling: at most this many draws of prompts_per_step prompts
    mask_truncated: bool = False  # DAPO overlong masking: completions cut at max_new_tokens leave the loss
    router: Literal["freeze", "train"] = "freeze"  # MoE router weights in RL (NeMo-RL freezes them)
    aux_loss_coef: float = 0.0  # MoE balance loss in RL (off, as NeMo-RL: it shifts log-probs between updates)
    routing_replay: Literal["off", "r2", "r3"] = "off"  # r2: updates replay the old-policy forward's experts
    # recipe key `async`. one_step: the engines generate batch t+1 with the weights of step t-1 while the trainers
    # train on batch t (verl's one-step-off policy); the rollout correction weighs the staleness
    async_mode: Literal["off", "one_step"] = field(default="off", metadata={"key": "async"})
    logprob_chunk_tokens: int = 1024  # completion tokens per chunk of the vocabulary projection
    max_reward_failure_frac: float = 0.5  # a reward function failing on more of a batch stops the run
    eval_every: int = 0  # also evaluate every k steps (0: only before and after the stage)
    save_every: int = 10  # checkpoint every k steps (`run.resume=true` continues from the latest)


@dataclass(frozen=True)
class StageConfig:
    prompts: tuple[DataSource, ...] = ()
    eval_prompts: tuple[DataSource, ...] = ()
    rewards: tuple[RewardEntry, ...] = ()
    normalize_rewards: bool = False  # normalise each reward within its group before the weighted sum
    reference: Optional[str] = None  # None: the run's `reference`; "start": this stage's starting policy; or a folder
    watch: tuple[CheckName, ...] = ()  # extra held-out checks at every evaluation
    grpo: GRPOConfig = field(default_factory=GRPOConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-5, warmup_ratio=0.0, schedule="constant", min_lr_ratio=1.0))
    eval_max_prompts: int = 200


@dataclass(frozen=True)
class GRPORecipe:
    command: Literal["grpo"] = "grpo"
    run: RunConfig = field(default_factory=RunConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    reference: Optional[str] = None  # the frozen KL reference of every stage; default: `model.path` (the SFT model)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    stages: tuple[Literal[1, 2], ...] = (1,)
    stage1: StageConfig = field(default_factory=StageConfig)
    stage2: StageConfig = field(default_factory=StageConfig)
    max_length: int = 512


RECIPES: dict[str, type] = {"sft": SFTRecipe, "rm": RMRecipe, "grpo": GRPORecipe}


# --------------------------------------------------------------------------- building
def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value: Any, tp: Any, key: str) -> Any:
    """Check `value` against type hint `tp`, converting where unambiguous."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0])
    if origin is Literal:
        if value in typing.get_args(tp):
            return value
        raise ConfigError(f"`{key}` is {value!r}, but it must be one of {list(typing.get_args(tp))}.")
    if is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"`{key}` must be a mapping of {tp.__name__} fields, got {value!r}.")
        return build(tp, value, prefix=key + ".")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"`{key}` must be a list, got {value!r}.")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"`{key}` must be a list of {len(args)} items, got {value!r}.")
        return tuple(_convert(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"`{key}` must be a mapping, got {value!r}.")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML reads 1e-3 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return value
    raise ConfigError(f"`{key}` must be {_type_name(tp)}, got {value!r} ({type(value).__name__}).")


def _closest(name: str, options: list[str]) -> str:
    match = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    return f" Did you mean `{match[0]}`?" if match else f" Valid keys: {', '.join(options)}."


def build(cls: type, data: dict, prefix: str = "") -> Any:
    """Build frozen dataclass `cls` from a plain mapping, validating every key."""
    hints = typing.get_type_hints(cls)
    names = [_key(f) for f in fields(cls)]
    for key in data:
        if key not in names:
            full = [prefix + n for n in names]
            raise ConfigError(f"Unknown key `{prefix}{key}`.{_closest(prefix + str(key), full)}")
    kwargs = {}
    for f in fields(cls):
        if _key(f) in data:
            kwargs[f.name] = _convert(data[_key(f)], hints[f.name], prefix + _key(f))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"Missing required key `{prefix}{_key(f)}`.")
    return cls(**kwargs)


def _key(f) -> str:
    """A field's recipe key: its name, or `metadata["key"]` where the name cannot be one (`async`)."""
    return f.metadata.get("key", f.name)


def to_dict(cfg: Any) -> Any:
    """A frozen config back to plain YAML-able data (tuples become lists)."""
    if is_dataclass(cfg):
        return {_key(f): to_dict(getattr(cfg, f.name)) for f in fields(cfg)}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    if isinstance(cfg, dict):
        return {k: to_dict(v) for k, v in cfg.items()}
    return cfg


# --------------------------------------------------------------------------- loading
def parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"Override `{text}` must look like `key.sub=value` (for example `sft.epochs=1`).")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_override(data: dict, path: list[str], value: Any) -> None:
    node = data
    for part in path[:-1]:
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        if not isinstance(nxt, dict):
            raise ConfigError(f"Override `{'.'.join(path)}`: `{part}` is not a section.")
        node = nxt
    node[path[-1]] = value


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Recipe file `{path}` does not exist. Pass the path of a YAML recipe, e.g. recipes/v2_chat.yaml.")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"Recipe `{path}` is not valid YAML: {exc}") from None
    if data is None:
        raise ConfigError(f"Recipe `{path}` is empty (no settings, or only comments), so it would silently run every "
                          "default. Start from one of recipes/*.yaml, or write the sections you mean, e.g. "
                          "`model: {path: builtin:tiny-v2}` and `data: {train: [{source: builtin:helpful_chat}]}`.")
    if not isinstance(data, dict):
        raise ConfigError(f"Recipe `{path}` must be a YAML mapping of sections, got {type(data).__name__}.")
    return data


def load_recipe(path: str | Path, overrides: list[str] = (), command: Optional[str] = None) -> Any:
    """Read a recipe, apply `key.sub=value` overrides, validate, freeze."""
    data = read_yaml(path)
    for text in overrides:
        apply_override(data, *parse_override(text))
    command = command or data.get("command")
    if command not in RECIPES:
        raise ConfigError(f"Recipe `{path}` names command {command!r}; valid commands: {', '.join(RECIPES)}.")
    if data.get("command", command) != command:
        raise ConfigError(f"Recipe `{path}` is a `{data['command']}` recipe; run it with `align {data['command']}`.")
    data["command"] = command
    cfg = build(RECIPES[command], data)
    check_files(cfg)
    return cfg


def check_files(cfg: Any) -> None:
    """Files named in the recipe must exist (hub names and builtin: sources are not files)."""
    ds = getattr(getattr(cfg, "trainer", None), "deepspeed_config", None)
    if ds and not Path(ds).is_file():
        raise ConfigError(f"`trainer.deepspeed_config` names `{ds}`, which does not exist.")
    model = getattr(getattr(cfg, "model", None), "path", "")
    if model and not model.startswith("builtin:") and _looks_local(model) and not Path(model).exists():
        raise ConfigError(f"`model.path` names `{model}`, which does not exist. Use an HF model folder or builtin:tiny-v2.")
    check_lora(getattr(getattr(cfg, "model", None), "lora", None))
    for stage in getattr(cfg, "stages", ()):
        check_stage(getattr(cfg, f"stage{stage}"), f"stage{stage}")
    if hasattr(cfg, "rollout"):
        check_rollout_dtype(cfg)
    data = getattr(cfg, "data", None)
    for section in ("train", "eval"):
        check_sources(getattr(data, section, ()) or (), f"data.{section}")
    check_not_benchmark(getattr(data, "train", ()) or (), "data.train")


def check_lora(lora: Any) -> None:
    if lora is None:
        return
    if lora.r < 1:
        raise ConfigError(f"`model.lora.r` is {lora.r}; the LoRA rank must be at least 1 (8 to 64 are usual).")
    if lora.alpha <= 0:
        raise ConfigError(f"`model.lora.alpha` is {lora.alpha}; it scales the update by alpha / r and must be positive.")
    if not 0.0 <= lora.dropout < 1.0:
        raise ConfigError(f"`model.lora.dropout` is {lora.dropout}; it must be in [0, 1).")
    if not lora.targets and not lora.experts:
        raise ConfigError("`model.lora.targets` is empty and `model.lora.experts` false: LoRA would train nothing. "
                          "Name linear layers (e.g. [q_proj, v_proj]) or drop `model.lora` for full fine-tuning.")


def check_not_benchmark(sources, key: str) -> None:
    """Benchmarks (`bench:`) measure a model; training on them would void the measurement."""
    for i, src in enumerate(sources):
        if src.source.startswith("bench:"):
            raise ConfigError(f"`{key}[{i}].source` is `{src.source}`, an evaluation benchmark; benchmarks are never "
                              "trained on. Put it under an evaluation key (`data.eval`, `stageN.eval_prompts`) or "
                              "train on other data.")


def check_sources(sources, key: str) -> None:
    """Local files among `sources` (recipe key `key`) must exist."""
    for i, src in enumerate(sources):
        if _looks_local(src.source) and not Path(src.source).exists():
            raise ConfigError(f"`{key}[{i}].source` names `{src.source}`, which does not exist.")


def check_rollout_dtype(cfg: Any) -> None:
    """A rollout engine in another dtype than the trainer cannot pass the default 1e-3 sync check."""
    r = cfg.rollout
    if r.dtype and r.dtype != cfg.model.dtype and r.sync_check_tol is None:
        raise ConfigError(f"`rollout.dtype` is {r.dtype} but the trainer runs in {cfg.model.dtype} (`model.dtype`), so "
                          "vLLM's log-probs differ from the trainer's by more than the default sync-check tolerance "
                          "(1e-3 nats) even when the sync is right. Set `rollout.sync_check_tol` to the mismatch you "
                          "accept (README, platform notes: bf16 AMX rollouts were up to 0.22 nats from fp32), or drop "
                          "`rollout.dtype`.")


def sync_check_tol(cfg: Any) -> float:
    return 1e-3 if cfg.rollout.sync_check_tol is None else cfg.rollout.sync_check_tol


def check_stage(sc: Any, key: str) -> None:
    """A GRPO stage needs prompts and rewards; each reward names exactly one of `fn` and `model`."""
    if not sc.prompts:
        raise ConfigError(f"`{key}.prompts` is empty; list at least one prompt source, e.g. {{source: 'builtin:math'}}.")
    if not sc.rewards:
        raise ConfigError(f"`{key}.rewards` is empty; name at least one reward, e.g. {{fn: math_answer}} or "
                          "{model: runs/v2_rm_pairwise/final}.")
    for i, r in enumerate(sc.rewards):
        if (r.fn is None) == (r.model is None):
            raise ConfigError(f"`{key}.rewards[{i}]` must name exactly one of `fn` (a reward function) and `model` "
                              f"(a reward-model folder from `align rm`); it names {'both' if r.fn else 'neither'}.")
        if r.model and r.kwargs:
            raise ConfigError(f"`{key}.rewards[{i}].kwargs` only applies to reward functions, not to `model` rewards.")
    for section in ("prompts", "eval_prompts"):
        check_sources(getattr(sc, section), f"{key}.{section}")
    check_not_benchmark(sc.prompts, f"{key}.prompts")


def _looks_local(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.endswith((".jsonl", ".json", ".parquet"))


def dump_recipe(cfg: Any, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
