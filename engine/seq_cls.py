"""A sequence-classification (reward-model) class for causal LMs transformers ships without one.

transformers builds `XForSequenceClassification` from its generic mixin (a backbone plus a bias-free `score`
head that reads the last non-padding token) for most families, but not for every one: GLM-4-MoE, the layout of
the `builtin:smollm2-moe` upcycle, has none, so `align rm` could not start from it. `register_for(path)` makes the
same class for the model's family and registers it with `AutoModelForSequenceClassification`, in every process
that loads a reward model (the trainer and the serving actor), so a saved reward-model folder loads back.
"""
from __future__ import annotations


def register_for(path: str) -> None:
    """Register a generic sequence-classification class for the family of the model in `path`, if it lacks one."""
    import transformers
    from transformers.modeling_layers import GenericForSequenceClassification

    config = transformers.AutoConfig.from_pretrained(path)
    auto = transformers.AutoModelForSequenceClassification
    if type(config) in auto._model_mapping:
        return
    causal = transformers.AutoModelForCausalLM._model_mapping.get(type(config), None)
    if causal is None:
        return  # not a causal LM either: let transformers raise its own error
    pretrained = next(c for c in causal.__mro__ if c.__name__.endswith("PreTrainedModel"))
    name = causal.__name__.replace("ForCausalLM", "ForSequenceClassification")
    cls = type(name, (GenericForSequenceClassification, pretrained), {"__module__": __name__})
    globals()[name] = cls  # importable by name, like transformers' own classes
    auto.register(type(config), cls, exist_ok=True)
