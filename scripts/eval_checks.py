"""The generation checks of a recipe (`eval.watch`: refusal, math, gsm8k, xstest, ...) on one model folder.

    .venv/bin/python scripts/eval_checks.py RECIPE MODEL_FOLDER [--out FILE.json] [--all-samples] [key=value ...]

The same checks `align sft` runs before and after training (align.workflows.benchmarks), on a fresh vLLM
engine, greedy. Useful to evaluate a `final/` again (after a run whose checks were interrupted) or any HF
folder. The figures are printed as one JSON object and, with --out, written there with the first replies (every
reply with --all-samples, to read what a check counted).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recipe")
    ap.add_argument("model")
    ap.add_argument("--out")
    ap.add_argument("--all-samples", action="store_true", help="keep every reply in FILE.samples.json, not the first")
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_intermixed_args()

    from align.config import load_recipe
    from align.workflows import benchmarks, common

    if a.all_samples:
        benchmarks.KEEP_SAMPLES = 10**9

    cfg = load_recipe(a.recipe, a.overrides)
    tok = common.load_tokenizer(a.model)
    samples = Path(a.out).with_suffix(".samples.json") if a.out else None
    got = common.generation_checks(cfg, a.model, tok, samples)
    print(json.dumps(got, indent=1))
    if a.out:
        Path(a.out).write_text(json.dumps(got, indent=1))


if __name__ == "__main__":
    main()
