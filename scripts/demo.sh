#!/usr/bin/env bash
# The whole pipeline on the built-in model. Installs into .venv, builds the built-in
# base model if it is not cached (once, a few minutes), then runs the main jobs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
ALIGN=.venv/bin/align
RUN=${ALIGN_DEMO_RUN:-demo}

# 1. SFT on the helpfulness + safety mixture (builds the base model first if needed).
$ALIGN sft recipes/v2_chat.yaml run.name="$RUN-sft" run.overwrite=true

echo
echo "[demo] SFT summary (runs/$RUN-sft/summary.json):"
cat "runs/$RUN-sft/summary.json"
echo
echo "[demo] loss curves: runs/$RUN-sft/loss.png; sample generations: runs/$RUN-sft/samples.json"
