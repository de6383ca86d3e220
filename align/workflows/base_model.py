"""The built-in base model `builtin:tiny-v2`: pretrained once by `align sft recipes/tiny_base.yaml` (minutes) and
cached; `align.workflows.models.resolve_model` builds it on first use."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from align.models import builtin


def base_path() -> Path:
    folder = builtin.builtin_dir()
    base = folder / "base"
    if (base / "config.json").exists():
        return base
    builtin.init_path()
    with builtin.build_lock(folder):
        if not (base / "config.json").exists():
            _build_base(folder, base)
    return base


def _build_base(folder: Path, base: Path) -> None:
    from align.config import load_recipe
    from align.workflows import sft

    run_dir = folder / "base_run"
    print(f"[align] the built-in base model is not cached yet: pretraining it now with "
          f"{builtin.BASE_RECIPE.name} (once; cached in {base})", flush=True)
    t0 = time.time()
    cfg = load_recipe(builtin.BASE_RECIPE, [f"run.output_dir={run_dir}", "run.overwrite=true"], command="sft")
    sft.run(cfg)
    shutil.copytree(run_dir / "final", base.with_name("base.tmp"), dirs_exist_ok=True)
    base.with_name("base.tmp").rename(base)
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    print(f"[align] built-in base model ready in {time.time() - t0:.0f}s", flush=True)
