"""Training in the background for the app's Train page: the page's settings as a recipe, one
training thread per session driving transformer.training's own loop (TrainingRun.run with an
on_step callback: no second training loop), a server-wide limit on how many run at once, and
what the page reads while it trains (progress, curves, the probe's attention).

No Streamlit here: the page (app_pages/train.py) keeps a SessionTrainer in its session state and
reads its snapshot() from a fragment every second or so.
"""

import math
import os
import re
import shutil
import tempfile
import threading
import time
import weakref
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch

from transformer.checkpoint import atomic_write, read_json
from transformer.data import SYMBOLS, TASKS, toy_task_pairs
from transformer.training import Recipe, TrainingRun

SLOTS_ENV = "TRANSFORMER_TRAINING_SLOTS"  # how many trainings the server runs at once
CHECKPOINT_NAME = r"[a-z0-9][a-z0-9-]{0,39}"  # a saved checkpoint's folder name
PROBE_EVERY_S = 1.0  # the live attention is recomputed this often while training
HEARTBEAT_TIMEOUT_S = 30.0  # a run whose page has not looked for this long is stopped (session closed)
TRAIN_PAIRS, DEV_PAIRS, TEST_PAIRS = 20_000, 200, 500
TASK_TITLES = {
    "reverse": "Reverse",
    "copy": "Copy",
    "sort": "Sort",
    "rotate": "Rotate by k",
    "swap": "Swap the halves",
}


@dataclass(frozen=True)
class TrainSetup:
    """The Train page's settings (each one a URL parameter of /train), with their bounds: small
    enough that any allowed run finishes on a laptop CPU in minutes."""

    task: str = "reverse"
    symbols: int = 10  # the first `symbols` of a-z0-9
    min_len: int = 3
    max_len: int = 10
    shift: int = 2  # rotate: by this many positions
    layers: int = 1  # encoder and decoder layers each
    heads: int = 2
    d_model: int = 64
    d_ff: int = 128
    dropout: float = 0.0
    norm: str = "post"  # "post" (the paper) or "pre"
    steps: int = 800
    batch_tokens: int = 1024  # padded tokens per batch
    warmup: int = 100
    lr_scale: float = 0.5  # the peak rate of a small d_model is high: halved, training is steadier
    smoothing: float = 0.1
    seed: int = 1


BOUNDS = {  # TrainSetup field -> (low, high)
    "symbols": (2, len(SYMBOLS)),
    "min_len": (1, 30),
    "max_len": (1, 30),
    "shift": (0, 29),
    "layers": (1, 4),
    "heads": (1, 8),
    "d_model": (8, 256),
    "d_ff": (8, 1024),
    "dropout": (0.0, 0.5),
    "steps": (1, 5000),
    "batch_tokens": (64, 8192),
    "warmup": (1, 5000),
    "lr_scale": (0.01, 10.0),
    "smoothing": (0.0, 0.9),
    "seed": (0, 999_999),
}
CHOICES = {"task": tuple(TASKS), "norm": ("post", "pre")}


def setup_problems(setup: TrainSetup) -> list[str]:
    """Why these settings cannot be trained (empty if they can): values out of bounds, heads not
    dividing d_model, an empty length range."""
    problems = []
    for name, choices in CHOICES.items():
        if getattr(setup, name) not in choices:
            problems.append(f"{name} must be one of {', '.join(choices)}")
    for name, (low, high) in BOUNDS.items():
        if not low <= getattr(setup, name) <= high:
            problems.append(f"{name} must be between {low:g} and {high:g}, got {getattr(setup, name):g}")
    if setup.heads >= 1 and setup.d_model % setup.heads:
        problems.append(f"heads ({setup.heads}) must divide d_model ({setup.d_model})")
    if setup.min_len > setup.max_len:
        problems.append(f"min_len ({setup.min_len}) is above max_len ({setup.max_len})")
    return problems


