import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from tests.helpers import ROOT, tiny_config
from transformer import CheckpointError, Transformer, checkpoint, load_checkpoint, save_checkpoint
from transformer.checkpoint import (
    CONFIG_FILE,
    HISTORY_FILE,
    HISTORY_INDEX,
    SAMPLE_FILE,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    load_attention_history,
    load_dev_sample,
    load_model,
    write_dev_sample,
)


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
    assert (tiny_checkpoint.parent / "half" / WEIGHTS_FILE).stat().st_size < (
        tiny_checkpoint / WEIGHTS_FILE
    ).stat().st_size * 0.6


def replaced(name: str, make):
    """A damage: the file removed and make(its path) put in its place."""

    def damage(folder):
        (folder / name).unlink()
        make(folder / name)

    return damage


@pytest.mark.parametrize(
    "damage, file, problem",
    [
        (lambda f: (f / CONFIG_FILE).unlink(), CONFIG_FILE, "missing"),
        (lambda f: (f / CONFIG_FILE).write_text("{not json"), CONFIG_FILE, "not valid JSON"),
        (lambda f: (f / WEIGHTS_FILE).unlink(), WEIGHTS_FILE, "missing"),
        (lambda f: (f / TOKENIZER_FILE).unlink(), TOKENIZER_FILE, "missing"),
        (lambda f: (f / TOKENIZER_FILE).write_text("[]"), TOKENIZER_FILE, "not a valid tokenizer"),
        (
            lambda f: (f / WEIGHTS_FILE).write_bytes((f / WEIGHTS_FILE).read_bytes()[:300]),
            WEIGHTS_FILE,
            "corrupt or truncated",
        ),
        (
            lambda f: (f / WEIGHTS_FILE).write_bytes(b"\x80\x04\x95pickle"),
            WEIGHTS_FILE,
            "corrupt or truncated",
        ),
        # Not a regular file: named for what it is, never read (/dev/zero would never end).
        (replaced(WEIGHTS_FILE, Path.mkdir), WEIGHTS_FILE, "a directory"),
        (replaced(WEIGHTS_FILE, lambda p: p.symlink_to("/dev/zero")), WEIGHTS_FILE, "outside its folder"),
        (replaced(WEIGHTS_FILE, os.mkfifo), WEIGHTS_FILE, "not a regular"),
        (replaced(TOKENIZER_FILE, lambda p: p.symlink_to(p)), TOKENIZER_FILE, "cannot be read"),
        (replaced(CONFIG_FILE, lambda p: p.symlink_to(p.parent / "gone.json")), CONFIG_FILE, "missing"),
    ],
)
def test_damaged_files_give_one_line_naming_the_file(tiny_checkpoint, damage, file, problem):
    damage(tiny_checkpoint)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(tiny_checkpoint)
    message = str(error.value)
    assert file in message and problem in message and "\n" not in message


def edit_config(folder, **model_changes):
    config = json.loads((folder / CONFIG_FILE).read_text())
    config["model"].update(model_changes)
    (folder / CONFIG_FILE).write_text(json.dumps(config))


def test_mismatched_shapes_and_vocab_are_reported(tiny_checkpoint):
    edit_config(tiny_checkpoint, d_ff=64)
    with pytest.raises(CheckpointError, match=rf"{WEIGHTS_FILE}: tensor .* has shape"):
        load_checkpoint(tiny_checkpoint)
    edit_config(tiny_checkpoint, d_ff=48, src_vocab_size=99, tgt_vocab_size=99)
    with pytest.raises(CheckpointError, match=f"{TOKENIZER_FILE}: vocabulary of"):
        load_checkpoint(tiny_checkpoint)
    edit_config(tiny_checkpoint, src_vocab_size=40, tgt_vocab_size=40, n_decoder_layers=3)
    with pytest.raises(CheckpointError, match="missing tensor"):
        load_checkpoint(tiny_checkpoint)
    edit_config(tiny_checkpoint, n_decoder_layers=2, n_heads=5)
    with pytest.raises(CheckpointError, match=f"{CONFIG_FILE}: invalid model settings"):
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
    (tiny_checkpoint / HISTORY_FILE).write_bytes(b"junk")
    (tiny_checkpoint / HISTORY_INDEX).write_text('{"steps": [], "probes": []}')
    with pytest.raises(CheckpointError, match=HISTORY_FILE):
        load_attention_history(tiny_checkpoint)


def test_dev_sample_round_trip(tiny_checkpoint):
    assert load_dev_sample(tiny_checkpoint) == []
    write_dev_sample(tiny_checkpoint, [("a\tb", "c\nd"), ("ü", "ß")])
    assert load_dev_sample(tiny_checkpoint) == [("a b", "c d"), ("ü", "ß")]
    (tiny_checkpoint / SAMPLE_FILE).write_text("no tab\n")
    with pytest.raises(CheckpointError, match=SAMPLE_FILE):
        load_dev_sample(tiny_checkpoint)


def edit_top(folder, **changes):
    config = json.loads((folder / CONFIG_FILE).read_text())
    config.update(changes)
    (folder / CONFIG_FILE).write_text(json.dumps(config))


