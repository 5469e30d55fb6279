"""Training (§5): label-smoothed cross-entropy, Adam with the warm-up schedule, token-count
batches, resumable state, DistributedDataParallel, checkpoint averaging and export.

A run lives in `run_dir` (state.pt, snapshots/, probes/, training_log.csv, tokenizer.json) and is
exported to a checkpoint folder when it reaches max_steps. Kill it at any moment (SIGKILL
included) and the same command resumes from the last saved state: every file is written to a
temporary name and renamed, and the dropout noise of each step is seeded from the step itself,
so a resumed run computes exactly what an uninterrupted one would.
"""

import contextlib
import csv
import json
import math
import os
import platform
import shutil
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from .analysis import write_importance_report
from .checkpoint import (
    HISTORY_FILE,
    HISTORY_INDEX,
    METRICS_FILE,
    atomic_write,
    check_tensors,
    load_dev_sample,
    load_model,
    read_tensors,
    replace_folder,
    save_checkpoint,
    unique_state_dict,
    write_dev_sample,
    write_json,
)
from .data import (
    SYMBOLS,
    TASKS,
    Example,
    Pair,
    ReadStats,
    collate,
    encode_pairs,
    read_parallel,
    read_tsv,
    reverse_task_pairs,
    split_pairs,
    token_batches,
    toy_task_pairs,
)
from .evaluation import evaluate, score, translate_all
from .model import ModelConfig, Transformer
from .objective import learning_rate
from .options import TRAINING_PRECISIONS
from .precision import autocast, output_layer_by_columns
from .threads import ThreadGovernor, configure_threads
from .tokenizer import Tokenizer
from .translator import Translator
from .validation import check_decoding, check_fields, check_model_settings, dataclass_hints

SAMPLE_SIZE = 100  # dev pairs shipped with a checkpoint (spread over the whole dev set)
LOG_FIELDS = ["step", "epoch", "tokens", "train_loss", "lr", "dev_loss", "dev_bleu", "elapsed_s"]


# -- recipes ---------------------------------------------------------------------------------
@dataclass
class TrainSettings:
    max_steps: int
    max_tokens: int = 4096  # padded tokens (sentences x longest side) per micro-batch
    accumulate: int = 1  # micro-batches per optimizer step on each process
    warmup: int = 4000
    lr_scale: float = 1.0
    adam_betas: tuple[float, float] = (0.9, 0.98)
    adam_eps: float = 1e-9
    label_smoothing: float = 0.1
    clip_norm: float = 1.0
    eval_every: int = 500
    log_every: int = 50
    save_minutes: float = 5.0  # resumable state at least this often
    save_every: int = 0  # ... and every this many steps (0: only by the clock)
    snapshot_every: int = 0  # weights kept for averaging this often (0: at each evaluation)
    average_last: int = 5  # the last snapshots averaged into the exported weights
    dev_loss_sentences: int = 2000
    dev_bleu_sentences: int = 300
    max_sentence_tokens: int = 100  # longer pairs are left out of training
    threads: int = 0  # torch threads per process (0: the idle cores, followed as they change)
    precision: str = "fp32"  # "bf16": matrix products in bfloat16 under autocast (transformer.precision)

    def __post_init__(self):
        if self.precision not in TRAINING_PRECISIONS:
            raise ValueError(f"[train] precision must be {' or '.join(TRAINING_PRECISIONS)}, got {self.precision!r}")


