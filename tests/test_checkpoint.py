import json

import pytest
import torch

from conftest import ROOT
from transformer import CheckpointError, load_checkpoint, save_checkpoint
from transformer.checkpoint import load_attention_history, load_dev_sample, load_model, write_dev_sample


def test_round_trip_reproduces_outputs_exactly(tiny_checkpoint):
    model, tokenizer, info = load_model(tiny_checkpoint)
    again, _, _ = load_model(tiny_checkpoint)
    src, tgt = torch.randint(3, tokenizer.vocab_size, (2, 6)), torch.randint(3, tokenizer.vocab_size, (2, 4))
    assert torch.equal(model(src, tgt), again(src, tgt))
    save_checkpoint(tiny_checkpoint.parent / "copy", model, tokenizer, info, dtype=torch.float32)
    copy, _, copy_info = load_model(tiny_checkpoint.parent / "copy")
    assert torch.equal(copy(src, tgt), model(src, tgt))
    assert copy_info["decoding"] == info["decoding"]


def test_float16_weights_are_upcast(tiny_checkpoint):
    model, tokenizer, info = load_model(tiny_checkpoint)
    save_checkpoint(tiny_checkpoint.parent / "half", model, tokenizer, info)  # float16 by default
    half, _, _ = load_model(tiny_checkpoint.parent / "half")
    assert all(p.dtype == torch.float32 for p in half.parameters())
    src, tgt = torch.randint(3, tokenizer.vocab_size, (1, 5)), torch.randint(3, tokenizer.vocab_size, (1, 3))
    torch.testing.assert_close(half(src, tgt), model(src, tgt), atol=5e-2, rtol=0)
    assert (tiny_checkpoint.parent / "half" / "model.safetensors").stat().st_size < (
        tiny_checkpoint / "model.safetensors"
    ).stat().st_size * 0.6


@pytest.mark.parametrize(
    "damage, file, problem",
    [
        (lambda f: (f / "config.json").unlink(), "config.json", "missing"),
        (lambda f: (f / "config.json").write_text("{not json"), "config.json", "not valid JSON"),
        (lambda f: (f / "model.safetensors").unlink(), "model.safetensors", "missing"),
        (lambda f: (f / "tokenizer.json").unlink(), "tokenizer.json", "missing"),
        (lambda f: (f / "tokenizer.json").write_text("[]"), "tokenizer.json", "not a valid tokenizer"),
        (
            lambda f: (f / "model.safetensors").write_bytes((f / "model.safetensors").read_bytes()[:300]),
            "model.safetensors",
            "corrupt or truncated",
        ),
        (
            lambda f: (f / "model.safetensors").write_bytes(b"\x80\x04\x95pickle"),
            "model.safetensors",
            "corrupt or truncated",
        ),
    ],
)
def test_damaged_files_give_one_line_naming_the_file(tiny_checkpoint, damage, file, problem):
    damage(tiny_checkpoint)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(tiny_checkpoint)
    message = str(error.value)
    assert file in message and problem in message and "\n" not in message


def edit_config(folder, **model_changes):
    config = json.loads((folder / "config.json").read_text())
    config["model"].update(model_changes)
    (folder / "config.json").write_text(json.dumps(config))


def test_mismatched_shapes_and_vocab_are_reported(tiny_checkpoint):
    edit_config(tiny_checkpoint, d_ff=64)
    with pytest.raises(CheckpointError, match=r"model.safetensors: tensor .* has shape"):
        load_checkpoint(tiny_checkpoint)
    edit_config(tiny_checkpoint, d_ff=48, src_vocab_size=99, tgt_vocab_size=99)
    with pytest.raises(CheckpointError, match="tokenizer.json: vocabulary of"):
        load_checkpoint(tiny_checkpoint)
    edit_config(tiny_checkpoint, src_vocab_size=40, tgt_vocab_size=40, n_decoder_layers=3)
    with pytest.raises(CheckpointError, match="missing tensor"):
        load_checkpoint(tiny_checkpoint)
    edit_config(tiny_checkpoint, n_decoder_layers=2, n_heads=5)
    with pytest.raises(CheckpointError, match="config.json: invalid model settings"):
        load_checkpoint(tiny_checkpoint)


def test_missing_folder(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint folder not found"):
        load_checkpoint(tmp_path / "nope")


def test_attention_history_of_the_toy_checkpoint():
    history = load_attention_history(ROOT / "checkpoints" / "toy-reverse")
    assert history.steps == sorted(history.steps) and len(history.steps) >= 5
    probe = history.probes[0]
    cross = history.at(history.steps[-1], 0, "cross")
    assert cross.dtype == torch.float32
    assert cross.shape[-2:] == (len(probe["target_tokens"]), len(probe["source_tokens"]))
    torch.testing.assert_close(cross.sum(-1), torch.ones(cross.shape[:-1]), atol=1e-2, rtol=0)


def test_missing_attention_history_is_none(tiny_checkpoint):
    assert load_attention_history(tiny_checkpoint) is None
    (tiny_checkpoint / "attention_history.safetensors").write_bytes(b"junk")
    (tiny_checkpoint / "attention_history.json").write_text('{"steps": [], "probes": []}')
    with pytest.raises(CheckpointError, match="attention_history.safetensors"):
        load_attention_history(tiny_checkpoint)


def test_dev_sample_round_trip(tiny_checkpoint):
    assert load_dev_sample(tiny_checkpoint) == []
    write_dev_sample(tiny_checkpoint, [("a\tb", "c\nd"), ("ü", "ß")])
    assert load_dev_sample(tiny_checkpoint) == [("a b", "c d"), ("ü", "ß")]
    (tiny_checkpoint / "dev_sample.tsv").write_text("no tab\n")
    with pytest.raises(CheckpointError, match="dev_sample.tsv"):
        load_dev_sample(tiny_checkpoint)
