"""The checkpoint folder: config.json, model.safetensors, tokenizer.json (+ optional metrics.json,
training_log.csv, README.md ...), each name a constant below and typed nowhere else. Nothing is
ever unpickled: weights are safetensors, the rest JSON.

Every problem with a folder raises CheckpointError with one line naming the file and the fault.
"""

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save_file

from .limits import (
    HEADER_BYTES,
    MAX_TENSOR_BYTES,
    MAX_TEXT_BYTES,
    MAX_TOKENIZER_BYTES,
    lies_inside,
    parameter_count,
    parse_json,
    read_file,
)
from .model import ModelConfig, Transformer
from .tokenizer import Tokenizer
from .validation import check_decoding, check_fields, check_model_memory, check_model_settings, model_fields

CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE, METRICS_FILE = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "metrics.json",
)
HISTORY_FILE, HISTORY_INDEX = "attention_history.safetensors", "attention_history.json"
SAMPLE_FILE = "dev_sample.tsv"  # a few dev pairs shipped with the model, for the analysis pages
LOG_FILE = "training_log.csv"  # one row per log step of the run, copied into the checkpoint at export
IMPORTANCE_FILE = "head_importance.json"  # written at export (transformer.analysis), read by the app
CARD_FILE = "README.md"  # the model card, written by hand (or by the app's Train page)
# A training run's folder (Recipe.run_dir), never shipped: the resumable state, the weight
# snapshots averaged at export, the probes' attention at each evaluation; LOG_FILE and
# TOKENIZER_FILE beside them.
STATE_FILE, SNAPSHOT_DIR, PROBE_DIR = "state.pt", "snapshots", "probes"
FORMAT_VERSION = 1
INFO_TYPES = {"name": str, "description": str, "source_language": str, "target_language": str, "training": dict}


class CheckpointError(Exception):
    """A checkpoint folder or one of its files is missing, corrupt or inconsistent."""


def atomic_write(path: str | Path, write) -> None:
    """Call write(temp_path), then rename over path: readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes owner-only files; these are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_leftovers(folder: Path, name: str = r"[^/]+") -> None:
    """Remove what a killed writer left in folder: the temporary files and staging folders of
    atomic_write and export (.NAME.xxxxxxxx.tmp) and the retired copy of replace_folder
    (.NAME.old-PID), for the entries named `name` (a regular expression), all by default."""
    leftover = re.compile(rf"\.(?:{name})\.(?:[a-z0-9_]{{8}}\.tmp|old-\d+)")
    for path in folder.glob(".*") if folder.is_dir() else ():
        if leftover.fullmatch(path.name):
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def replace_folder(staging: Path, folder: Path) -> None:
    """Put the complete folder staging in place of folder: readers see the old folder or the new
    one, never a half-written one. Files only the old folder has (a model card written by hand)
    are kept."""
    if folder.is_dir():
        for old in folder.iterdir():
            if not (staging / old.name).exists():
                (shutil.copytree if old.is_dir() else shutil.copy2)(old, staging / old.name)
        retired = folder.with_name(f".{folder.name}.old-{os.getpid()}")
        os.replace(folder, retired)
        os.replace(staging, folder)
        shutil.rmtree(retired)
    else:
        os.replace(staging, folder)


def write_json(path: str | Path, data) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n"))


def read_bytes(path: str | Path, max_bytes: int) -> bytes:
    """The contents of a file of a checkpoint (or run) folder: a regular file of at most max_bytes
    that lies inside its folder; anything else (missing, unreadable, a directory or device, too
    large, a link out of the folder) raises CheckpointError saying which."""
    path = Path(path)
    if not lies_inside(path.parent, path.name):
        raise CheckpointError(f"{path}: links to outside its folder; not read")
    try:
        return read_file(path, max_bytes)
    except ValueError as e:
        raise CheckpointError(str(e)) from None


def read_json(path: Path) -> dict:
    try:
        data = parse_json(read_bytes(path, MAX_TEXT_BYTES), str(path))
    except ValueError as e:
        raise CheckpointError(str(e)) from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return data


def unique_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """state_dict without the aliases of tied weights (safetensors stores each tensor once)."""
    seen, unique = set(), {}
    # The tensors themselves, not their data pointers: those are all 0 on the meta device.
    for name, tensor in model.state_dict(keep_vars=True).items():
        if id(tensor) not in seen:
            seen.add(id(tensor))
            unique[name] = tensor.detach()
    return unique


def check_tensors(path: Path, tensors: dict[str, torch.Tensor], model: Transformer, hint: str) -> None:
    """Raise CheckpointError unless tensors (read from path) are exactly the model's weights, tied
    ones once, each of the model's shape; hint says what to look at."""
    expected = unique_state_dict(model)
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))  # a tied weight's second name too
    if missing or unexpected:
        what = f"missing tensor {missing[0]!r}" if missing else f"unexpected tensor {unexpected[0]!r}"
        raise CheckpointError(f"{path}: {what} ({hint})")
    for name, tensor in tensors.items():
        if tensor.shape != expected[name].shape:
            raise CheckpointError(
                f"{path}: tensor {name!r} has shape {tuple(tensor.shape)}, expected {tuple(expected[name].shape)} ({hint})"
            )
        if not tensor.dtype.is_floating_point:
            raise CheckpointError(f"{path}: tensor {name!r} is {str(tensor.dtype).removeprefix('torch.')}, not float")
        if not torch.isfinite(tensor).all():
            raise CheckpointError(f"{path}: tensor {name!r} holds NaN or infinite values")