TRAIN_RANGES = {  # TrainSettings fields with bounds: (low, high), None for none
    **dict.fromkeys(["max_steps", "max_tokens", "accumulate", "warmup", "eval_every", "log_every"], (1, None)),
    **dict.fromkeys(["average_last", "dev_loss_sentences", "dev_bleu_sentences"], (1, None)),
    **dict.fromkeys(["lr_scale", "adam_eps", "clip_norm", "save_minutes", "save_every", "snapshot_every"], (0, None)),
    "threads": (0, None),
    "label_smoothing": (0, 1),
    "max_sentence_tokens": (2, None),  # a token and EOS
}
TOKENIZER_DECIDES = {"src_vocab_size": 4, "tgt_vocab_size": 4, "pad_id": 0, "bos_id": 1, "eos_id": 2}  # stand-ins
DATA_SOURCES = {"parallel": ("src", "tgt"), "tsv": ("path",), "reverse": ("count", "seed")}  # kind -> the keys it needs
DATA_SOURCES["task"] = ("task", "count", "seed")  # a toy task of TASKS, generated
SOURCE_TYPES = {"kind": str, "src": str, "tgt": str, "path": str, "split": str, "dev_fraction": float}
SOURCE_TYPES |= {"test_fraction": float, "count": int, "seed": int, "min_len": int, "max_len": int, "repeat": int}
SOURCE_RANGES = {"dev_fraction": (0, 1), "test_fraction": (0, 1), "count": (0, None), "min_len": (1, None)}
SOURCE_RANGES |= {"max_len": (1, None), "repeat": (1, None)}
SOURCE_TYPES |= {"task": str, "symbols": int, "shift": int}
SOURCE_RANGES |= {"symbols": (1, len(SYMBOLS)), "shift": (0, None)}


@dataclass
class Recipe:
    name: str
    output: str  # the checkpoint folder written at the end
    run_dir: str  # resumable state lives here (not shipped)
    source_language: str
    target_language: str
    model: dict  # ModelConfig fields except the vocabulary sizes, which the tokenizer decides
    train: TrainSettings
    data: dict  # {"train": [source...], "dev": [...], "test": {name: [source...]}}
    tokenizer: dict = field(default_factory=lambda: {"kind": "bpe", "vocab_size": 8000})
    decoding: dict = field(default_factory=dict)
    seed: int = 1
    probes: list[list[str]] = field(default_factory=list)  # (source, reference) pairs
    description: str = ""

    @classmethod
    def load(cls, path: str | Path, **overrides) -> "Recipe":
        """Read a TOML recipe with every field checked: a bad one fails here in one line (ValueError
        naming the file and the field), before any data is read or any training time is spent."""
        try:
            with open(path, "rb") as f:
                values = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: not valid TOML ({e})") from None
        return cls.from_values({**values, **overrides}, str(path))

    @classmethod
    def from_values(cls, values: dict, path: str = "recipe") -> "Recipe":
        """A recipe from the tables a TOML file would hold (built in memory, e.g. by the app's Train
        page), checked as load checks a file; messages name `path`."""
        values = dict(values)
        hints, required = dataclass_hints(cls)
        check_fields(values, {**hints, "train": dict}, str(path), required=required)
        train_hints, train_required = dataclass_hints(TrainSettings)
        check_fields(values["train"], train_hints, f"{path} [train]", TRAIN_RANGES, train_required)
        if decided := sorted(set(values["model"]) & set(TOKENIZER_DECIDES)):
            raise ValueError(f"{path} [model]: {decided[0]!r} is decided by the tokenizer, leave it out")
        check_model_settings({**TOKENIZER_DECIDES, **values["model"]}, f"{path} [model]")
        check_decoding(values.get("decoding", {}), f"{path} [decoding]")
        tokenizer = values.get("tokenizer", {"kind": "bpe", "vocab_size": 8000})
        check_fields(tokenizer, {"kind": str, "vocab_size": int}, f"{path} [tokenizer]", {"vocab_size": (5, None)})
        kind = tokenizer.get("kind")
        if kind not in ("bpe", "wordlevel") or (kind == "bpe" and "vocab_size" not in tokenizer):
            raise ValueError(f'{path} [tokenizer]: kind must be "wordlevel", or "bpe" with a vocab_size')
        if any(len(probe) != 2 for probe in values.get("probes", [])):
            raise ValueError(f"{path}: every probe must be a [source, reference] pair")
        check_data(values["data"], f"{path} [data]")
        values["train"] = TrainSettings(**values["train"])
        return cls(**values)


