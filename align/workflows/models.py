"""Resolve a recipe's `model.path` to an HF folder, building the built-in model if needed.

`builtin:tiny-v2` is the pretrained built-in base (built once by
`recipes/tiny_base.yaml`, ~minutes, cached); `builtin:tiny-v2@init` is the randomly
initialised model with the built-in tokenizer (seconds; tests and the base build use it);
`builtin:smollm2-135m` is SmolLM2-135M-Instruct converted from its package (align.models.smollm2);
`builtin:smollm2-moe` is its exact DeepSeekMoE upcycle (align.models.smollm2_moe).
"""
from __future__ import annotations

from align.config import ConfigError
from align.models import builtin

def _lazy(module: str, name: str):
    """`module.name`, imported when a recipe asks for it (the base build runs `align sft`, whose driver imports
    this module: a static import would be a circle)."""
    import importlib

    return getattr(importlib.import_module(module), name)


def _smollm2(module: str):
    def resolve() -> str:
        import importlib

        from align.models import smollm2

        try:
            return str(importlib.import_module(f"align.models.{module}").path())
        except smollm2.PackageMissing as exc:
            raise ConfigError(str(exc)) from None
    return resolve


BUILTINS = {  # name -> a function returning the HF folder (building or converting it once)
    "builtin:tiny-v2": lambda: str(_lazy("align.workflows.base_model", "base_path")()),
    "builtin:tiny-v2@init": lambda: str(builtin.init_path()),
    "builtin:smollm2-135m": _smollm2("smollm2"),
    "builtin:smollm2-moe": _smollm2("smollm2_moe"),
}


def resolve_model(path: str) -> str:
    if not path.startswith("builtin:"):
        return path
    if path not in BUILTINS:
        raise ConfigError(f"`model.path` is `{path}`; built-in models are {', '.join(BUILTINS)}.")
    return BUILTINS[path]()


def architecture_path(path: str) -> str:
    """A folder with `path`'s architecture and tokenizer, built in seconds at most.

    For `builtin:tiny-v2` that is the initial model (the base may not be pretrained yet),
    so a rollout-engine check can run before the base build's minutes.
    """
    return str(builtin.init_path()) if path == "builtin:tiny-v2" else resolve_model(path)