def save_checkpoint(
    folder: str | Path, model: Transformer, tokenizer: Tokenizer, info: dict, dtype: torch.dtype = torch.float16
) -> None:
    """Write model, tokenizer and config.json. info holds the rest of config.json (languages,
    default decoding settings ...)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to(dtype).contiguous() for k, v in unique_state_dict(model).items()}
    atomic_write(folder / WEIGHTS_FILE, lambda tmp: save_file(tensors, tmp))
    atomic_write(folder / TOKENIZER_FILE, tokenizer.save)
    config = {"format_version": FORMAT_VERSION, **info, "model": model.config.to_dict(), "tokenizer": TOKENIZER_FILE}
    write_json(folder / CONFIG_FILE, config)


def read_tensors(path: Path, max_bytes: int = MAX_TENSOR_BYTES) -> dict[str, torch.Tensor]:
    """A safetensors file's tensors as stored; a file over max_bytes is refused from its size,
    before it is read."""
    data = read_bytes(path, max_bytes)
    try:
        return load(data)
    except (SafetensorError, ValueError) as e:
        raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({e})") from None


def check_config(config: dict, path: Path) -> ModelConfig:
    """config.json's model settings as a ModelConfig, after checking every field that is read
    from the file (model, decoding, tokenizer, descriptions)."""
    try:
        version = config.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise ValueError(f"{path}: format_version {version!r:.20} is not {FORMAT_VERSION}, the one this code reads")
        if "model" not in config:
            raise ValueError(f'{path}: no "model" section')
        check_model_settings(config["model"], f"{path}: invalid model settings")
        check_decoding(config.get("decoding", {}), f"{path}: invalid decoding settings")
        check_fields({k: v for k, v in config.items() if k in INFO_TYPES}, INFO_TYPES, str(path))
        check_model_memory(config["model"], f'{path}: "model"')
    except ValueError as e:
        raise CheckpointError(str(e)) from None
    return ModelConfig.from_dict(config["model"])


def tokenizer_path(folder: Path, config: dict) -> Path:
    """The tokenizer file config.json names, which must lie inside the folder (lies_inside)."""
    name = config.get("tokenizer", TOKENIZER_FILE)
    if not lies_inside(folder, name):
        raise CheckpointError(
            f'{folder / CONFIG_FILE}: "tokenizer" must name a file inside the folder, got {name!r:.60}'
        )
    return folder / name


def load_model(folder: str | Path) -> tuple[Transformer, Tokenizer, dict]:
    """Read a checkpoint folder -> (model in eval mode, tokenizer, config.json contents)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: checkpoint folder not found")
    config = read_json(folder / CONFIG_FILE)
    model_config = check_config(config, folder / CONFIG_FILE)

    path = tokenizer_path(folder, config)
    text = read_bytes(path, MAX_TOKENIZER_BYTES)
    try:
        tokenizer = Tokenizer.from_str(text.decode("utf-8"))
    except Exception as e:  # the tokenizers library raises bare Exceptions on bad JSON
        raise CheckpointError(f"{path}: not a valid tokenizer ({str(e).splitlines()[0]})") from None
    for side in ("src_vocab_size", "tgt_vocab_size"):  # one joint vocabulary serves both sides
        if tokenizer.vocab_size != getattr(model_config, side):
            raise CheckpointError(
                f"{path}: vocabulary of {tokenizer.vocab_size} tokens does not match "
                f"{side} {getattr(model_config, side)} in {CONFIG_FILE}"
            )

    weights_path = folder / WEIGHTS_FILE
    # At most float32 for every weight the config asks for: a larger file is refused unread.
    tensors = read_tensors(weights_path, 4 * parameter_count(model_fields(config["model"])) + HEADER_BYTES)
    skeleton = Transformer.skeleton(model_config)  # shapes only: sizes the file does not back are never allocated
    check_tensors(weights_path, tensors, skeleton, f"does it match {CONFIG_FILE}?")
    return skeleton.assign_weights({k: v.float() for k, v in tensors.items()}).eval(), tokenizer, config


