"""Epoch size of a weighted mixture and length-grouped batch order."""
from align.data.chat import Encoded
from align.data.mixture import covering_size, group_by_length, sample_epoch


def test_covering_size_shows_every_item_of_every_source():
    # 4:1 over 2663 helpful + 990 safety: safety needs 990 / 0.2 = 4950 samples per epoch
    assert covering_size([2663, 990], [4, 1]) == 4950
    # the helpful side binds when it is the larger share of the items: 4000 / 0.8 = 5000
    assert covering_size([4000, 990], [4, 1]) == 5000
    assert covering_size([10], [1]) == 10
    assert covering_size([10, 5], [1, 0]) == 10  # a zero-weight source does not count
    pools = [list(range(2663)), list(range(10_000, 10_990))]
    epoch = sample_epoch(pools, [4, 1], covering_size([2663, 990], [4, 1]), seed=0, epoch=0)
    assert set(range(10_000, 10_990)) <= set(epoch) and set(range(2663)) <= set(epoch)


def _enc(n: int, tag: int) -> Encoded:
    return Encoded((tag,) * n, (1,) * n)


def test_group_by_length_keeps_items_and_cuts_padding():
    import random

    r = random.Random(0)
    items = [_enc(r.randint(5, 200), i) for i in range(640)]
    grouped = group_by_length(items, batch_size=16, seed=0, epoch=0)
    assert sorted(e.input_ids[0] for e in grouped) == list(range(640))  # a permutation
    assert grouped == group_by_length(items, batch_size=16, seed=0, epoch=0)  # deterministic
    assert grouped != group_by_length(items, batch_size=16, seed=0, epoch=1)

    def padded(seq):
        return sum(16 * max(len(e.input_ids) for e in seq[i : i + 16]) for i in range(0, len(seq), 16))

    real = sum(len(e.input_ids) for e in items)
    assert real / padded(grouped) > 0.9 > real / padded(items)
