"""One driver per command: sft, rm, grpo."""
