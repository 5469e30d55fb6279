"""The checkpoint folder: config.json, model.safetensors, tokenizer.json (+ optional metrics.json,
training_log.csv, README.md). Nothing is ever unpickled: weights are safetensors, the rest JSON.

Every problem with a folder raises CheckpointError with one line naming the file and the fault.
"""

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .model import ModelConfig, Transformer
from .tokenizer import Tokenizer

CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE, METRICS_FILE = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "metrics.json",
)
HISTORY_FILE, HISTORY_INDEX = "attention_history.safetensors", "attention_history.json"
SAMPLE_FILE = "dev_sample.tsv"  # a few dev pairs shipped with the model, for the analysis pages
FORMAT_VERSION = 1


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


def write_json(path: str | Path, data) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n"))


def read_json(path: Path) -> dict:
    if not path.is_file():
        raise CheckpointError(f"{path}: file is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return data


def unique_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """state_dict without the aliases of tied weights (safetensors stores each tensor once)."""
    seen, unique = set(), {}
    for name, tensor in model.state_dict().items():
        if tensor.data_ptr() not in seen:
            seen.add(tensor.data_ptr())
            unique[name] = tensor
    return unique


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


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(f"{path}: file is missing")
    try:
        return {k: v.float() for k, v in load_file(path).items()}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({e})") from None


def load_model(folder: str | Path) -> tuple[Transformer, Tokenizer, dict]:
    """Read a checkpoint folder -> (model in eval mode, tokenizer, config.json contents)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: checkpoint folder not found")
    config = read_json(folder / CONFIG_FILE)
    try:
        model_config = ModelConfig.from_dict(config["model"])
    except KeyError:
        raise CheckpointError(f'{folder / CONFIG_FILE}: no "model" section') from None
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{folder / CONFIG_FILE}: invalid model settings ({e})") from None

    tokenizer_path = folder / config.get("tokenizer", TOKENIZER_FILE)
    if not tokenizer_path.is_file():
        raise CheckpointError(f"{tokenizer_path}: file is missing")
    try:
        tokenizer = Tokenizer.from_file(tokenizer_path)
    except Exception as e:  # the tokenizers library raises bare Exceptions on bad JSON
        raise CheckpointError(f"{tokenizer_path}: not a valid tokenizer ({str(e).splitlines()[0]})") from None
    if tokenizer.vocab_size != model_config.tgt_vocab_size:
        raise CheckpointError(
            f"{tokenizer_path}: vocabulary of {tokenizer.vocab_size} tokens does not match "
            f"tgt_vocab_size {model_config.tgt_vocab_size} in {CONFIG_FILE}"
        )

    model = Transformer(model_config)
    weights_path = folder / WEIGHTS_FILE
    tensors = load_weights(weights_path)
    expected = unique_state_dict(model)
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(model.state_dict()))
    if missing or unexpected:
        what = f"missing tensor {missing[0]!r}" if missing else f"unexpected tensor {unexpected[0]!r}"
        raise CheckpointError(f"{weights_path}: {what} (does it match {CONFIG_FILE}?)")
    for name, tensor in tensors.items():
        if tensor.shape != expected[name].shape:
            raise CheckpointError(
                f"{weights_path}: tensor {name!r} has shape {tuple(tensor.shape)}, "
                f"{CONFIG_FILE} implies {tuple(expected[name].shape)}"
            )
    model.load_state_dict(tensors, strict=False)
    return model.eval(), tokenizer, config


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
    if not (folder / HISTORY_FILE).is_file():
        return None
    index = read_json(folder / HISTORY_INDEX)
    try:
        maps = load_file(folder / HISTORY_FILE)
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{folder / HISTORY_FILE}: corrupt or truncated safetensors file ({e})") from None
    try:
        return AttentionHistory(list(index["steps"]), list(index["probes"]), maps)
    except (KeyError, TypeError):
        raise CheckpointError(f'{folder / HISTORY_INDEX}: expected "steps" and "probes"') from None


def write_dev_sample(folder: str | Path, pairs: list[tuple[str, str]]) -> None:
    """source<TAB>reference lines (tabs and newlines inside a sentence become spaces)."""
    clean = lambda text: " ".join(text.split())  # noqa: E731
    lines = "".join(f"{clean(s)}\t{clean(t)}\n" for s, t in pairs)
    atomic_write(Path(folder) / SAMPLE_FILE, lambda tmp: Path(tmp).write_text(lines, encoding="utf-8"))


def load_dev_sample(folder: str | Path) -> list[tuple[str, str]]:
    """The checkpoint's dev sample as (source, reference) pairs; [] if it ships none."""
    path = Path(folder) / SAMPLE_FILE
    if not path.is_file():
        return []
    try:
        rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line]
    except UnicodeDecodeError as e:
        raise CheckpointError(f"{path}: not UTF-8 ({e})") from None
    if any(len(row) != 2 for row in rows):
        raise CheckpointError(f"{path}: every line must be source<TAB>reference")
    return [(s, t) for s, t in rows]
