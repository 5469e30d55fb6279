"""The row convention (figures/rows.py): a decoder row is named by the token its position writes,
the token it reads is in the hover and the CSV; decoder self-attention keys are the tokens written so
far. Each test here fails on the old convention (rows named by the decoder input)."""

import numpy as np
import pytest

from figures import (
    attention_heatmap,
    attention_step_figures,
    attention_table,
    head_view_html,
    markdown_token,
    row_convention,
    shift_markdown,
    token_axes,
    written_tokens,
)
from figures.rows import KEY_TITLES, WRITES_TITLE
from tests.helpers import head_view_data

SOURCE = ["▁Two", "▁dogs", "▁play", "</s>"]
INPUTS = ["<s>", "▁Zwei", "▁Hunde", "▁spielen"]  # what each decoder position reads
OUTPUTS = ["▁Zwei", "▁Hunde", "▁spielen", "</s>"]  # what it writes


def test_decoder_rows_are_named_by_the_token_written_and_keep_what_they_read():
    cross = token_axes("cross", SOURCE, INPUTS, OUTPUTS)
    assert (cross.queries, cross.keys, cross.reads) == (OUTPUTS, SOURCE, INPUTS)
    decoder = token_axes("decoder", SOURCE, INPUTS, OUTPUTS)
    assert (decoder.queries, decoder.keys, decoder.reads) == (OUTPUTS, INPUTS, INPUTS)  # keys: written so far
    encoder = token_axes("encoder", SOURCE, INPUTS, OUTPUTS)
    assert (encoder.queries, encoder.keys, encoder.reads) == (SOURCE, SOURCE, None)
    assert decoder.titles == (WRITES_TITLE, "keys: tokens written so far (decoder input)")
    assert encoder.titles == ("query", "key") and cross.titles[1] == KEY_TITLES["cross"]
    with pytest.raises(ValueError, match="3 outputs"):
        token_axes("cross", SOURCE, INPUTS, OUTPUTS[:3])


def test_the_map_labels_rows_by_the_token_written_and_hovers_both():
    axes = token_axes("cross", SOURCE, INPUTS, OUTPUTS)
    figure = attention_heatmap(np.full((4, 4), 0.25), axes.queries, axes.keys, **axes.options)
    assert list(figure.layout.yaxis.ticktext) == ["▁Zwei", "▁Hunde", "▁spielen", "&lt;/s&gt;"]
    assert figure.layout.yaxis.title.text == WRITES_TITLE
    assert figure.data[0].text[1][1] == "writes ▁Hunde · reads ▁Zwei (1)<br>key: ▁dogs (1)"
    assert figure.data[0].text[0][0].startswith("writes ▁Zwei · reads &lt;s&gt; (0)")


def test_decoder_self_attention_keys_say_they_are_the_tokens_written_so_far():
    axes = token_axes("decoder", SOURCE, INPUTS, OUTPUTS)
    steps = {
        "scores": np.zeros((4, 4)),
        "scaled": np.zeros((4, 4)),
        "mask": np.tril(np.ones((4, 4), dtype=bool)),
        "queries": np.zeros((4, 8)),
        "weights": np.tril(np.ones((4, 4))) / np.arange(1, 5)[:, None],
    }
    for figure in attention_step_figures(steps, axes.queries, axes.keys, **axes.options).values():
        assert figure.layout.xaxis.title.text == "keys: tokens written so far (decoder input)"
        assert list(figure.layout.xaxis.ticktext)[0] == "&lt;s&gt;"  # the row writing Zwei may see <s> only
        assert list(figure.layout.yaxis.ticktext)[0] == "▁Zwei"


def test_the_csv_has_the_token_written_and_the_token_read_as_columns():
    axes = token_axes("cross", SOURCE, INPUTS, OUTPUTS)
    table = attention_table("cross", np.full((1, 1, 4, 4), 0.25), axes.queries, axes.keys, axes.reads)
    rows = table[table["key_position"] == 0]
    assert list(rows["query_writes"]) == OUTPUTS and list(rows["query_reads"]) == INPUTS


def test_the_head_view_names_its_columns_and_tooltips_by_the_convention():
    axes = token_axes("cross", SOURCE, INPUTS, OUTPUTS)
    weights = np.full((2, 4, 4), 0.25)
    data = head_view_data(
        head_view_html(weights, axes.queries, axes.keys, [0], reads=axes.reads, column_names=axes.short_titles)
    )
    assert data["queries"] == OUTPUTS and data["columnNames"] == ["writes", "source"]
    assert data["queryTips"][1].startswith("writes ▁Hunde · reads ▁Zwei (1) attends to")


def test_a_teacher_forced_input_writes_the_next_token_and_end_after_the_last():
    assert written_tokens(INPUTS, "</s>") == OUTPUTS
    assert written_tokens(["<s>", "a", "<pad>", "<pad>"], "</s>", "<pad>") == ["a", "</s>", "<pad>", "<pad>"]
    assert written_tokens([], "</s>") == []


def test_one_sentence_states_the_convention_and_markdown_shows_control_tokens():
    assert row_convention("encoder") == ""
    assert "writes" in row_convention("cross") and "reads" in row_convention("cross")
    assert "written so far" in row_convention("decoder") and "written so far" not in row_convention("cross")
    assert markdown_token("<s>") == "\\<s\\>" and markdown_token("</s>") == "\\</s\\>"
    assert markdown_token("<pad>") == "\\<pad\\>" and markdown_token("▁Hund") == "▁Hund"
    table = shift_markdown(INPUTS, OUTPUTS).splitlines()
    assert table[2].startswith("| reads") and "\\<s\\> | ▁Zwei" in table[2]
    assert table[3].startswith("| writes") and table[3].endswith("\\</s\\> |")
