#!/usr/bin/env bash
# The pipeline on the built-in model. Installs into .venv, builds the built-in base model if
# it is not cached (once, a few minutes), then SFT, two reward models, GRPO stage 1 (verifiable
# rewards) and stage 2 (the reward models), and writes a one-page report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
ALIGN=.venv/bin/align
# Real benchmarks (GSM8K, XSTest, HH-RLHF) for the evaluations only, when a copy sits beside the repo.
if [ -z "${ALIGN_BENCHMARKS:-}" ] && [ -d ../shared/data ]; then export ALIGN_BENCHMARKS="$(cd ../shared/data && pwd)"; fi
RUN=${ALIGN_DEMO_RUN:-demo}

# 0. This machine: CPU features, the vLLM backend choice, versions, the sandbox, and a real
#    rollout-engine start (~20 s), so that a machine vLLM cannot serve stops here, not after 30 minutes.
$ALIGN doctor

# 1. SFT on the helpfulness + safety mixture (builds the base model first if needed).
$ALIGN sft recipes/v2_chat.yaml run.name="$RUN-sft" run.overwrite=true

# 2. Reward models initialised from that SFT model: pairwise (Bradley-Terry) and pointwise (BCE).
#    One epoch each here (the recipes say 2) keeps the whole demo under 30 minutes on 2 cores.
for kind in pairwise pointwise; do
  $ALIGN rm "recipes/v2_rm_$kind.yaml" run.name="$RUN-rm-$kind" run.overwrite=true model.path="runs/$RUN-sft/final" \
    rm.epochs=1
done

# 3. GRPO stage 1 (math and code, verifiable) then stage 2 (the two reward models + the refusal rule).
$ALIGN grpo recipes/v2_grpo.yaml run.name="$RUN-grpo" run.overwrite=true model.path="runs/$RUN-sft/final" \
  "stage2.rewards=[{model: runs/$RUN-rm-pairwise/final}, {model: runs/$RUN-rm-pointwise/final}, {fn: refusal, weight: 6.0}]"

# 4. One page: curves of every stage and a table of the summary figures.
.venv/bin/python scripts/report.py "runs/$RUN-sft" "runs/$RUN-rm-pairwise" "runs/$RUN-rm-pointwise" "runs/$RUN-grpo" \
  --out "runs/$RUN-report" --overwrite
echo "[demo] report: runs/$RUN-report/report.png and runs/$RUN-report/report.md"
