"""One session's training in the background for the app's Train page: a thread driving
transformer.training's own loop (TrainingRun.run with an on_step callback: no second training
loop) once the session has a slot (webapp.trainer.slots), and what the page reads while it
trains (progress, curves, the probe's attention); then the trained model tried and saved.

No Streamlit here: the page (webapp/pages/train.py) keeps a SessionTrainer in its session state
("trainer") and reads its snapshot() from a fragment every second or so.
"""

import functools
import os
import re
import shutil
import stat
import tempfile
import threading
import time
import weakref
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from transformer.checkpoint import CARD_FILE, atomic_write
from transformer.training import TrainingRun
from webapp import registry
from webapp.trainer import slots as server_slots
from webapp.trainer.card import model_card
from webapp.trainer.recipe import recipe_for
from webapp.trainer.settings import TrainSetup

CHECKPOINT_NAME = r"[a-z0-9][a-z0-9-]{0,39}"  # a saved checkpoint's folder name
MAX_SAVED = 20  # checkpoints saved from the Train page per server: each is in every visitor's sidebar
PROBE_EVERY_S = 1.0  # the live attention is recomputed this often while training
SAVING = threading.Lock()  # two sessions saving one name: the second finds the folder there
TRAINERS: "weakref.WeakSet[SessionTrainer]" = weakref.WeakSet()  # this server's, for sweep_closed
RUN_DIR_PREFIX = "transformer-train-"  # then the owning process id: "transformer-train-<pid>-<random>"
OWNED_RUN_DIR = re.compile(re.escape(RUN_DIR_PREFIX) + r"(\d+)-[^-]+")
UNOWNED_RUN_DIR = re.compile(re.escape(RUN_DIR_PREFIX) + r"[^-]+")  # before the pid was in the name
UNOWNED_RUN_DIR_AGE_S = 24 * 3600  # no run of the Train page lasts this long


def saved_names(checkpoints: Path) -> list[str]:
    """The checkpoint folders in `checkpoints` that are not shipped: saved from the Train page."""
    shipped = registry.shipped_checkpoints()
    return [name for name in registry.checkpoint_names(checkpoints) if name not in shipped]


