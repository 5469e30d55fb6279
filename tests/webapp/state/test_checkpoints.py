"""webapp/state/checkpoints.py: which checkpoint opens first, labels, language pairs, BLEU summaries and
the model card's sections."""

import json
import os
from pathlib import Path

from tests.helpers import language_copy
from tests.webapp.apptest import TOY
from webapp.state import checkpoints as app_checkpoints


def test_default_checkpoint_prefers_en_de_then_toy_reverse():
    assert app_checkpoints.default_checkpoint(["a", "en-de", "toy-reverse"]) == "en-de"
    assert app_checkpoints.default_checkpoint(["a", "toy-reverse"]) == "toy-reverse"
    assert app_checkpoints.default_checkpoint(["a", "b"]) == "a"
    assert app_checkpoints.default_checkpoint([]) is None


def test_a_checkpoint_label_stats_only_its_config_and_follows_it(tmp_path, monkeypatch):
    """Every run labels every listed checkpoint (the sidebar's picker): one stat each, of the file
    the label is read from, whose modification time keys the cache; a changed config.json is read
    again."""
    copy = language_copy(TOY, tmp_path, "toy-xx", "xx")
    config_file = copy / "config.json"
    config = {**json.loads(config_file.read_text(encoding="utf-8")), "source_language": "en"}
    config_file.write_text(json.dumps(config), encoding="utf-8")
    monkeypatch.setenv(app_checkpoints.CHECKPOINTS_ENV, str(tmp_path))
    assert app_checkpoints.checkpoint_label("toy-xx") == "toy-xx (en → xx)"
    stats, real_stat = [], Path.stat
    monkeypatch.setattr(Path, "stat", lambda path, **options: stats.append(path) or real_stat(path, **options))
    assert app_checkpoints.checkpoint_label("toy-xx") == "toy-xx (en → xx)"  # a rerun: from the cache
    assert [path for path in stats if path.is_relative_to(copy)] == [config_file]
    config_file.write_text(json.dumps({**config, "target_language": "yy"}), encoding="utf-8")
    modified = config_file.stat().st_mtime_ns + 1_000_000_000  # a second later, however coarse the clock
    os.utime(config_file, ns=(modified, modified))
    assert app_checkpoints.checkpoint_label("toy-xx") == "toy-xx (en → yy)"


def test_bleu_summary_prefers_test_sets():
    metrics = {"dev": {"bleu": 30.0}, "test_a": {"bleu": 28.25}, "test_b": {"bleu": 31.5}}
    assert app_checkpoints.bleu_summary(metrics) == "test_a 28.25, test_b 31.5"
    assert app_checkpoints.bleu_summary({"dev": {"bleu": 30.0}}) == "dev 30"
    assert app_checkpoints.bleu_summary({}) is None
    assert app_checkpoints.bleu_summary({"test": {"bleu": "n/a"}, "dev": {"bleu": None}, "x": {"bleu": True}}) is None


def test_a_language_pair_is_two_language_codes():
    assert app_checkpoints.language_pair({"source_language": "en", "target_language": "de"}) == ("en", "de")
    for info in (
        {"source_language": "symbols", "target_language": "reversed symbols"},  # the toy
        {"source_language": "en"},
        {"source_language": "en", "target_language": 7},
        {"source_language": "EN", "target_language": "de\n"},
    ):
        assert app_checkpoints.language_pair(info) is None, info


def test_without_section_drops_one_level_two_section():
    card = "# toy\n\n## Data\nd\n\n## Scores (`metrics.json`)\n| a |\n\n## Limits\nl\n"
    assert app_checkpoints.without_section(card, "Scores") == "# toy\n\n## Data\nd\n\n## Limits\nl\n"
    assert app_checkpoints.without_section(card, "Speed") == card
