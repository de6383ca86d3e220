#!/usr/bin/env bash
# Install (idempotent) and run the default test suite (slow and GPU tests excluded).
#   bash scripts/test.sh              # default suite
#   bash scripts/test.sh -m slow      # the slow tests (minutes each)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TOKENIZERS_PARALLELISM=false RAY_DEDUP_LOGS=0 PYTHONUNBUFFERED=1
exec .venv/bin/python -m pytest -q -p no:cacheprovider --durations=15 "$@"
