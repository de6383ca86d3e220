"""align.algos.logprobs.chunked_logprobs against the plain full-logits path, and its memory bound."""
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from align.algos.grpo import token_entropy
from align.algos.logprobs import chunked_logprobs

torch.set_num_threads(1)

B, T, H, V = 3, 7, 8, 97  # N = masked positions below; V distinct from every other size


def _inputs(dtype=torch.float32, seed=0, bias=False):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(B, T, H, generator=g).to(dtype).requires_grad_()
    weight = torch.randn(V, H, generator=g).to(dtype).requires_grad_()
    b = torch.randn(V, generator=g).to(dtype).requires_grad_() if bias else None
    labels = torch.randint(0, V, (B, T), generator=g)
    mask = torch.tensor([[0, 0, 1, 1, 0, 1, 1],  # prompt, then a gap inside the completion
                         [0, 1, 1, 1, 1, 1, 0],  # trailing padding
                         [1, 0, 0, 0, 0, 0, 1]], dtype=torch.bool)
    return hidden, weight, b, labels, mask


def _plain(hidden, weight, labels, mask, temperature=1.0, bias=None, softcap=None):
    """The reference: full [B, T, V] logits, fp32 log_softmax, gather, zero where unmasked."""
    logits = hidden @ weight.T
    if bias is not None:
        logits = logits + bias
    if softcap is not None:
        logits = softcap * torch.tanh(logits / softcap)
    logp = torch.log_softmax(logits.float() / temperature, -1).gather(-1, labels[..., None]).squeeze(-1)
    return logp * mask, logits


def _grads(out, *tensors):
    g = torch.Generator().manual_seed(1)
    upstream = torch.randn(out.shape, generator=g)  # a non-uniform upstream gradient
    return torch.autograd.grad((out * upstream).sum(), [t for t in tensors if t is not None])


N_MASKED = 11