def check_data(data, where: str) -> None:
    """[data]: train and dev lists of sources and test a table of named lists; each source a
    table of a known kind with the keys it needs."""
    check_fields(data, {"train": list, "dev": list, "test": dict}, where, required=("train", "dev"))
    splits = {"train": data["train"], "dev": data["dev"], **{f"test.{k}": v for k, v in data.get("test", {}).items()}}
    for split, specs in splits.items():
        for spec in specs if isinstance(specs, list) else [None]:
            check_fields(spec, SOURCE_TYPES, f"{where} {split}", SOURCE_RANGES, ("kind",))
            needs = DATA_SOURCES.get(spec["kind"])
            if needs is None:
                raise ValueError(f"{where} {split}: unknown kind {spec['kind']!r} (known: {', '.join(DATA_SOURCES)})")
            if missing := [key for key in needs if key not in spec]:
                raise ValueError(f"{where} {split}: a {spec['kind']} source needs {missing[0]!r}")
            if spec["kind"] == "task" and spec["task"] not in TASKS:
                raise ValueError(f"{where} {split}: unknown task {spec['task']!r} (known: {', '.join(TASKS)})")
            if spec.get("min_len", 1) > spec.get("max_len", spec.get("min_len", 1)):
                raise ValueError(f"{where} {split}: min_len is above max_len")


def load_pairs(spec: dict, data_dir: Path) -> tuple[list[Pair], ReadStats]:
    """One data source of a recipe: kind = "parallel" | "tsv" | "reverse" | "task"."""
    kind = spec["kind"]
    if kind == "parallel":
        return read_parallel(data_dir / spec["src"], data_dir / spec["tgt"])
    if kind == "tsv":
        pairs, stats = read_tsv(data_dir / spec["path"])
        if "split" in spec:
            pairs = split_pairs(pairs, spec["split"], spec.get("dev_fraction", 0.02), spec.get("test_fraction", 0.03))
        return pairs, stats
    if kind == "reverse":
        return reverse_task_pairs(
            spec["count"], spec["seed"], spec.get("min_len", 1), spec.get("max_len", 20)
        ), ReadStats()
    if kind == "task":
        options = {key: spec[key] for key in ("min_len", "max_len", "symbols", "shift") if key in spec}
        return toy_task_pairs(spec["task"], spec["count"], spec["seed"], **options), ReadStats()
    raise ValueError(f"unknown data kind {kind!r}")


def describe_sources(specs: list[dict]) -> str:
    """The files (or generated sets) of a split, for messages."""
    return ", ".join(spec.get("path") or spec.get("src") or f"the {spec['kind']} task" for spec in specs) or "nothing"


def load_split(specs: list[dict], data_dir: Path) -> tuple[list[Pair], ReadStats]:
    """All sources of a split; a source with repeat = N counts N times (upsampling)."""
    pairs, stats = [], ReadStats()
    for spec in specs:
        more, more_stats = load_pairs(spec, data_dir)
        pairs += more * spec.get("repeat", 1)
        stats = stats + more_stats
    return pairs, stats


