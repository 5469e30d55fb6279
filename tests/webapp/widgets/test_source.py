"""webapp/widgets/source.py: the library's source read at run time, the line that matters marked; an
object renamed or a line gone fails loudly, and every step of the lecture shows code that exists."""

import inspect

import pytest

from transformer import attention
from webapp import lecture as app_lecture
from webapp.widgets import source

LECTURE = app_lecture.load_lecture()


def test_the_source_is_the_installed_code_with_its_line_marked():
    shown = source.source_lines("transformer.attention.scaled_dot_product_attention", ".softmax(dim=-1)")
    assert shown.path == "transformer/attention.py"
    assert "".join(shown.lines) == inspect.getsource(attention.scaled_dot_product_attention)
    [marked] = [line for line in shown.text.splitlines() if line.endswith(source.MARK)]
    assert "scores.softmax(dim=-1)" in marked
    file_lines = inspect.getsourcefile(attention.scaled_dot_product_attention)
    with open(file_lines, encoding="utf-8") as file:
        assert "softmax" in file.readlines()[shown.marked_line_number - 1]


def test_a_method_and_a_class_are_found():
    assert "attend" in source.source_lines("transformer.attention.MultiHeadAttention.attend", "def attend").text
    assert source.source_lines("transformer.layers.EncoderLayer", "class EncoderLayer").marked == 0


@pytest.mark.parametrize(
    ("dotted", "line", "message"),
    [
        ("transformer.attention.scaled_dot_attention", "softmax", "has no 'scaled_dot_attention'"),
        ("transformer.attention.scaled_dot_product_attention", "sigmoid", "no line contains 'sigmoid'"),
        ("nowhere.module", "x", "no such module"),
    ],
)
def test_a_renamed_object_or_a_missing_line_fails(dotted, line, message):
    with pytest.raises(source.SourceError, match=message):
        source.source_lines(dotted, line)


def test_every_steps_code_exists():
    codes = [step.code for step in LECTURE.steps if step.code is not None]
    assert len(codes) >= 10
    for code in codes:
        source.source_lines(code.object, code.line)
