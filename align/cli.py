"""`align <command> RECIPE [key.sub=value ...]`: parse, validate, dispatch. Nothing else.

Exit codes: 0 success, 2 invalid input (recipe, override, data, model path), 1 a
failure during the run (including a rollout engine that cannot start on this machine).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Command:
    help: str
    default_recipe: str | None
    run: Callable[[object], dict]


def _sft(cfg):
    from align.workflows import sft

    return sft.run(cfg)


def _rm(cfg):
    from align.workflows import rm

    return rm.run(cfg)


def _grpo(cfg):
    from align.workflows import grpo

    return grpo.run(cfg)


COMMANDS: dict[str, Command] = {
    "sft": Command("supervised fine-tuning (and the built-in base pretraining)", None, _sft),
    "rm": Command("reward models (pairwise or pointwise) initialised from the SFT model", None, _rm),
    "grpo": Command("two-stage GRPO (verifiable rewards, then reward models) on the vLLM + DeepSpeed hybrid engine", "recipes/v2_grpo.yaml", _grpo),
}

EPILOG = """examples:
  align sft recipes/v2_chat.yaml
  align sft recipes/v2_chat.yaml sft.epochs=1 run.name=quick
  align rm recipes/v2_rm_pairwise.yaml
  align grpo                     (= align grpo recipes/v2_grpo.yaml: stage 1, then stage 2)
  align grpo stages=[2] model.path=runs/v2_grpo/stage1/final
  align validate recipes/v2_chat.yaml
  align doctor                   (CPU features, backend choice, versions, sandbox, engine start)
overrides are dotted keys with YAML values: optim.lr=3e-4, data.max_length=128, run.resume=true"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="align", description="RL alignment for DeepSeek-V2-style MoE models.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, cmd in COMMANDS.items():
        p = sub.add_parser(name, help=cmd.help, description=f"align {name}: {cmd.help}.", epilog=EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("recipe", nargs="?" if cmd.default_recipe else None, default=cmd.default_recipe, help="YAML recipe")
        p.add_argument("overrides", nargs="*", help="key.sub=value overrides")
    v = sub.add_parser("validate", help="load and validate a recipe without running it")
    v.add_argument("recipe")
    v.add_argument("overrides", nargs="*")
    d = sub.add_parser("doctor", help="CPU features, vLLM backend choice, versions, sandbox, and a rollout-engine start")
    d.add_argument("--no-engine", action="store_true", help="skip the rollout-engine start (~20 s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    from align.config import ConfigError, load_recipe, to_dict
    from align.data.chat import DataError
    from align.errors import RunFailure

    args = build_parser().parse_args(argv)
    if not args.command:
        build_parser().print_help()
        return 2
    if args.command == "doctor":
        from align.workflows import doctor

        return doctor.run(engine=not args.no_engine)
    try:
        if args.command == "validate":
            cfg = load_recipe(args.recipe, args.overrides)
            import yaml

            print(yaml.safe_dump(to_dict(cfg), sort_keys=False), end="")
            print(f"[align] {args.recipe}: valid `{cfg.command}` recipe")
            return 0
        recipe, overrides = _recipe_and_overrides(args)
        cfg = load_recipe(recipe, overrides, command=args.command)
        COMMANDS[args.command].run(cfg)
        return 0
    except (ConfigError, DataError) as exc:
        print(f"align: error: {exc}", file=sys.stderr)
        return 2
    except RunFailure as exc:
        print(f"align: run stopped: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("align: interrupted; resume with run.resume=true", file=sys.stderr)
        return 130


def _recipe_and_overrides(args) -> tuple[str, list[str]]:
    """`align grpo stages=[2]`: a first argument that is an override, not a file, means the default recipe."""
    default = COMMANDS[args.command].default_recipe
    if default and args.recipe and "=" in args.recipe and not args.recipe.endswith((".yaml", ".yml")):
        return default, [args.recipe, *args.overrides]
    return args.recipe, list(args.overrides)


if __name__ == "__main__":
    sys.exit(main())