# -- distributed -----------------------------------------------------------------------------
@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def setup_distributed() -> Dist:
    """torchrun sets WORLD_SIZE/RANK/LOCAL_RANK: gloo on CPU, nccl on GPUs."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(int(os.environ.get("RANK", "0")), world, device)


# -- batches ---------------------------------------------------------------------------------
class BatchStream:
    """The endless sequence of micro-batches: epoch e uses token_batches(seed + e). Its position
    (epoch, cursor) is part of the saved state."""

    def __init__(self, examples: list[Example], max_tokens: int, seed: int, epoch: int = 0, cursor: int = 0):
        self.examples, self.max_tokens, self.seed = examples, max_tokens, seed
        self.epoch, self.cursor = epoch, cursor
        self.batches = token_batches(examples, max_tokens, seed + epoch)

    def take(self, count: int) -> list[list[int]]:
        taken = []
        while len(taken) < count:
            if self.cursor == len(self.batches):
                self.epoch, self.cursor = self.epoch + 1, 0
                self.batches = token_batches(self.examples, self.max_tokens, self.seed + self.epoch)
            taken.append(self.batches[self.cursor])
            self.cursor += 1
        return taken


# -- the run ---------------------------------------------------------------------------------
class TrainingRun:
    def __init__(self, recipe: Recipe, data_dir: str | Path = "../shared/data", progress: bool = True):
        self.recipe, self.settings = recipe, recipe.train
        self.data_dir = Path(data_dir)
        self.run_dir = Path(recipe.run_dir)
        self.progress = progress
        self.dist = setup_distributed()
        configure_threads(self.settings.threads)
        # Unless told how many, follow the load while training: other work on the machine takes
        # cores from us, and gives them back, without either side crawling (transformer.threads).
        self.governor = ThreadGovernor() if not self.settings.threads else None
        self._prepare_data()
        self._build_model()

    def say(self, message: str) -> None:
        if self.dist.main:
            tqdm.write(message)

    # data and tokenizer
    def _prepare_data(self) -> None:
        recipe, settings = self.recipe, self.settings
        train_pairs, stats = load_split(recipe.data["train"], self.data_dir)
        dev_pairs, dev_stats = load_split(recipe.data["dev"], self.data_dir)
        self.say(
            f"data: {len(train_pairs)} train pairs ({stats.bad} bad lines, {stats.duplicates} duplicates, "
            f"{stats.empty} empty), {len(dev_pairs)} dev pairs ({dev_stats.bad} bad lines)"
        )
        for example in stats.examples:
            self.say(f"  bad line: {example}")
        # Checked now, not at the first evaluation hours later.
        for split, pairs, split_stats in (("train", train_pairs, stats), ("dev", dev_pairs, dev_stats)):
            if not pairs:
                raise ValueError(
                    f"{recipe.name}: no usable {split} pair in {describe_sources(recipe.data[split])} ({split_stats.read} lines read, "
                    f"{split_stats.bad} bad, {split_stats.empty} empty, {split_stats.duplicates} duplicates)"
                )
        tokenizer_path = self.run_dir / "tokenizer.json"
        if self.dist.main and not tokenizer_path.exists():
            # Learned on the training split only, source and target together (joint vocabulary).
            texts = [side for pair in train_pairs for side in pair]
            if recipe.tokenizer["kind"] == "bpe":
                tokenizer = Tokenizer.train_bpe(texts, recipe.tokenizer["vocab_size"])
            else:
                tokenizer = Tokenizer.train_word_level(texts)
            atomic_write(tokenizer_path, tokenizer.save)
        self.dist.barrier()
        self.tokenizer = Tokenizer.from_file(tokenizer_path)
        self.train_examples = encode_pairs(self.tokenizer, train_pairs, settings.max_sentence_tokens)
        if not self.train_examples:
            raise ValueError(
                f"{recipe.name}: every training pair is longer than max_sentence_tokens {settings.max_sentence_tokens}"
            )
        self.dev_pairs = dev_pairs
        self.dev_examples = encode_pairs(
            self.tokenizer, dev_pairs[: settings.dev_loss_sentences], settings.max_sentence_tokens
        )
        self.probes = [tuple(p) for p in recipe.probes] or dev_pairs[:3]
        self.say(f"tokenizer: {self.tokenizer.vocab_size} tokens; {len(self.train_examples)} training examples kept")

    def _build_model(self) -> None:
        recipe, settings = self.recipe, self.settings
        vocab = self.tokenizer.vocab_size
        ids = {"pad_id": self.tokenizer.pad_id, "bos_id": self.tokenizer.bos_id, "eos_id": self.tokenizer.eos_id}
        self.config = ModelConfig(src_vocab_size=vocab, tgt_vocab_size=vocab, **ids, **recipe.model)
        torch.manual_seed(recipe.seed)  # same initial weights on every rank
        self.model = Transformer(self.config).to(self.dist.device)
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=0.0, betas=tuple(settings.adam_betas), eps=settings.adam_eps
        )
        self.step, self.tokens, self.elapsed = 0, 0, 0.0
        # The train loss summed since the last log row, and over how many steps: saved with the
        # state, so that a row after a resume averages the same steps as without one.
        self.window_loss, self.window_steps = 0.0, 0
        self.stream = BatchStream(self.train_examples, settings.max_tokens, recipe.seed)
        self._resume()
        self.ddp = torch.nn.parallel.DistributedDataParallel(self.model) if self.dist.world > 1 else None

    # state
    @property
    def state_path(self) -> Path:
        return self.run_dir / "state.pt"

    def _resume(self) -> None:
        if not self.state_path.exists():
            return
        state = torch.load(self.state_path, map_location=self.dist.device, weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.tokens, self.elapsed = state["step"], state["tokens"], state["elapsed"]
        self.window_loss, self.window_steps = state.get("window_loss", 0.0), state.get("window_steps", 0)
        self.stream = BatchStream(
            self.train_examples, self.settings.max_tokens, self.recipe.seed, state["epoch"], state["cursor"]
        )
        if self.dist.main:
            self._forget_after(self.step)
        self.say(f"resumed {self.run_dir} at step {self.step} (epoch {self.stream.epoch})")

    def _forget_after(self, step: int) -> None:
        """Drop log rows, snapshots and probe maps written after the saved state (a killed run
        may have got further than its last save)."""
        log = self.run_dir / "training_log.csv"
        if log.exists():
            with log.open() as f:
                rows = [row for row in csv.DictReader(f) if int(row["step"]) <= step]
            self._write_log(rows)
        for folder in ("snapshots", "probes"):
            for path in (self.run_dir / folder).glob("step-*.safetensors"):
                if int(path.stem.split("-")[1]) > step:
                    path.unlink()

    def save_state(self) -> None:
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "tokens": self.tokens,
            "elapsed": self.elapsed,
            "window_loss": self.window_loss,
            "window_steps": self.window_steps,
            "epoch": self.stream.epoch,
            "cursor": self.stream.cursor,
        }
        atomic_write(self.state_path, lambda tmp: torch.save(state, tmp))

    def _write_log(self, rows: list[dict]) -> None:
        def write(tmp):
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, LOG_FIELDS)
                writer.writeheader()
                writer.writerows(rows)

        atomic_write(self.run_dir / "training_log.csv", write)

    def _append_log(self, row: dict) -> None:
        log = self.run_dir / "training_log.csv"
        if not log.exists():
            self._write_log([])
        with log.open("a", newline="") as f:
            csv.DictWriter(f, LOG_FIELDS).writerow(row)

    # one optimizer step
    def train_step(self) -> tuple[float, int]:
        settings, dist = self.settings, self.dist
        model = self.ddp or self.model
        micro = self.stream.take(dist.world * settings.accumulate)  # the global batch of this step
        mine = micro[dist.rank * settings.accumulate : (dist.rank + 1) * settings.accumulate]
        lr = learning_rate(self.step + 1, self.config.d_model, settings.warmup, settings.lr_scale)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        loss_total, tokens = 0.0, 0
        for j, indices in enumerate(mine):
            # Dropout noise depends only on (seed, step, global micro-batch): resumable, and the
            # same whether the global batch is spread over processes or accumulated in one.
            torch.manual_seed(self.recipe.seed * 1_000_003 + self.step * 1009 + dist.rank * settings.accumulate + j)
            src, tgt = collate(self.train_examples, indices, self.config.pad_id, dist.device)
            sync = self.ddp is None or j == len(mine) - 1
            with contextlib.nullcontext() if sync else self.ddp.no_sync():
                with autocast(settings.precision, dist.device):
                    loss, _, count = model(src, tgt[:, :-1], targets=tgt[:, 1:], smoothing=settings.label_smoothing)
                (loss / count / settings.accumulate).backward()
            loss_total += loss.item() / count.item() / settings.accumulate
            tokens += int((src != self.config.pad_id).sum() + (tgt != self.config.pad_id).sum())
        if settings.clip_norm:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), settings.clip_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return loss_total, tokens * dist.world

    # evaluation
    def translator(self) -> Translator:
        info = {"decoding": {**self.recipe.decoding, "beam_size": 1}}
        return Translator(self.model.eval(), self.tokenizer, info)

    @torch.no_grad()
    def dev_loss(self) -> float:
        self.model.eval()
        nll_sum, count_sum = 0.0, 0
        for indices in token_batches(self.dev_examples, self.settings.max_tokens, seed=0):
            src, tgt = collate(self.dev_examples, indices, self.config.pad_id, self.dist.device)
            _, nll, count = self.model(src, tgt[:, :-1], targets=tgt[:, 1:])
            nll_sum, count_sum = nll_sum + nll.item(), count_sum + count.item()
        self.model.train()
        return nll_sum / max(count_sum, 1)

    def dev_scores(self) -> dict:
        """score() of greedy translations of the first dev_bleu_sentences dev pairs (BLEU, exact match...)."""
        pairs = self.dev_pairs[: self.settings.dev_bleu_sentences]
        hypotheses = translate_all(self.translator(), [s for s, _ in pairs], beam_size=1)
        self.model.train()
        return score(hypotheses, [t for _, t in pairs])

    def probe_ids(self, source: str, reference: str) -> tuple[list[int], list[int]]:
        """Source ids and the reference as output ids: probes are teacher-forced on the reference,
        so their attention maps have the same axes at every step."""
        src_ids = self.tokenizer.encode(source)[: self.config.max_len - 1] + [self.config.eos_id]
        return src_ids, self.tokenizer.encode(reference)[: self.config.max_len - 1] + [self.config.eos_id]

    def probe_attention(self) -> dict[str, torch.Tensor]:
        """Teacher-forced attention of the probe pairs now, float16: "probe{i}.{kind}" -> (layers,
        heads, queries, keys)."""
        translator = self.translator()
        tensors = {}
        for i, probe in enumerate(self.probes):
            result = translator.explain(*self.probe_ids(*probe))
            for kind, maps in result.attention.items():
                tensors[f"probe{i}.{kind}"] = maps.half().contiguous()
        self.model.train()
        return tensors

    def save_probes(self) -> None:
        """The probes' attention at this step, for the app's replay of training."""
        tensors = self.probe_attention()
        atomic_write(self.run_dir / "probes" / f"step-{self.step:07d}.safetensors", lambda tmp: save_file(tensors, tmp))

    def save_snapshot(self) -> None:
        folder = self.run_dir / "snapshots"
        tensors = {k: v.detach().cpu().contiguous() for k, v in unique_state_dict(self.model).items()}
        atomic_write(folder / f"step-{self.step:07d}.safetensors", lambda tmp: save_file(tensors, tmp))
        for old in sorted(folder.glob("step-*.safetensors"))[: -self.settings.average_last]:
            old.unlink()

    def evaluate_now(self, train_loss: float, lr: float) -> dict:
        """Score the dev set, save the probes' attention, log; the log row with the dev exact match."""
        dev_loss, scores = self.dev_loss(), self.dev_scores()
        bleu = scores["bleu"]
        self.save_probes()
        row = self._row(train_loss, lr, dev_loss=round(dev_loss, 4), dev_bleu=bleu)
        self._append_log(row)
        self.say(
            f"step {self.step}: dev loss {dev_loss:.3f} (ppl {math.exp(min(dev_loss, 50)):.1f}), dev BLEU {bleu:.2f}"
        )
        return row | {"dev_exact_match": scores["exact_match"]}

    def _row(self, train_loss: float, lr: float, **extra) -> dict:
        return {
            "step": self.step,
            "epoch": self.stream.epoch,
            "tokens": self.tokens,
            "train_loss": round(train_loss, 4),
            "lr": f"{lr:.3e}",
            "elapsed_s": round(self.elapsed, 1),
            "dev_loss": "",
            "dev_bleu": "",
            **extra,
        }

    # the loop
    def run(
        self, max_minutes: float | None = None, on_step: Callable[["TrainingRun", dict | None], bool] | None = None
    ) -> bool:
        """Train until max_steps (returns True) or until max_minutes pass or on_step asks to stop
        (returns False). on_step(run, row), if given, is called after every step with the log row
        written at that step (None if none; an evaluation's row adds dev_exact_match); a true
        return stops the run, resumably: run() again goes on exactly as if it had not stopped.
        (One process only: on_step is for the app's Train page, not for a distributed run.)"""
        settings, dist = self.settings, self.dist
        self.model.train()
        started, last_save = time.monotonic(), time.monotonic()
        bar = tqdm(
            total=settings.max_steps,
            initial=self.step,
            desc=self.recipe.name,
            unit="step",
            disable=not (self.progress and dist.main),
            dynamic_ncols=True,
        )
        window_tokens, window_start = 0, time.monotonic()
        while self.step < settings.max_steps:
            row = None
            t0 = time.monotonic()
            loss, tokens = self.train_step()
            self.elapsed += time.monotonic() - t0
            if self.governor:
                self.governor.check()
            self.tokens += tokens
            self.window_loss, self.window_steps = self.window_loss + loss, self.window_steps + 1
            window_tokens += tokens
            lr = self.optimizer.param_groups[0]["lr"]
            bar.update(1)
            if dist.main and (
                self.step % (settings.snapshot_every or settings.eval_every) == 0 or self.step == settings.max_steps
            ):
                self.save_snapshot()
            if (
                self.step % settings.log_every == 0
                or self.step % settings.eval_every == 0
                or self.step == settings.max_steps
            ):
                rate = window_tokens / max(time.monotonic() - window_start, 1e-9)
                train_loss = self.window_loss / self.window_steps
                bar.set_postfix(loss=f"{train_loss:.3f}", lr=f"{lr:.2e}", tok_s=f"{rate:.0f}")
                if dist.main:
                    if self.step % settings.eval_every == 0 or self.step == settings.max_steps:
                        row = self.evaluate_now(train_loss, lr)
                    else:
                        row = self._row(train_loss, lr)
                        self._append_log(row)
                self.window_loss, self.window_steps, window_tokens, window_start = 0.0, 0, 0, time.monotonic()
            out_of_time = max_minutes is not None and time.monotonic() - started > 60 * max_minutes
            asked_to_stop = on_step is not None and bool(on_step(self, row))
            due = time.monotonic() - last_save > 60 * settings.save_minutes or (
                settings.save_every and self.step % settings.save_every == 0
            )
            if dist.main and (due or out_of_time or asked_to_stop or self.step == settings.max_steps):
                self.save_state()
                last_save = time.monotonic()
            dist.barrier()
            if (out_of_time or asked_to_stop) and self.step < settings.max_steps:
                bar.close()
                if out_of_time:
                    self.say(f"stopped after {max_minutes} minutes at step {self.step}; run the same command to resume")
                return False
        bar.close()
        return True

    # export
    def averaged_model(self) -> Transformer:
        """The mean of the last `average_last` snapshots (the paper averages its last checkpoints)."""
        paths = sorted((self.run_dir / "snapshots").glob("step-*.safetensors"))[-self.settings.average_last :]
        if not paths:
            return self.model
        model, total = Transformer(self.config), None
        for path in paths:
            tensors = read_tensors(path)
            check_tensors(path, tensors, model, "saved by another [model] setting of this run?")
            total = tensors if total is None else {k: total[k] + tensors[k] for k in total}
        model.load_state_dict({k: v / len(paths) for k, v in total.items()}, strict=False)
        self.say(f"averaged {len(paths)} snapshots: {', '.join(p.stem for p in paths)}")
        return model.eval()

    def export(self) -> Path:
        """Write the checkpoint folder: built beside it under a temporary name, then swapped in, so
        that a run killed while exporting leaves the previous folder (or none), never one without
        metrics.json."""
        output = Path(self.recipe.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp"))
        try:
            staging.chmod(0o755)  # mkdtemp makes an owner-only folder; a checkpoint is meant to be shared
            self._write_checkpoint(staging)
            replace_folder(staging, output)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return output

    def _write_checkpoint(self, output: Path) -> None:
        recipe = self.recipe
        model = self.averaged_model().cpu()
        info = {
            "name": recipe.name,
            "description": recipe.description,
            "source_language": recipe.source_language,
            "target_language": recipe.target_language,
            "decoding": recipe.decoding,
            "training": {
                "steps": self.step,
                "tokens": self.tokens,
                "hours": round(self.elapsed / 3600, 2),
                "processes": self.dist.world,
                "hardware": f"{platform.machine()}, {os.cpu_count()} CPU cores"
                + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""),
                "averaged_snapshots": min(
                    self.settings.average_last, len(list((self.run_dir / "snapshots").glob("*.safetensors")))
                ),
            },
        }
        save_checkpoint(output, model, self.tokenizer, info)
        shutil.copyfile(self.run_dir / "training_log.csv", output / "training_log.csv")
        write_dev_sample(output, self.dev_pairs[:: max(1, len(self.dev_pairs) // SAMPLE_SIZE)][:SAMPLE_SIZE])
        self._export_probes(output)
        # Scored as shipped (the weights read back: stored in float16, they score a little
        # differently from the fp32 average), on the training device: a GPU run should not wait
        # for the CPU here; laid out as load_checkpoint lays it out, so `evaluate` scores the same.
        shipped, _, _ = load_model(output)
        output_layer_by_columns(shipped)
        translator = Translator(shipped.to(self.dist.device), self.tokenizer, info)
        metrics = {}
        # The dev score covers the same slice as the dev loss; test sets are scored whole.
        sets = {"dev": self.dev_pairs[: self.settings.dev_loss_sentences]}
        sets |= {name: load_split(specs, self.data_dir)[0] for name, specs in self.recipe.data.get("test", {}).items()}
        for name, pairs in sets.items():
            sources, references = [s for s, _ in pairs], [t for _, t in pairs]
            self.say(f"scoring {name} ({len(pairs)} sentences)")
            metrics[name] = evaluate(translator, sources, references, progress=self.progress)
            self.say(f"  {name}: {json.dumps({k: v for k, v in metrics[name].items() if 'signature' not in k})}")
        write_json(output / METRICS_FILE, metrics)
        self.say("head importance and pruning curve on the dev sample (for the app's Analysis page)")
        write_importance_report(output, translator, load_dev_sample(output))

    def _export_probes(self, output: Path) -> None:
        """All probe snapshots in one safetensors file (keys step{N}.probe{i}.{kind}) and their
        token labels in a JSON file beside it."""
        tensors, steps = {}, []
        for path in sorted((self.run_dir / "probes").glob("step-*.safetensors")):
            step = int(path.stem.split("-")[1])
            steps.append(step)
            tensors.update({f"step{step}.{k}": v for k, v in load_file(path).items()})
        if not tensors:
            return
        probes = []
        for source, reference in self.probes:
            src_ids, out_ids = self.probe_ids(source, reference)
            probes.append(
                {
                    "source": source,
                    "reference": reference,
                    "source_tokens": self.tokenizer.tokens(src_ids),
                    "target_tokens": self.tokenizer.tokens([self.config.bos_id] + out_ids[:-1]),
                }
            )
        atomic_write(output / HISTORY_FILE, lambda tmp: save_file(tensors, tmp))
        write_json(output / HISTORY_INDEX, {"steps": steps, "probes": probes})


def train(recipe: Recipe, data_dir: str | Path, max_minutes: float | None = None, progress: bool = True) -> Path | None:
    """Run (or resume) a recipe; export its checkpoint once max_steps is reached."""
    run = TrainingRun(recipe, data_dir, progress)
    finished = run.run(max_minutes)
    output = run.export() if finished and run.dist.main else None
    run.dist.barrier()
    return output