@dataclass
class AttentionHistory:
    """The probe sentences' teacher-forced attention at every evaluation of training.

    probes[i] has "source", "reference", "source_tokens" and "target_tokens" (the axes labels,
    the same at every step)."""

    steps: list[int]
    probes: list[dict]
    maps: dict[str, torch.Tensor]  # "step{N}.probe{i}.{kind}" -> (L, H, T_q, T_k), float16

    def at(self, step: int, probe: int, kind: str) -> torch.Tensor:
        return self.maps[f"step{step}.probe{probe}.{kind}"].float()


def load_attention_history(folder: str | Path) -> AttentionHistory | None:
    """A checkpoint's attention history, or None if it has none."""
    folder = Path(folder)
    if not (folder / HISTORY_FILE).exists():
        return None
    index = read_json(folder / HISTORY_INDEX)
    maps = read_tensors(folder / HISTORY_FILE)
    try:
        return AttentionHistory(list(index["steps"]), list(index["probes"]), maps)
    except (KeyError, TypeError):
        raise CheckpointError(f'{folder / HISTORY_INDEX}: expected "steps" and "probes"') from None


def write_dev_sample(folder: str | Path, pairs: list[tuple[str, str]]) -> None:
    """source<TAB>reference lines (tabs and newlines inside a sentence become spaces)."""
    clean = lambda text: " ".join(text.split())
    lines = "".join(f"{clean(s)}\t{clean(t)}\n" for s, t in pairs)
    atomic_write(Path(folder) / SAMPLE_FILE, lambda tmp: Path(tmp).write_text(lines, encoding="utf-8"))


def load_dev_sample(folder: str | Path) -> list[tuple[str, str]]:
    """The checkpoint's dev sample as (source, reference) pairs; [] if it ships none."""
    path = Path(folder) / SAMPLE_FILE
    if not path.exists():
        return []
    try:
        rows = [line.split("\t") for line in read_bytes(path, MAX_TEXT_BYTES).decode("utf-8").splitlines() if line]
    except UnicodeDecodeError as e:
        raise CheckpointError(f"{path}: not UTF-8 ({e})") from None
    if any(len(row) != 2 for row in rows):
        raise CheckpointError(f"{path}: every line must be source<TAB>reference")
    return [(s, t) for s, t in rows]
