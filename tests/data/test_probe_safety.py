"""scripts/probe_safety.py: the AUC, over-refusal-at-recall and probe math, hand-worked."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("probe_safety", REPO / "scripts" / "probe_safety.py")
probe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(probe)


def test_auc_counts_ties_half():
    # pairs (p, n): (3,2) (3,0) (2,2)=tie (2,0) (1,2)=loss (1,0) -> (1 + 1 + 0.5 + 1 + 0 + 1) / 6
    assert probe.auc([3, 2, 1], [2, 0]) == pytest.approx(4.5 / 6)
    assert probe.auc([5, 6], [1, 2]) == 1.0 and probe.auc([1, 2], [5, 6]) == 0.0


@pytest.mark.parametrize("recall, fpr", [(1 / 3, 0.0), (2 / 3, 0.5), (1.0, 0.5), (0.0, 0.0)])
def test_fpr_at_recall(recall, fpr):
    # positives ranked 3, 2, 1: keeping 1 / 2 / 3 of them needs threshold 3 / 2 / 1; negatives 2 and 0
    assert probe.fpr_at_recall([3, 2, 1], [2, 0], recall) == fpr


def test_probe_separates_a_separable_feature_and_not_noise():
    import torch

    g = torch.Generator().manual_seed(0)
    y = (torch.arange(200) % 2).float()
    noise = torch.randn(200, 8, generator=g)
    signal = noise.clone()
    signal[:, 3] += 4 * (2 * y - 1)  # one informative column
    assert probe.probe_auc(signal[:100], y[:100], signal[100:], y[100:]) > 0.99
    assert abs(probe.probe_auc(noise[:100], y[:100], noise[100:], y[100:]) - 0.5) < 0.15
