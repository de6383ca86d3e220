"""Reward models for causal-LM families transformers ships without a sequence-classification class (GLM-4-MoE,
the `builtin:smollm2-moe` layout): engine.seq_cls builds and registers one; a saved reward model loads back and
scores the same. Negative control: without the registration transformers refuses the config."""
import pytest
import torch


def _tiny_glm4_moe(folder):
    import transformers

    cfg = transformers.Glm4MoeConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                     num_attention_heads=4, num_key_value_heads=2, head_dim=8, moe_intermediate_size=16,
                                     n_routed_experts=4, num_experts_per_tok=2, first_k_dense_replace=1, pad_token_id=0,
                                     num_mtp_layers=0)
    transformers.Glm4MoeForCausalLM(cfg).save_pretrained(folder)
    return str(folder)


def test_a_glm4_moe_reward_model_saves_and_loads(tmp_path):
    import transformers

    from engine.seq_cls import register_for

    path = _tiny_glm4_moe(tmp_path / "lm")
    if type(transformers.AutoConfig.from_pretrained(path)) not in transformers.AutoModelForSequenceClassification._model_mapping:
        with pytest.raises(ValueError, match="Unrecognized configuration class"):
            transformers.AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    register_for(path)
    rm = transformers.AutoModelForSequenceClassification.from_pretrained(path, num_labels=1).eval()
    assert type(rm).__name__ == "Glm4MoeForSequenceClassification"
    ids = torch.tensor([[5, 6, 7, 8, 0, 0], [9, 10, 11, 12, 13, 14]])
    mask = (ids != 0).long()
    with torch.no_grad():
        a = rm(input_ids=ids, attention_mask=mask).logits[:, 0]
    rm.save_pretrained(tmp_path / "rm")
    again = transformers.AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "rm")).eval()
    with torch.no_grad():
        assert torch.equal(again(input_ids=ids, attention_mask=mask).logits[:, 0], a)
    assert a[0] != a[1]