def parse_setup(values: dict[str, str]) -> tuple[dict, list[str]]:
    """TrainSetup fields from URL parameters (text): (the values that parse, a notice per value
    that does not, a task or norm not among its CHOICES included). Bounds are checked later, by
    setup_problems."""
    types = {f.name: f.type for f in fields(TrainSetup)}
    parsed, rejected = {}, []
    for name, text in values.items():
        if name not in types:
            continue
        if name in CHOICES and text not in CHOICES[name]:
            choices = ", ".join(CHOICES[name])
            rejected.append(f"The link's {name} {text[:20]!r} is not one of {choices}; using the default.")
            continue
        try:
            value = types[name](text) if types[name] is not str else text
        except ValueError:
            kind = {int: "whole number", float: "number"}[types[name]]
            rejected.append(f"The link's {name} {text[:20]!r} is not a {kind}; using the default.")
            continue
        if isinstance(value, float) and not math.isfinite(value):
            rejected.append(f"The link's {name} is not a finite number; using the default.")
            continue
        parsed[name] = value
    return parsed, rejected


def probe_pair(setup: TrainSetup) -> tuple[str, str]:
    """The sequence whose attention is watched: one of the longest the task has."""
    [pair] = toy_task_pairs(setup.task, 1, 7, setup.max_len, setup.max_len, setup.symbols, setup.shift)
    return pair


def recipe_for(setup: TrainSetup, run_dir: Path) -> Recipe:
    """The recipe `python -m transformer train` would run for these settings (see recipe_toml)."""
    return Recipe.from_values(recipe_values(setup, run_dir), "the Train page's settings")


def recipe_values(setup: TrainSetup, run_dir: Path) -> dict:
    task = {"kind": "task", "task": setup.task, "min_len": setup.min_len, "max_len": setup.max_len}
    task |= {"symbols": setup.symbols, "shift": setup.shift}
    evaluations = max(1, setup.steps // 20)  # about 20 points on the dev curves
    return {
        "name": f"live-{setup.task}",
        "description": f"{TASK_TITLES[setup.task]} {setup.min_len}-{setup.max_len} symbols, trained on the Train page.",
        "output": str(run_dir / "checkpoint"),
        "run_dir": str(run_dir),
        "source_language": "symbols",
        "target_language": f"symbols ({setup.task})",
        "seed": setup.seed,
        "probes": [list(probe_pair(setup))],
        "tokenizer": {"kind": "wordlevel"},
        "model": {
            "d_model": setup.d_model,
            "n_heads": setup.heads,
            "n_encoder_layers": setup.layers,
            "n_decoder_layers": setup.layers,
            "d_ff": setup.d_ff,
            "dropout": setup.dropout,
            "max_len": setup.max_len + 2,
            "pre_norm": setup.norm == "pre",
            "tie_embeddings": True,
        },
        "train": {
            "max_steps": setup.steps,
            "max_tokens": setup.batch_tokens,
            "warmup": setup.warmup,
            "lr_scale": setup.lr_scale,
            "label_smoothing": setup.smoothing,
            "eval_every": evaluations,
            "log_every": max(1, min(10, evaluations)),
            "save_minutes": 1e6,  # the state lives in memory; saved only when the run stops
            "average_last": 1,
            "dev_loss_sentences": DEV_PAIRS,
            "dev_bleu_sentences": DEV_PAIRS,
            "threads": 1,
        },
        "decoding": {"beam_size": 1, "max_len_a": 1.0, "max_len_b": 2},
        "data": {
            "train": [task | {"count": TRAIN_PAIRS, "seed": setup.seed * 3 + 1}],
            "dev": [task | {"count": DEV_PAIRS, "seed": setup.seed * 3 + 2}],
            "test": {"fresh": [task | {"count": TEST_PAIRS, "seed": setup.seed * 3 + 3}]},
        },
    }


def recipe_toml(setup: TrainSetup) -> str:
    """These settings as a TOML recipe for `python -m transformer train`: the run in
    runs/live-{task}, its checkpoint written to checkpoints/live-{task}."""
    values = recipe_values(setup, Path("runs") / f"live-{setup.task}")
    values["output"] = f"checkpoints/live-{setup.task}"
    lines = []
    tables = {key: value for key, value in values.items() if isinstance(value, dict)}
    for key, value in values.items():
        if key not in tables:
            lines.append(f"{key} = {_toml(value)}")
    for key, table in tables.items():
        lines.append(f"\n[{key}]")
        lines += [f"{name} = {_toml(value)}" for name, value in table.items()]
    return "\n".join(lines) + "\n"


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml, value)) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return repr(value)


