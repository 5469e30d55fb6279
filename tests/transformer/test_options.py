"""transformer/options.py: the command line's choices and the data folder, resolved one way."""

import subprocess
import sys

from tests.helpers import ROOT
from transformer.options import DATA_DIR_VARIABLE, PRECISIONS, TRAINING_PRECISIONS, default_data_dir


def test_the_data_folder_is_beside_the_repository_unless_the_environment_moves_it(monkeypatch, tmp_path):
    monkeypatch.delenv(DATA_DIR_VARIABLE, raising=False)
    assert default_data_dir() == ROOT.parent / "shared" / "data"
    monkeypatch.chdir(tmp_path)  # the working folder plays no part
    assert default_data_dir() == ROOT.parent / "shared" / "data"
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path / "corpora"))
    assert default_data_dir() == tmp_path / "corpora"
    monkeypatch.setenv(DATA_DIR_VARIABLE, "")  # set but empty: as if unset
    assert default_data_dir() == ROOT.parent / "shared" / "data"


def test_training_precisions_are_the_inference_ones_with_gradients():
    assert set(TRAINING_PRECISIONS) < set(PRECISIONS)
    assert "int8" in PRECISIONS and "int8" not in TRAINING_PRECISIONS
    assert PRECISIONS[0] == TRAINING_PRECISIONS[0] == "fp32"  # the default comes first


def test_the_options_load_without_torch():
    # The command line checks its arguments with these before torch loads (about 1 s).
    code = "import sys, transformer.options; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
