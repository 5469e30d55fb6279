"""The Model card page (webapp/pages/model.py) through streamlit.testing, with and without the optional
files of a checkpoint."""

import shutil

import pytest

from tests.webapp.apptest import MODEL, TOY, chart_keys, chart_spec, open_page, texts
from transformer import load_checkpoint
from transformer.checkpoint import LOG_FILE
from webapp.state import checkpoints as app_checkpoints

pytestmark = pytest.mark.usefixtures("checkpoints")


def test_model_card_shows_config_counts_curves_scores_and_credits():
    app = open_page(MODEL)
    settings, scores = (element.value for element in app.dataframe)
    assert settings.set_index("setting").loc["d_model", "value"] == "128"
    assert settings.set_index("setting").loc["training steps", "value"] == "3,000"
    assert scores["set"].tolist() == ["dev", "fresh"] and scores["BLEU"].tolist() == [99.98, 99.95]
    assert "lrate" in app.latex[0].value
    curves = chart_spec(app, "training_curves")
    assert {trace["name"] for trace in curves["data"]} >= {"learning rate", "dev BLEU"}
    assert any("Data" in markdown and "reverse_task_pairs" in markdown for markdown in texts(app.markdown))
    assert not any("## Scores" in markdown for markdown in texts(app.markdown))  # the scores once: the table
    total = sum(p.numel() for p in load_checkpoint(TOY).model.parameters())
    assert chart_spec(app, "parameters")["layout"]["title"]["text"] == f"{total:,} parameters"


def test_model_card_without_the_optional_files():
    bare = app_checkpoints.checkpoints_dir() / "bare"
    bare.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        shutil.copy(TOY / name, bare / name)
    app = open_page(MODEL, {"ckpt": "bare"})
    assert any("no training_log.csv" in message for message in texts(app.info))
    assert any("no metrics.json" in message for message in texts(app.info))
    assert {"architecture", "parameters"} <= chart_keys(app) and "training_curves" not in chart_keys(app)
    (bare / LOG_FILE).write_text("step,train_loss\n1,2.0\n")
    app = open_page(MODEL, {"ckpt": "bare"})
    assert "cannot be drawn: the training log has no lr column" in app.error[0].value


def test_model_card_reports_unreadable_scores_and_log_and_draws_the_rest():
    broken = app_checkpoints.checkpoints_dir() / "broken"
    shutil.copytree(TOY, broken)
    (broken / "metrics.json").write_text("{ not json")
    (broken / LOG_FILE).unlink()
    (broken / LOG_FILE).mkdir()  # a folder where the log should be
    app = open_page(MODEL, {"ckpt": "broken"})
    errors = texts(app.error)
    assert any("metrics.json cannot be read" in e and "not valid JSON" in e for e in errors), errors
    assert any("training log cannot be read" in e and "a directory" in e for e in errors), errors
    assert any("Test BLEU unavailable" in markdown for markdown in texts(app.sidebar.markdown))
    assert {"architecture", "parameters"} <= chart_keys(app)
