"""A reward model served to GRPO: a Ray actor that scores (prompt, completion) batches.

The scores come from the same functions as `align rm`'s evaluation (align.data.prefs.encode
for the chat template, engine.objectives.reward_scores for the head), so a served model
ranks exactly as its summary says. `as_reward_function` wraps an actor in TRL's reward
contract `f(prompts, completions, **columns) -> list[float]`, so stage 2 mixes reward
models and rule-based rewards through one guarded path.
"""
from __future__ import annotations

from engine import device
from engine.offload import FrozenModelSwap


class RewardModelServer(FrozenModelSwap):
    def __init__(self, model_path: str, dtype: str = "float32", threads: int = 1, max_length: int = 512,
                 batch_size: int = 16) -> None:
        import torch
        import transformers

        device.set_threads(threads)
        self.model_path, self.max_length, self.batch_size = str(model_path), max_length, batch_size
        self.tok = transformers.AutoTokenizer.from_pretrained(self.model_path)
        from engine.seq_cls import register_for

        register_for(self.model_path)
        self.model = transformers.AutoModelForSequenceClassification.from_pretrained(
            self.model_path, dtype=getattr(torch, dtype)).to(device.torch_device()).eval()
        if self.model.config.pad_token_id is None:
            self.model.config.pad_token_id = self.tok.pad_token_id

    def score(self, prompts: list, completions: list) -> list[float]:
        """One float per (prompt, completion); prompts are strings or conversations,
        completions strings or assistant turns (TRL's conversational format)."""
        self._resident("score")
        import torch

        from align.data.chat import Encoded
        from align.data.prefs import encode
        from engine.objectives import reward_scores
        from engine.trainer import collate

        seqs = [encode(self.tok, _turns(p, "user"), _turns(c, "assistant"), self.max_length)
                for p, c in zip(prompts, completions, strict=True)]
        out: list[float] = []
        with torch.no_grad():
            for i in range(0, len(seqs), self.batch_size):
                mb = collate([Encoded(s, (0,) * len(s)) for s in seqs[i:i + self.batch_size]], self.tok.pad_token_id)
                mb = {k: v.to(device.torch_device()) for k, v in mb.items()}
                out += reward_scores(self.model, mb).float().cpu().tolist()
        return out


def _turns(value, role: str) -> list[dict]:
    return [{"role": role, "content": value}] if isinstance(value, str) else list(value)


def start_server(model_path: str, num_cpus: float = 0, num_gpus: float = 0, **kwargs):
    """A RewardModelServer actor (num_cpus=0 by default: it runs between generation and training)."""
    import ray

    return ray.remote(RewardModelServer).options(num_cpus=num_cpus, num_gpus=num_gpus).remote(model_path, **kwargs)


def as_reward_function(actor, name: str):
    """TRL's reward contract over a served reward model: f(prompts, completions, **_) -> floats."""
    import ray

    def reward(prompts, completions, **_):
        return ray.get(actor.score.remote(list(prompts), list(completions)))

    reward.__name__ = name
    return reward