@pytest.mark.parametrize("temperature", [1.0, 0.7, 1.5])
@pytest.mark.parametrize("chunk", [1, 3, 1024])
def test_values_and_grads_equal_plain_path(temperature, chunk):
    hidden, weight, _, labels, mask = _inputs()
    assert int(mask.sum()) == N_MASKED and chunk != N_MASKED
    ref, _ = _plain(hidden, weight, labels, mask, temperature)
    got, ent = chunked_logprobs(hidden, weight, labels, mask, temperature=temperature, chunk_tokens=chunk)
    assert ent is None
    assert got.dtype == torch.float32 and got.shape == (B, T)
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    assert torch.all(got[~mask] == 0) and torch.all(got[mask] < 0)
    got_grads = _grads(got, hidden, weight)
    for a, b in zip(got_grads, _grads(ref, hidden, weight)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    # unmasked hidden rows get no gradient
    assert torch.all(got_grads[0][~mask] == 0)


@pytest.mark.parametrize("chunk", [2, 64])
def test_bias_and_softcap_grads_equal_plain_path(chunk):
    hidden, weight, bias, labels, mask = _inputs(bias=True)
    ref, _ = _plain(hidden, weight, labels, mask, 0.8, bias=bias, softcap=5.0)
    got, _ = chunked_logprobs(hidden, weight, labels, mask, temperature=0.8, chunk_tokens=chunk, bias=bias,
                              softcap=5.0)
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    for a, b in zip(_grads(got, hidden, weight, bias), _grads(ref, hidden, weight, bias)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("temperature", [1.0, 0.6])
@pytest.mark.parametrize("chunk", [1, 3, 1024])
def test_entropy_matches_token_entropy(temperature, chunk):
    hidden, weight, _, labels, mask = _inputs(seed=2)
    ref_logp, logits = _plain(hidden, weight, labels, mask, temperature)
    ref_ent = token_entropy(logits.detach() / temperature)
    got, ent = chunked_logprobs(hidden, weight, labels, mask, temperature=temperature, chunk_tokens=chunk,
                                with_entropy=True)
    assert ent.shape == (B, T) and ent.dtype == torch.float32 and not ent.requires_grad
    torch.testing.assert_close(ent[mask], ref_ent[mask], atol=1e-5, rtol=1e-5)
    assert torch.all(ent[~mask] == 0)
    # asking for the entropy changes neither the log-probs nor their gradients
    torch.testing.assert_close(got, ref_logp, atol=1e-5, rtol=1e-5)
    for a, b in zip(_grads(got, hidden, weight), _grads(ref_logp, hidden, weight)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_no_grad_and_empty_mask():
    hidden, weight, _, labels, mask = _inputs()
    ref, _ = _plain(hidden, weight, labels, mask, 0.9)
    with torch.no_grad():
        got, ent = chunked_logprobs(hidden, weight, labels, mask, temperature=0.9, chunk_tokens=4, with_entropy=True)
    assert not got.requires_grad
    torch.testing.assert_close(got, ref.detach(), atol=1e-5, rtol=1e-5)
    # nothing to score: zeros, still connected to the graph so backward() works
    empty = torch.zeros(B, T, dtype=torch.bool)
    got, ent = chunked_logprobs(hidden, weight, labels, empty, with_entropy=True)
    assert torch.all(got == 0) and torch.all(ent == 0)
    got.sum().backward()
    assert torch.all(hidden.grad == 0)


def test_bf16_runs_and_is_close():
    hidden, weight, _, labels, mask = _inputs(dtype=torch.bfloat16)
    got, ent = chunked_logprobs(hidden, weight, labels, mask, temperature=0.7, chunk_tokens=3, with_entropy=True)
    assert got.dtype == torch.float32 and ent.dtype == torch.float32
    gh, gw = _grads(got, hidden, weight)
    assert gh.dtype == torch.bfloat16 and gw.dtype == torch.bfloat16
    # against the fp32 computation on the same (bf16-rounded) values
    h32, w32 = hidden.detach().float().requires_grad_(), weight.detach().float().requires_grad_()
    ref, logits = _plain(h32, w32, labels, mask, 0.7)
    torch.testing.assert_close(got, ref, atol=0.1, rtol=0.02)
    torch.testing.assert_close(ent[mask], token_entropy(logits.detach() / 0.7)[mask], atol=0.05, rtol=0.02)
    rh, rw = _grads(ref, h32, w32)
    torch.testing.assert_close(gh.float(), rh, atol=0.05, rtol=0.05)
    torch.testing.assert_close(gw.float(), rw, atol=0.05, rtol=0.05)


def test_shape_errors():
    hidden, weight, _, labels, mask = _inputs()
    with pytest.raises(ValueError):
        chunked_logprobs(hidden[0], weight, labels, mask)
    with pytest.raises(ValueError):
        chunked_logprobs(hidden, weight[:, :4], labels, mask)
    with pytest.raises(ValueError):
        chunked_logprobs(hidden, weight, labels, mask, chunk_tokens=0)


# ---------------------------------------------------------------------------------------- memory bound
CHUNK = 3


def _vocab_rows(shape) -> int:
    """Rows of a vocabulary-sized tensor: numel / V for a tensor with a V-sized dim, else 0."""
    if V not in shape:
        return 0
    n = 1
    for s in shape:
        n *= s
    return n // V


def _saved_shapes(fn) -> list[tuple]:
    """Shapes of every tensor autograd saves for backward while fn() runs."""
    shapes = []

    def pack(t):
        shapes.append(tuple(t.shape))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return shapes


def test_saved_for_backward_is_at_most_one_chunk_of_vocab():
    """What autograd holds between forward and backward: no [rows, V] tensor, nor chunks adding up to one."""
    hidden, weight, _, labels, mask = _inputs()
    shapes = _saved_shapes(lambda: chunked_logprobs(hidden, weight, labels, mask, chunk_tokens=CHUNK,
                                                    with_entropy=True))
    assert shapes, "the hook saw nothing: the test would prove nothing"
    # the [V, H] lm_head weight (or its transpose) is saved by reference, not per scored row: allowed
    per_row = [s for s in shapes if sorted(s) != sorted((V, H))]
    assert max(_vocab_rows(s) for s in per_row) <= CHUNK, shapes
    assert sum(_vocab_rows(s) for s in per_row) <= CHUNK, shapes  # not one chunk's logits per chunk either
    # negative control: the plain path saves [B, T, V] fp32 tensors (B*T = 21 > CHUNK rows of V)
    plain = _saved_shapes(lambda: _plain(hidden, weight, labels, mask))
    assert any(_vocab_rows(s) == B * T for s in plain), plain


class _RecordShapes(TorchDispatchMode):
    """Records the shape of every tensor any aten op returns (forward and backward)."""

    def __init__(self):
        super().__init__()
        self.shapes = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for o in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(o, torch.Tensor):
                self.shapes.append((str(func), tuple(o.shape)))
        return out


def _largest_vocab_tensor(fn) -> int:
    rec = _RecordShapes()
    with rec:
        fn()
    assert len(rec.shapes) > 20, "the dispatch mode saw almost nothing: the test would prove nothing"
    # the [V, H] weight, its transpose and its gradient are vocabulary-sized but not per-row
    return max(_vocab_rows(s) for f, s in rec.shapes if sorted(s) != sorted((V, H)))


def test_no_op_builds_more_than_one_chunk_of_vocab_forward_and_backward():
    hidden, weight, _, labels, mask = _inputs()

    def chunked():
        logp, _ = chunked_logprobs(hidden, weight, labels, mask, chunk_tokens=CHUNK, with_entropy=True)
        logp.sum().backward()

    def plain():
        logp, _ = _plain(hidden, weight, labels, mask)
        logp.sum().backward()

    assert _largest_vocab_tensor(chunked) == CHUNK
    assert _largest_vocab_tensor(plain) == B * T  # negative control


def test_a_head_module_gives_the_weight_path_values_and_gradients():
    """The trainer passes the lm_head module itself (so ZeRO-3 gathers its weight): same numbers."""
    g = torch.Generator().manual_seed(7)
    head = torch.nn.Linear(6, 11, bias=False)
    hidden = torch.randn(2, 5, 6, generator=g, requires_grad=True)
    labels = torch.randint(0, 11, (2, 5), generator=g)
    mask = torch.tensor([[0, 1, 1, 0, 1], [1, 1, 0, 0, 0]]).bool()
    a, _ = chunked_logprobs(hidden, head, labels, mask, temperature=0.7, chunk_tokens=2)
    a.sum().backward()
    grads = hidden.grad.clone(), head.weight.grad.clone()
    hidden.grad, head.weight.grad = None, None
    b, _ = chunked_logprobs(hidden, head.weight, labels, mask, temperature=0.7, chunk_tokens=2)
    b.sum().backward()
    assert torch.allclose(a, b, atol=1e-6)
    assert torch.allclose(grads[0], hidden.grad, atol=1e-6) and torch.allclose(grads[1], head.weight.grad, atol=1e-6)