@pytest.mark.parametrize(
    "edit, changes, field",
    [
        (edit_config, {"n_heads": 0}, "n_heads"),
        (edit_config, {"n_heads": 5}, "n_heads"),
        (edit_config, {"d_model": 32.0}, "d_model"),
        (edit_config, {"d_ff": -48}, "d_ff"),
        (edit_config, {"dropout": "0.1"}, "dropout"),
        (edit_config, {"max_len": "40"}, "max_len"),
        (edit_config, {"max_len": 0}, "max_len"),
        (edit_config, {"max_len": 10**13}, "max_len"),
        (edit_config, {"n_encoder_layers": "2"}, "n_encoder_layers"),
        (edit_config, {"n_decoder_layers": True}, "n_decoder_layers"),
        (edit_config, {"pad_id": 99}, "pad_id"),
        (edit_config, {"eos_id": 99}, "eos_id"),
        (edit_config, {"pre_norm": "no"}, "pre_norm"),
        (edit_config, {"colour": "blue"}, "colour"),
        (edit_top, {"tokenizer": 123}, "tokenizer"),
        (edit_top, {"tokenizer": None}, "tokenizer"),
        (edit_top, {"tokenizer": "../../../../../../etc/passwd"}, "tokenizer"),
        (edit_top, {"tokenizer": "/etc/passwd"}, "tokenizer"),
        (edit_top, {"decoding": []}, "decoding"),
        (edit_top, {"decoding": {"beam_size": None}}, "beam_size"),
        (edit_top, {"decoding": {"beam_size": "four"}}, "beam_size"),
        (edit_top, {"decoding": {"beam_size": 0}}, "beam_size"),
        (edit_top, {"decoding": {"max_len_b": "x"}}, "max_len_b"),
        (edit_top, {"decoding": {"max_len_a": -1}}, "max_len_a"),
        (edit_top, {"source_language": ["en"]}, "source_language"),
        (edit_top, {"training": "long"}, "training"),
        (edit_top, {"format_version": 2}, "format_version"),
        (edit_top, {"model": None}, "model"),
    ],
)
def test_every_config_field_is_checked_naming_file_and_field(tiny_checkpoint, edit, changes, field):
    edit(tiny_checkpoint, **changes)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(tiny_checkpoint)
    message = str(error.value)
    assert str(tiny_checkpoint / CONFIG_FILE) in message and field in message and "\n" not in message


def test_a_tokenizer_outside_the_folder_is_never_opened(tiny_checkpoint):
    outside = tiny_checkpoint.parent / "elsewhere.json"
    outside.write_text((tiny_checkpoint / TOKENIZER_FILE).read_text())  # a valid tokenizer, but not ours
    edit_top(tiny_checkpoint, tokenizer="../elsewhere.json")
    with pytest.raises(CheckpointError, match="inside the folder"):
        load_checkpoint(tiny_checkpoint)
    edit_top(tiny_checkpoint, tokenizer=f"./{TOKENIZER_FILE}")  # inside, spelled differently: fine
    assert load_checkpoint(tiny_checkpoint).tokenizer.vocab_size > 0


def test_a_file_larger_than_its_kind_allows_is_not_read(tiny_checkpoint, monkeypatch):
    monkeypatch.setattr(checkpoint, "MAX_TEXT_BYTES", 100)
    with pytest.raises(CheckpointError, match=rf"{CONFIG_FILE}: [\d,]+ bytes, more than the 100"):
        load_checkpoint(tiny_checkpoint)


def test_a_source_vocabulary_unlike_the_tokenizers_is_reported(tmp_path, word_tokenizer):
    """Untied embeddings may differ in size on paper, but the one tokenizer feeds both sides: a
    smaller source table would fail at the first translation with an IndexError."""
    vocab = word_tokenizer.vocab_size
    model = Transformer(tiny_config(src_vocab_size=vocab - 5, tgt_vocab_size=vocab)).eval()
    save_checkpoint(tmp_path / "ckpt", model, word_tokenizer, {}, dtype=torch.float32)
    with pytest.raises(CheckpointError, match=f"vocabulary of {vocab} tokens does not match src_vocab_size"):
        load_checkpoint(tmp_path / "ckpt")


def test_a_tied_weight_stored_under_both_names_is_reported(tiny_checkpoint):
    model, _, _ = load_model(tiny_checkpoint)
    weights = tiny_checkpoint / WEIGHTS_FILE
    save_file({name: tensor.clone() for name, tensor in model.state_dict().items()}, weights)  # 3 copies
    with pytest.raises(CheckpointError, match=f"{WEIGHTS_FILE}: unexpected tensor 'generator.weight'"):
        load_checkpoint(tiny_checkpoint)


def test_leftovers_of_a_killed_writer_are_removed_and_nothing_else(tmp_path):
    """Issue #28: a kill during export left .NAME.xxxxxxxx.tmp for good; the next export removes it."""
    for name in (".en-de.abcd_123.tmp", ".en-de.old-4242", ".config.json.x1y2z3w4.tmp"):
        (tmp_path / name).mkdir()
    for kept in ("en-de", ".en-de-2.abcd_123.tmp", ".hidden", "notes.tmp"):
        (tmp_path / kept).mkdir()
    checkpoint.remove_leftovers(tmp_path, "en\\-de")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".config.json.x1y2z3w4.tmp", "en-de", ".en-de-2.abcd_123.tmp", ".hidden", "notes.tmp"]
    )
    checkpoint.remove_leftovers(tmp_path)
    assert ".config.json.x1y2z3w4.tmp" not in {p.name for p in tmp_path.iterdir()}


def test_no_file_of_a_checkpoint_is_read_through_a_link_out_of_its_folder(tiny_checkpoint, tmp_path):
    outside = tmp_path / "elsewhere.tsv"
    outside.write_text("a\tb\n")
    (tiny_checkpoint / SAMPLE_FILE).symlink_to(outside)
    with pytest.raises(CheckpointError, match="outside its folder"):
        load_dev_sample(tiny_checkpoint)
