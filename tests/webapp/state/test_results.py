"""webapp/state/results.py: the process's cache of translations, bounded by bytes."""

import functools

import torch

from tests.webapp.apptest import TOY
from transformer import load_checkpoint
from webapp.state import results as app_results


def test_the_result_cache_keeps_the_latest_results_within_its_bytes():
    cache = app_results.ResultCache(max_bytes=10_000)
    calls = []

    def compute(key):
        calls.append(key)
        return torch.full((1000,), float(key))  # 4,000 bytes

    for key in (1, 2, 1, 3):  # 1 is used again before 3 arrives: 2 is the least recently used
        assert cache.get(key, functools.partial(compute, key))[0] == key
    assert calls == [1, 2, 3] and list(cache.entries) == [1, 3]
    assert cache.bytes == 8000 <= cache.max_bytes
    cache.get(1, lambda: compute(1)).zero_()  # a caller's copy: changing it leaves the cache as it was
    assert cache.get(1, lambda: compute(1))[0] == 1 and calls == [1, 2, 3]
    cache.get(4, lambda: torch.zeros(5000))  # 20,000 bytes: more than the whole budget, not kept
    assert list(cache.entries) == [3, 1]


def test_a_translations_size_is_measured_by_its_attention_maps():
    translator = load_checkpoint(TOY)
    [translation] = translator.translate([" ".join("abcdefghij" * 10)])  # beyond max_len: the largest maps
    maps = sum(maps.nbytes for maps in translation.attention.values())
    assert maps > 100_000
    assert maps <= app_results.result_bytes((translation, [], 0.1)) <= 1.5 * maps
    assert app_results.RESULT_CACHE_BYTES <= 256 << 20  # with ~500 MB of its own, the server stays under 1 GB
