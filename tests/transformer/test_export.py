"""Export (transformer.export): the snapshots a run keeps, their average (§6.1), and the probes'
attention history, on stand-in runs: only the fields export reads."""

import json
import shutil
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file, save_file

import transformer.export
from tests.helpers import tiny_config
from tests.transformer.tiny_run import write_recipe
from transformer import CheckpointError, Transformer, load_checkpoint
from transformer.checkpoint import (
    CARD_FILE,
    HISTORY_FILE,
    HISTORY_INDEX,
    METRICS_FILE,
    PROBE_DIR,
    SNAPSHOT_DIR,
    unique_state_dict,
)
from transformer.export import average_snapshots, export_probes, save_snapshot, step_file, step_files
from transformer.recipe import Recipe
from transformer.training import TrainingRun


def stand_in_run(tmp_path, average_last=2, **fields) -> SimpleNamespace:
    config = tiny_config(src_vocab_size=30, tgt_vocab_size=30, tie_embeddings=True)
    return SimpleNamespace(
        run_dir=tmp_path / "run",
        config=config,
        model=Transformer(config),
        step=0,
        settings=SimpleNamespace(average_last=average_last),
        say=lambda message: None,
        **fields,
    )


def test_step_files_come_back_by_step_with_their_steps(tmp_path):
    for step in (120, 5, 40):
        step_file(tmp_path, step).write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a step")
    assert step_files(tmp_path) == [
        (5, step_file(tmp_path, 5)),
        (40, step_file(tmp_path, 40)),
        (120, step_file(tmp_path, 120)),
    ]


def test_only_the_last_average_last_snapshots_are_kept(tmp_path):
    run = stand_in_run(tmp_path, average_last=3)
    for step in range(1, 6):
        run.step = step
        save_snapshot(run)
    assert [step for step, _ in step_files(run.run_dir / SNAPSHOT_DIR)] == [3, 4, 5]


def test_the_exported_weights_are_the_mean_of_the_last_snapshots(tmp_path):
    run = stand_in_run(tmp_path, average_last=2)
    weights = []
    for step in (1, 2, 3):
        torch.manual_seed(step)
        run.model = Transformer(run.config)  # other weights at every snapshot
        run.step = step
        save_snapshot(run)
        weights.append(unique_state_dict(run.model))
    averaged = unique_state_dict(average_snapshots(run))
    assert averaged.keys() == weights[0].keys()
    for name, tensor in averaged.items():
        torch.testing.assert_close(tensor, (weights[1][name] + weights[2][name]) / 2, msg=name)


def test_without_snapshots_the_model_is_exported_as_it_is(tmp_path):
    run = stand_in_run(tmp_path)
    assert average_snapshots(run) is run.model


def test_the_probe_history_gathers_every_evaluation_in_step_order(tmp_path, word_tokenizer):
    source_ids, output_ids = word_tokenizer.encode("a b c") + [2], word_tokenizer.encode("c b a") + [2]
    run = stand_in_run(
        tmp_path,
        probes=[("a b c", "c b a")],
        probe_ids=lambda source, reference: (source_ids, output_ids),
        tokenizer=word_tokenizer,
    )
    maps = {step: torch.rand(1, 2, 4, 4).half() for step in (200, 100)}
    for step, cross in maps.items():
        (run.run_dir / PROBE_DIR).mkdir(parents=True, exist_ok=True)
        save_file({"probe0.cross": cross}, step_file(run.run_dir / PROBE_DIR, step))
    export_probes(run, tmp_path)
    index = json.loads((tmp_path / HISTORY_INDEX).read_text())
    assert index["steps"] == [100, 200]
    [probe] = index["probes"]
    assert probe["source_tokens"] == ["a", "b", "c", "</s>"]
    assert probe["target_tokens"] == ["<s>", "c", "b", "a"]  # the decoder's inputs: BOS, then the reference
    history = load_file(tmp_path / HISTORY_FILE)
    assert sorted(history) == ["step100.probe0.cross", "step200.probe0.cross"]
    assert torch.equal(history["step100.probe0.cross"], maps[100])


def test_a_run_without_probe_maps_writes_no_history(tmp_path):
    run = stand_in_run(tmp_path, probes=[], probe_ids=None, tokenizer=None)
    export_probes(run, tmp_path)
    assert not (tmp_path / HISTORY_FILE).exists() and not (tmp_path / HISTORY_INDEX).exists()


@pytest.fixture
def trained(tmp_path):
    """A tiny run at its last step, exported once; a README.md written by hand beside the export."""
    run = TrainingRun(Recipe.load(write_recipe(tmp_path, steps=10)), data_dir=tmp_path, progress=False)
    run.run()
    run.export()
    (tmp_path / "checkpoint" / CARD_FILE).write_text("model card\n")
    return run


def test_export_replaces_the_folder_whole_and_keeps_the_model_card(trained, tmp_path, monkeypatch):
    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # as if the process were stopped while scoring, before metrics.json

    monkeypatch.setattr(transformer.export, "evaluate", killed)
    (tmp_path / "checkpoint" / METRICS_FILE).write_text('{"dev": {"bleu": 12.5}}')
    with pytest.raises(KeyboardInterrupt):
        trained.export()
    assert json.loads((tmp_path / "checkpoint" / METRICS_FILE).read_text()) == {"dev": {"bleu": 12.5}}  # untouched
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no half-written folder left
    shutil.rmtree(tmp_path / "checkpoint")
    with pytest.raises(KeyboardInterrupt):
        trained.export()
    assert not (tmp_path / "checkpoint").exists()  # no folder rather than one without metrics.json
    monkeypatch.undo()
    (tmp_path / "checkpoint").mkdir()
    (tmp_path / "checkpoint" / CARD_FILE).write_text("model card\n")
    trained.export()
    assert (tmp_path / "checkpoint" / CARD_FILE).read_text() == "model card\n"
    assert "dev" in json.loads((tmp_path / "checkpoint" / METRICS_FILE).read_text())
    assert load_checkpoint(tmp_path / "checkpoint").info["training"]["steps"] == 10


def test_averaging_refuses_snapshots_that_do_not_fit_the_model(trained, tmp_path):
    [oldest, *_] = sorted((tmp_path / "run" / SNAPSHOT_DIR).glob("step-*.safetensors"))
    tensors = load_file(oldest)
    dropped = sorted(tensors)[-1]
    save_file({k: v for k, v in tensors.items() if k != dropped}, oldest)
    with pytest.raises(CheckpointError, match=rf"{oldest.name}: missing tensor '{dropped}'"):
        average_snapshots(trained)


def test_export_lists_the_snapshots_once_and_records_those_it_averaged(trained, tmp_path, monkeypatch):
    """config.json counts the very snapshots averaged: the folder is listed once, not again."""
    folder = trained.run_dir / SNAPSHOT_DIR
    [(last_step, last)] = step_files(folder)[-1:]
    for step in torch.randperm(last_step)[:3].tolist():  # earlier snapshots, at fresh steps
        shutil.copyfile(last, step_file(folder, step))
    listed = []

    def listing(where):
        listed.append(where)
        return step_files(where)

    monkeypatch.setattr(transformer.export, "step_files", listing)
    trained.export()
    assert listed.count(folder) == 1
    info = json.loads((tmp_path / "checkpoint" / "config.json").read_text())
    assert info["training"]["averaged_snapshots"] == trained.settings.average_last == 2
