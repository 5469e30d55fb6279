"""webapp/analysis/common.py, without Streamlit: where the head importance is cached, and the heads
switched off as a link spells them."""

from pathlib import Path

from tests.helpers import tiny_config
from webapp.analysis import common as app_analysis
from webapp.analysis.common import CACHE_ENV, ablation_options, parse_ablation


def test_the_importance_cache_is_in_the_users_cache_folder_not_the_repository(tmp_path, monkeypatch):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert app_analysis.cache_dir() == tmp_path / "xdg" / "transformer-app" / "analysis"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert app_analysis.cache_dir().is_relative_to(Path.home() / ".cache")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "here"))
    assert app_analysis.cache_dir() == tmp_path / "here"


def test_every_head_of_every_kind_can_be_switched_off():
    options = ablation_options(tiny_config(n_encoder_layers=2, n_decoder_layers=1, n_heads=2))
    assert options == {
        "encoder": [(0, 0), (0, 1), (1, 0), (1, 1)],
        "decoder": [(0, 0), (0, 1)],
        "cross": [(0, 0), (0, 1)],
    }


def test_a_link_names_heads_from_one_and_each_head_once():
    options = ablation_options(tiny_config(n_encoder_layers=2, n_decoder_layers=1, n_heads=2))
    state = parse_ablation("encoder-2-1,cross-1-2,encoder-2-1", options)
    assert state == {"ablate_encoder": [(1, 0)], "ablate_decoder": [], "ablate_cross": [(0, 1)]}


def test_a_link_with_a_head_the_model_lacks_or_too_many_items_is_refused():
    options = ablation_options(tiny_config(n_encoder_layers=2, n_decoder_layers=1, n_heads=2))
    for value in ("decoder-2-1", "encoder-0-1", "encoder-1-3", "sideways-1-1", "encoder-1", "encoder-x-1", ""):
        assert parse_ablation(value, options) is None, value
    assert parse_ablation(",".join(["encoder-1-1"] * 9), options) is None  # 9 items, 8 heads
    eight = parse_ablation(",".join(["encoder-1-1"] * 8), options)
    assert eight == {"ablate_encoder": [(0, 0)], "ablate_decoder": [], "ablate_cross": []}
