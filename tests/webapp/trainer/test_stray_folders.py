"""The Train page's run folders left behind by a killed server (webapp/trainer/session.py): the next
process sweeps those of dead processes and never a live sibling's. Everything happens in a
temporary temp folder (tempfile.tempdir), so no real folder is touched."""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from webapp.trainer import session
from webapp.trainer.session import RUN_DIR_PREFIX, SessionTrainer, sweep_stray_run_dirs
from webapp.trainer.settings import TrainSetup
from webapp.trainer.slots import Slots


@pytest.fixture(autouse=True)
def temp_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def dead_pid() -> int:
    """The id of a process that has run and been waited for."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def run_dir(pid: int | None) -> Path:
    """A run folder as a process with this id makes it (None: named before the id was in the
    name), with a file in it."""
    folder = Path(tempfile.mkdtemp(prefix=RUN_DIR_PREFIX if pid is None else f"{RUN_DIR_PREFIX}{pid}-"))
    (folder / "state.pt").write_bytes(os.urandom(64))
    return folder


def test_a_dead_processs_folders_go_and_a_live_ones_stay(temp_dir):
    dead = [run_dir(dead_pid()), run_dir(dead_pid())]
    live = [run_dir(os.getpid()), run_dir(os.getppid())]
    day_old, fresh = run_dir(None), run_dir(None)
    os.utime(day_old, (time.time() - 25 * 3600,) * 2)
    others = [temp_dir / "transformer-serve-8501", temp_dir / f"{RUN_DIR_PREFIX}{dead_pid()}-link"]
    others[0].mkdir()
    others[1].symlink_to(others[0])  # a link is never followed, nor removed
    sweep_stray_run_dirs()
    assert not any(folder.exists() for folder in dead + [day_old])
    assert all((folder / "state.pt").exists() for folder in live + [fresh])
    assert others[0].is_dir() and others[1].is_symlink()


def test_a_siblings_folder_stays_while_it_runs_and_goes_after(temp_dir):
    sibling = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        folder = run_dir(sibling.pid)
        sweep_stray_run_dirs()
        assert (folder / "state.pt").exists()
    finally:
        sibling.stdin.close()
        sibling.wait(30)
    sweep_stray_run_dirs()
    assert not folder.exists()


def test_the_first_trainer_of_a_process_sweeps_and_names_its_folder_by_the_process(temp_dir):
    session.sweep_stray_run_dirs_once.cache_clear()  # as if no trainer had been made in this process
    stray = run_dir(dead_pid())
    trainer = SessionTrainer(TrainSetup(), "first", slots=Slots(1))
    assert not stray.exists()
    assert trainer.run_dir.parent == temp_dir and trainer.run_dir.name.startswith(f"{RUN_DIR_PREFIX}{os.getpid()}-")
    stray = run_dir(dead_pid())
    SessionTrainer(TrainSetup(), "second", slots=Slots(1))  # once per process: a dead one's folders
    assert stray.exists()  # do not come back, so the second trainer does not look again
    trainer.close()
    assert not trainer.run_dir.exists()
