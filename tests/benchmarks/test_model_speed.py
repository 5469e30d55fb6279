"""The benchmark scripts' own logic (their figures are measured, never asserted)."""

import sys

from benchmarks import apertium, model_speed
from tests.helpers import random_ids, tiny_config
from transformer import Transformer


def test_without_the_checkpoint_the_benchmark_exits_2(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sys, "argv", ["apertium.py", "--checkpoint", str(tmp_path / "missing")])
    assert apertium.main() == 2
    assert "not a checkpoint folder" in capsys.readouterr().err


def test_the_cached_steps_products_are_the_linears_of_one_decoder_step():
    model = Transformer(tiny_config()).eval()
    calls = model_speed.step_products(model, random_ids(3, 7, 23))
    expected = [
        linear
        for layer in model.decoder_layers
        for linear in (
            layer.self_attn.k_proj,  # the new position's key and value go to the cache first
            layer.self_attn.v_proj,
            layer.self_attn.q_proj,
            layer.self_attn.out_proj,
            layer.cross_attn.q_proj,  # its keys and values were projected once per sentence, before
            layer.cross_attn.out_proj,
            layer.feed_forward.w1,
            layer.feed_forward.w2,
        )
    ] + [model.generator]
    assert [linear for linear, _ in calls] == expected  # in the step's order, the encoder's left out
    assert all(x.shape[:2] == (3, 1) for _, x in calls)  # one new position of each sentence
