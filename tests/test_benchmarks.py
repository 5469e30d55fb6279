"""The benchmark scripts' own logic (their figures are measured, never asserted)."""

import shutil
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import apertium  # noqa: E402


def test_apertium_output_is_one_stripped_line_per_sentence():
    assert apertium.parse_apertium(" Soy tímido.\nVa fuera!\n  \n", 3) == ["Soy tímido.", "Va fuera!", ""]
    with pytest.raises(ValueError, match="2 lines for 3 sentences"):
        apertium.parse_apertium("uno\ndos\n", 3)


def test_without_apertium_the_benchmark_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert apertium.run_apertium(["Hello."]) is None
    assert "apt-get install apertium apertium-eng-spa" in apertium.INSTALL_HINT


def test_without_the_checkpoint_the_benchmark_exits_2(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sys, "argv", ["apertium.py", "--checkpoint", str(tmp_path / "missing")])
    assert apertium.main() == 2
    assert "not a checkpoint folder" in capsys.readouterr().err
