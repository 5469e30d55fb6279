"""benchmarks/apertium.py, the rule-based baseline, without Apertium installed: its output parsing and its
message when the tool is missing."""

import shutil

import pytest

from benchmarks import apertium


def test_apertium_output_is_one_stripped_line_per_sentence():
    assert apertium.parse_apertium(" Soy tímido.\nVa fuera!\n  \n", 3) == ["Soy tímido.", "Va fuera!", ""]
    with pytest.raises(ValueError, match="2 lines for 3 sentences"):
        apertium.parse_apertium("uno\ndos\n", 3)


def test_without_apertium_the_benchmark_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert apertium.run_apertium(["Hello."]) is None
    assert "apt-get install apertium apertium-eng-spa" in apertium.INSTALL_HINT