def sweep_closed() -> None:
    """Close the trainers whose browser session has ended and whose run is over: their temporary
    folders go now, not when the server forgets the session (up to an hour later)."""
    for trainer in list(TRAINERS):
        if not trainer.training and trainer.progress.status != "closed" and not trainer.alive():
            trainer.close()


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs (another user's included)."""
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, the process is only looked up
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, but belongs to another user
        return True
    except (OverflowError, ValueError):  # not a process id at all
        return False
    return True


def sweep_stray_run_dirs() -> None:
    """Remove this user's run folders in the temp folder that no live process owns: a server killed
    (SIGKILL, a crash) never ran its finalizers. Folders named before the process id was in the name
    go once a day old; a live process's (another app process of `make serve`) always stay."""
    if os.name != "posix":  # os.kill(pid, 0) would send Ctrl-C on Windows, not look the process up
        return
    for folder in Path(tempfile.gettempdir()).glob(RUN_DIR_PREFIX + "*"):
        try:
            info = folder.lstat()
        except OSError:
            continue  # removed meanwhile
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            continue  # a link, a file, or another user's: not ours to remove
        if owned := OWNED_RUN_DIR.fullmatch(folder.name):
            stray = not process_alive(int(owned[1]))
        else:
            stray = bool(UNOWNED_RUN_DIR.fullmatch(folder.name)) and time.time() - info.st_mtime > UNOWNED_RUN_DIR_AGE_S
        if stray:
            shutil.rmtree(folder, ignore_errors=True)


@functools.cache
def sweep_stray_run_dirs_once() -> None:
    """sweep_stray_run_dirs, the first time a trainer is made in this process: a dead process's
    folders do not come back, so once is enough."""
    sweep_stray_run_dirs()


@dataclass
class Progress:
    """What the page shows of a run: a copy, safe to read while the run goes on."""

    status: str  # "new", "waiting", "preparing", "training", "stopped", "finished", "failed", "closed"
    step: int = 0
    steps: int = 0
    steps_per_s: float = 0.0
    place_in_line: int = 0
    error: str = ""
    train_curve: list[tuple[int, float]] = field(default_factory=list)  # (step, train loss)
    dev_curve: list[tuple[int, float, float]] = field(default_factory=list)  # (step, dev loss, exact match %)
    frames: list[tuple[int, dict]] = field(default_factory=list)  # (step, {kind: (layers, heads, q, k)})
    probe_tokens: tuple[list[str], list[str]] = ([], [])  # (source tokens, decoder input tokens)

    @property
    def eta_s(self) -> float | None:
        return (self.steps - self.step) / self.steps_per_s if self.steps_per_s > 0 else None

    @property
    def exact_match(self) -> float | None:
        return self.dev_curve[-1][2] if self.dev_curve else None


class SessionTrainer:
    """One session's training: started on a background thread when a slot is free (start returns
    False while the session waits in line), stopped, resumed and closed from the page. alive()
    tells whether the session is still open; once it is not, the run stops, frees its slot and
    its memory. The model's weights change only on the training thread, and try_input and save
    refuse to run while it trains."""

    MAX_FRAMES = 240  # attention snapshots kept for the replay; beyond, every other one is dropped

    def __init__(self, setup: TrainSetup, owner: str, alive=lambda: True, slots: server_slots.Slots | None = None):
        sweep_closed()
        sweep_stray_run_dirs_once()
        TRAINERS.add(self)
        self.setup, self.owner, self.alive, self.slots = setup, owner, alive, slots or server_slots.SLOTS
        self.run: TrainingRun | None = None
        self.run_dir = Path(tempfile.mkdtemp(prefix=f"{RUN_DIR_PREFIX}{os.getpid()}-"))
        weakref.finalize(self, shutil.rmtree, self.run_dir, True)  # its files go with the session
        self.progress = Progress("new", steps=setup.steps)
        self.lock = threading.Lock()  # guards self.progress
        self.stop_requested = threading.Event()
        self.thread: threading.Thread | None = None
        self.last_frame = 0.0
        self.rate_mark: tuple[float, int] | None = None  # (time, step) the steps/s are measured from

    @property
    def training(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self) -> bool:
        """Start (or resume) the run if a slot is free: True if it runs now. Otherwise the session
        keeps its place in line; call start again to keep it (the page does every second)."""
        if self.training or self.progress.status in ("finished", "closed"):
            return self.training
        place = self.slots.acquire(self.owner)
        if place:
            self._update(status="waiting", place_in_line=place)
            return False
        self.stop_requested.clear()
        self._update(status="preparing" if self.run is None else "training", place_in_line=0)
        self.thread = threading.Thread(target=self._work, name=f"train-{self.owner}", daemon=True)
        self.thread.start()
        return True

    def stop(self) -> None:
        """Stop after the current step (resumable with start)."""
        self.stop_requested.set()
        if self.thread is not None:
            self.thread.join()
        if self.progress.status == "waiting":
            self.slots.release(self.owner)
            self._update(status="stopped" if self.run else "new", place_in_line=0)

    def close(self) -> None:
        """Stop and forget the run: its slot, model, data and files."""
        self.stop()
        self.run = None
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self._update(status="closed")

    def snapshot(self) -> Progress:
        with self.lock:
            p = self.progress
            return Progress(
                **{
                    **asdict(p),
                    "train_curve": list(p.train_curve),
                    "dev_curve": list(p.dev_curve),
                    "frames": list(p.frames),
                }
            )

    def _update(self, **changes) -> None:
        with self.lock:
            for name, value in changes.items():
                setattr(self.progress, name, value)

    # the training thread
    def _work(self) -> None:
        torch.set_num_threads(1)  # the app's setting: sessions share the cores
        try:
            if self.run is None:
                self.run = TrainingRun(recipe_for(self.setup, self.run_dir), progress=False)
                self._update(probe_tokens=self._probe_tokens())
                self._record_frame()
                self._update(status="training")
            self.rate_mark = (time.monotonic(), self.run.step)
            finished = self.run.run(on_step=self._on_step)
            if finished:
                self._record_frame()
            self._update(status="finished" if finished else "stopped")
        except Exception as error:  # shown on the page; the server goes on
            self._update(status="failed", error=f"{type(error).__name__}: {error}")
        finally:
            self.slots.release(self.owner)
            if not self.alive():
                self.run = None
                shutil.rmtree(self.run_dir, ignore_errors=True)
                self._update(status="closed")

    def _on_step(self, run: TrainingRun, row: dict | None) -> bool:
        now = time.monotonic()
        changes = {"step": run.step}
        if now - self.rate_mark[0] >= 1.0 or run.step == self.setup.steps:
            changes["steps_per_s"] = (run.step - self.rate_mark[1]) / (now - self.rate_mark[0])
            self.rate_mark = (now, run.step)
        with self.lock:
            for name, value in changes.items():
                setattr(self.progress, name, value)
            if row is not None:
                self.progress.train_curve.append((row["step"], row["train_loss"]))
                if "dev_exact_match" in row:
                    self.progress.dev_curve.append((row["step"], row["dev_loss"], row["dev_exact_match"]))
        if now - self.last_frame >= PROBE_EVERY_S:
            self._record_frame()
            if not self.alive():
                return True
        return self.stop_requested.is_set()

    def _record_frame(self) -> None:
        """The probe's attention now, kept for the live view and the replay."""
        self.last_frame = time.monotonic()
        maps = {key.split(".")[1]: value.float() for key, value in self.run.probe_attention().items()}
        with self.lock:
            frames = self.progress.frames
            if frames and frames[-1][0] == self.run.step:
                return
            frames.append((self.run.step, maps))
            if len(frames) > self.MAX_FRAMES:
                self.progress.frames = frames[::2] if frames[-1] is frames[::2][-1] else frames[::2] + [frames[-1]]

    def _probe_tokens(self) -> tuple[list[str], list[str]]:
        run = self.run
        source_ids, output_ids = run.probe_ids(*run.probes[0])
        return run.tokenizer.tokens(source_ids), run.tokenizer.tokens([run.config.bos_id] + output_ids[:-1])

    # the trained model
    def try_input(self, text: str):
        """The model's greedy translation of text, with its attention (a transformer.Translation)."""
        if self.run is None or self.training:
            raise RuntimeError("stop the run (or let it finish) to try the model")
        translation = self.run.translator().translate([text], beam_size=1)[0]
        self.run.model.train()
        return translation

    def save(self, name: str, checkpoints: Path, reserved: set[str]) -> Path:
        """Write the model as the checkpoint folder checkpoints/name (the last weights, the attention
        history, metrics on fresh sequences, a model card); ValueError for a name that is not
        [a-z0-9-], is reserved (a shipped checkpoint's) or names an existing folder."""
        if not re.fullmatch(CHECKPOINT_NAME, name):
            raise ValueError("a name is 1-40 lowercase letters, digits and dashes, starting with a letter or digit")
        if self.run is None or self.training:
            raise RuntimeError("stop the run (or let it finish) to save the model")
        if self.run.step < self.run.settings.log_every:
            raise ValueError(f"train at least {self.run.settings.log_every} steps first")
        with SAVING:
            folder = checkpoints / name
            if name in reserved or folder.exists():
                raise ValueError(f"{name!r} is taken: pick another name")
            if len(saved_names(checkpoints)) >= MAX_SAVED:
                raise ValueError(f"this server keeps at most {MAX_SAVED} saved checkpoints, and has them all")
            self.run.save_snapshot()  # the weights now, not those of the last evaluation
            self.run.recipe.output = str(folder)
            self.run.export()
        self.run.model.train()
        atomic_write(folder / CARD_FILE, lambda tmp: Path(tmp).write_text(model_card(self.setup, self.run, folder)))
        return folder
