import json

import pytest

from align.data.chat import DataError, encode_messages, encode_prompt, pack
from align.data.loaders import load_examples
from align.data.mixture import mixture_counts, sample_epoch

CONV = [{"role": "user", "content": "How do I kill a Python process?"},
        {"role": "assistant", "content": "Use kill with the PID."}]


def test_encoding_equals_chat_template(small_tokenizer):
    tok = small_tokenizer
    enc = encode_messages(tok, CONV, 512)
    assert list(enc.input_ids) == tok.apply_chat_template(CONV, tokenize=True, return_dict=False)
    text = tok.decode(enc.input_ids)
    assert text == "<|bos|><|user|>How do I kill a Python process?<|end|><|assistant|>Use kill with the PID.<|end|>"
    prompt = encode_prompt(tok, CONV[:1])
    assert prompt == tok.apply_chat_template(CONV[:1], tokenize=True, add_generation_prompt=True, return_dict=False)
    assert list(enc.input_ids[: len(prompt)]) == prompt


def test_assistant_mask_hand_worked(small_tokenizer):
    tok = small_tokenizer
    user = tok.encode(CONV[0]["content"], add_special_tokens=False)
    reply = tok.encode(CONV[1]["content"], add_special_tokens=False)
    enc = encode_messages(tok, CONV, 512)
    # <bos> <user> u... <end> <assistant> r... <end>
    expected = [0] + [0] + [0] * len(user) + [0] + [0] + [1] * len(reply) + [1]
    assert list(enc.loss_mask) == expected
    assert 0 < sum(enc.loss_mask) < len(enc.loss_mask)  # never silently all-ones
    masked = [t for t, m in zip(enc.input_ids, enc.loss_mask) if m]
    assert tok.decode(masked) == "Use kill with the PID.<|end|>"
    # HF's own generation-marked template mask agrees
    hf = tok.apply_chat_template(CONV, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    hf_mask = hf["assistant_masks"]
    assert [i for i, m in enumerate(hf_mask) if m] == [i for i, m in enumerate(enc.loss_mask) if m]


def test_loss_on_all_and_truncation(small_tokenizer):
    enc = encode_messages(small_tokenizer, CONV, 512, loss_on="all")
    assert enc.loss_mask[0] == 0 and all(enc.loss_mask[1:])
    short = encode_messages(small_tokenizer, CONV, 5)
    assert len(short.input_ids) == 5 and len(short.loss_mask) == 5


def test_pack_blocks():
    blocks = pack([[1, 2, 3], [4, 5, 6, 7]], 3)
    assert [b.input_ids for b in blocks] == [(1, 2, 3), (4, 5, 6), (7,)][:2]
    assert blocks[0].loss_mask == (0, 1, 1)


@pytest.mark.parametrize("row,needle", [
    ({"messages": [{"role": "assistant", "content": "hi"}]}, "field `messages` has roles ['assistant']"),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}, "roles ['user', 'user']"),
    ({"messages": [{"role": "user"}]}, "field `messages[0]` must have `role` and `content`"),
    ({"prompt": "q"}, "field `completion` is missing or empty"),
    ({"question": "q"}, "no `messages`, `prompt`/`completion` or `text` field"),
    ({"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "x"}]}, "messages[0].content` must be a string"),
])
def test_broken_rows_named_by_file_row_field(tmp_path, row, needle):
    good = {"messages": CONV}
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(DataError) as exc:
        load_examples(str(path))
    assert f"{path} row 2" in str(exc.value) and needle in str(exc.value)


def test_prompt_completion_formats(tmp_path):
    path = tmp_path / "pc.jsonl"
    rows = [{"prompt": "q1", "completion": "a1"},
            {"prompt": [{"role": "user", "content": "q2"}], "completion": [{"role": "assistant", "content": "a2"}]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ex = load_examples(str(path))
    assert ex[0]["messages"] == [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"}]
    assert ex[1]["messages"][1]["content"] == "a2"


def test_parquet_and_missing_file(tmp_path):
    import datasets

    datasets.Dataset.from_list([{"text": "hello world"}]).to_parquet(str(tmp_path / "t.parquet"))
    assert load_examples(str(tmp_path / "t.parquet")) == [{"text": "hello world"}]
    with pytest.raises(DataError, match="does not exist"):
        load_examples(str(tmp_path / "nope.jsonl"))


def test_mixture_ratio_and_determinism():
    assert mixture_counts([100, 100], [4, 1], 50) == [40, 10]
    assert sum(mixture_counts([3, 3, 3], [1, 1, 1], 10)) == 10
    a, b = list(range(10)), list(range(100, 103))
    e0 = sample_epoch([a, b], [4, 1], 10, seed=0, epoch=0)
    assert e0 == sample_epoch([a, b], [4, 1], 10, seed=0, epoch=0)
    assert e0 != sample_epoch([a, b], [4, 1], 10, seed=0, epoch=1)
    assert sum(x >= 100 for x in e0) == 2 and len(set(x for x in e0 if x < 100)) == 8
    up = sample_epoch([a, b], [1, 1], 20, seed=0, epoch=0)  # b upsampled: 10 from 3 items
    assert sum(x >= 100 for x in up) == 10 and set(x for x in up if x >= 100) == set(b)


@pytest.fixture(scope="module")
def smol_tokenizer():
    from transformers import AutoTokenizer

    from align.models import smollm2

    return AutoTokenizer.from_pretrained(smollm2.path())


def test_chatml_without_generation_markers_masks_each_assistant_turn(smol_tokenizer):
    tok = smol_tokenizer
    assert "{% generation %}" not in tok.chat_template  # HF's assistant mask cannot be used here
    conv = CONV + [{"role": "user", "content": "And on Windows?"}, {"role": "assistant", "content": "Use taskkill."}]
    enc = encode_messages(tok, conv, 512)
    assert list(enc.input_ids) == tok.encode(tok.apply_chat_template(conv, tokenize=False), add_special_tokens=False)
    text = tok.decode(enc.input_ids)
    assert text.startswith("<|im_start|>system\n") and "<|im_start|>user\nHow do I kill a Python process?<|im_end|>\n" in text
    runs, cur = [], []
    for t, m in zip(enc.input_ids, enc.loss_mask):
        if m:
            cur.append(t)
        elif cur:
            runs, cur = runs + [cur], []
    runs += [cur] if cur else []
    assert [tok.decode(r) for r in runs] == ["Use kill with the PID.<|im_end|>\n", "Use taskkill.<|im_end|>\n"]
    prompt = encode_prompt(tok, conv[:1])
    assert tok.decode(prompt).endswith("<|im_start|>assistant\n") and list(enc.input_ids[: len(prompt)]) == prompt


def test_template_that_rewrites_earlier_turns_is_refused(small_tokenizer):
    import copy

    tok = copy.deepcopy(small_tokenizer)
    tok.chat_template = "{{ bos_token }}{{ messages[-1]['content'] }}{% if add_generation_prompt %}<|assistant|>{% endif %}"
    with pytest.raises(DataError, match="does not render the first 1 message"):
        encode_messages(tok, CONV, 512)
    tok.chat_template = None
    with pytest.raises(DataError, match="has no chat template"):
        encode_prompt(tok, CONV[:1])