# -- the server's training slots ---------------------------------------------------------------
def default_slot_count() -> int:
    """TRANSFORMER_TRAINING_SLOTS, else one training per two CPU cores (at least one)."""
    configured = os.environ.get(SLOTS_ENV, "")
    if configured.isdecimal() and int(configured) > 0:
        return int(configured)
    return max(1, (os.cpu_count() or 1) // 2)


class Slots:
    """At most `limit` trainings at once; the others wait in line, first come first served. An
    owner waiting in line must call acquire again (the page does, every second): one that stops
    asking for WAIT_TIMEOUT_S (its session closed) loses its place."""

    WAIT_TIMEOUT_S = 10.0

    def __init__(self, limit: int):
        self.limit = limit
        self.holders: set[str] = set()
        self.waiting: dict[str, float] = {}  # owner -> when it last asked, in order of arrival
        self.lock = threading.Lock()

    def acquire(self, owner: str) -> int:
        """0 if owner holds a slot now, else its place in line (1: next)."""
        with self.lock:
            if owner in self.holders:
                return 0
            now = time.monotonic()
            self.waiting = {o: t for o, t in self.waiting.items() if now - t < self.WAIT_TIMEOUT_S or o == owner}
            self.waiting[owner] = now
            line = list(self.waiting)
            if len(self.holders) < self.limit and line[0] == owner:
                del self.waiting[owner]
                self.holders.add(owner)
                return 0
            return line.index(owner) + 1

    def release(self, owner: str) -> None:
        with self.lock:
            self.holders.discard(owner)
            self.waiting.pop(owner, None)

    def busy(self) -> int:
        with self.lock:
            return len(self.holders)


SLOTS = Slots(default_slot_count())  # one per server process, shared by every session


# -- one session's run -------------------------------------------------------------------------
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

    def __init__(self, setup: TrainSetup, owner: str, alive=lambda: True, slots: Slots | None = None):
        self.setup, self.owner, self.alive, self.slots = setup, owner, alive, slots or SLOTS
        self.run: TrainingRun | None = None
        self.run_dir = Path(tempfile.mkdtemp(prefix="transformer-train-"))
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
        with SAVING:  # two sessions saving one name: the second finds the folder there
            folder = checkpoints / name
            if name in reserved or folder.exists():
                raise ValueError(f"{name!r} is taken: pick another name")
            self.run.save_snapshot()  # the weights now, not those of the last evaluation
            self.run.recipe.output = str(folder)
            self.run.export()
        self.run.model.train()
        atomic_write(folder / "README.md", lambda tmp: Path(tmp).write_text(model_card(self.setup, self.run, folder)))
        return folder


SAVING = threading.Lock()


def model_card(setup: TrainSetup, run: TrainingRun, folder: Path) -> str:
    """The README.md of a checkpoint saved from the Train page: the task, the settings, the scores."""
    metrics = read_json(folder / "metrics.json")
    settings = "\n".join(f"| `{name}` | {value} |" for name, value in asdict(setup).items())
    scores = "\n".join(
        f"| {name} ({m['sentences']} sequences) | {m['exact_match']:g} % | {m['bleu']:g} |"
        for name, m in metrics.items()
    )
    return f"""# {folder.name}

{TASK_TITLES[setup.task]}: {setup.min_len}-{setup.max_len} symbols from the first {setup.symbols} of `{SYMBOLS}`,
trained live on the app's Train page for {run.step} steps ({run.elapsed:.0f} s), data generated by
`transformer.data.toy_task_pairs` (no files).

## Settings (the page's URL parameters)

| setting | value |
|---|---|
{settings}

## Scores (`metrics.json`, greedy)

| set | exact match | BLEU |
|---|---|---|
{scores}

The same run from the command line: the recipe below in a `.toml` file, then
`python -m transformer train that.toml`.

```toml
{recipe_toml(setup)}```
"""
