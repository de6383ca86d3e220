#!/usr/bin/env bash
# The pipeline on the built-in model. Installs into .venv, builds the built-in base model if
# it is not cached (once, a few minutes), then SFT and the two reward models.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
ALIGN=.venv/bin/align
RUN=${ALIGN_DEMO_RUN:-demo}

# 1. SFT on the helpfulness + safety mixture (builds the base model first if needed).
$ALIGN sft recipes/v2_chat.yaml run.name="$RUN-sft" run.overwrite=true

# 2. Reward models initialised from that SFT model: pairwise (Bradley-Terry) and pointwise (BCE).
for kind in pairwise pointwise; do
  $ALIGN rm "recipes/v2_rm_$kind.yaml" run.name="$RUN-rm-$kind" run.overwrite=true model.path="runs/$RUN-sft/final"
done

echo
for run in "$RUN-sft" "$RUN-rm-pairwise" "$RUN-rm-pointwise"; do
  echo "[demo] runs/$run/summary.json:"
  cat "runs/$run/summary.json"
  echo
done
echo "[demo] curves: runs/$RUN-*/loss.png; SFT generations: runs/$RUN-sft/samples.json"
