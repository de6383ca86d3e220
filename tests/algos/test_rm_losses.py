import math

import pytest
import torch

from align.algos.rm import POINTWISE_LOSSES, pairwise_accuracy, pairwise_loss, roc_auc


def test_pairwise_hand_worked():
    # r_c - r_r = 0 -> -log(0.5) = ln 2; with margin 1 and diff 1 -> ln 2 too
    assert pairwise_loss(torch.tensor([0.0]), torch.tensor([0.0])).item() == pytest.approx(math.log(2))
    assert pairwise_loss(torch.tensor([2.0]), torch.tensor([1.0]), margin=1.0).item() == pytest.approx(math.log(2))
    # diff ln 3 -> sigmoid = 3/4 -> loss -ln(0.75)
    assert pairwise_loss(torch.tensor([math.log(3)]), torch.tensor([0.0])).item() == pytest.approx(-math.log(0.75))
    # centering: (1 + 1)^2 = 4, coef 0.01 -> + 0.04
    c = pairwise_loss(torch.tensor([1.0]), torch.tensor([1.0]), center_coef=0.01).item()
    assert c == pytest.approx(math.log(2) + 0.04)


def test_pairwise_matches_trl_reward_trainer():
    """TRL's RewardTrainer.compute_loss on the same rewards (its model is a stub returning them)."""
    from types import SimpleNamespace

    from trl import RewardTrainer

    torch.manual_seed(0)
    rc, rr, margin = torch.randn(6), torch.randn(6), torch.rand(6)
    trainer = object.__new__(RewardTrainer)
    trainer.args = SimpleNamespace(center_rewards_coefficient=0.01)
    trainer._metrics = {"train": __import__("collections").defaultdict(list)}
    trainer.accelerator = SimpleNamespace(gather_for_metrics=lambda x: x, gather=lambda x: x)
    trainer.model = SimpleNamespace(training=True)
    trainer._total_train_tokens, trainer._tp_size = 0, 1

    class Stub(torch.nn.Module):
        training = True

        def forward(self, input_ids, attention_mask, **_):
            return SimpleNamespace(logits=torch.cat([rc, rr])[:, None])

    inputs = {"input_ids": torch.zeros(12, 3, dtype=torch.long), "attention_mask": torch.ones(12, 3, dtype=torch.long),
              "margin": margin}
    trl_loss = RewardTrainer.compute_loss(trainer, Stub(), inputs)
    ours = pairwise_loss(rc, rr, margin, center_coef=0.01)
    assert ours.item() == pytest.approx(float(trl_loss), abs=1e-6)


def test_pointwise_hand_worked():
    assert POINTWISE_LOSSES["mse"](torch.tensor([1.0, 3.0]), torch.tensor([0.0, 1.0])).item() == pytest.approx(2.5)
    # logit 0 -> p 0.5 -> BCE ln 2 for either label
    assert POINTWISE_LOSSES["bce"](torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.0])).item() == pytest.approx(math.log(2))


def test_accuracy_and_auc():
    assert pairwise_accuracy(torch.tensor([1.0, 0.0, 2.0]), torch.tensor([0.0, 1.0, 2.0])) == pytest.approx(0.5)
    assert roc_auc(torch.tensor([0.9, 0.8, 0.1, 0.85]), torch.tensor([1, 1, 0, 0])) == pytest.approx(0.75)
