"""Parallel data: reading, cleaning, splitting and batching by token count (§5.1).

Readers never crash on a bad line: they count it in ReadStats and move on. The corpora live
outside the repository, in transformer.options.default_data_dir().
"""

import gzip
import hashlib
import random
import unicodedata
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .limits import MAX_DATA_BYTES, MAX_LINE_BYTES, check_readable
from .tokenizer import Tokenizer

Pair = tuple[str, str]  # (source, target)
SYMBOLS = "abcdefghijklmnopqrstuvwxyz0123456789"  # the toy reversal task's alphabet


@dataclass
class ReadStats:
    read: int = 0  # lines seen
    bad: int = 0  # undecodable, or with the wrong number of columns
    empty: int = 0
    duplicates: int = 0
    examples: list[str] = field(default_factory=list)  # a few bad lines, for the report

    def bad_line(self, where: str) -> None:
        self.bad += 1
        if len(self.examples) < 5:
            self.examples.append(where)

    def __add__(self, other: "ReadStats") -> "ReadStats":
        return ReadStats(
            self.read + other.read,
            self.bad + other.bad,
            self.empty + other.empty,
            self.duplicates + other.duplicates,
            (self.examples + other.examples)[:5],
        )


def normalize(text: str) -> str:
    """NFKC (folds the non-breaking spaces U+00A0 / U+202F), single spaces, trimmed."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _raw_lines(path: str | Path) -> Iterator[bytes]:
    """The lines of a regular text file, plain or gzip, streamed: ValueError at the first line over
    MAX_LINE_BYTES or holding a NUL (a binary file), or once MAX_DATA_BYTES are read."""
    path = Path(path)
    check_readable(path, MAX_DATA_BYTES)  # a device, a pipe or a folder is refused unopened
    try:
        with path.open("rb") as probe:
            gzipped = probe.read(2) == b"\x1f\x8b"
        with gzip.open(path, "rb") if gzipped else path.open("rb") as f:
            yield from _bounded_lines(f, path)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:  # a cut download: the whole file is suspect
        raise ValueError(f"{path}: truncated or corrupt gzip file ({e})") from None
    except OSError as e:
        raise ValueError(f"{path}: cannot be read ({e.strerror or e})") from None


def _bounded_lines(f, path: Path) -> Iterator[bytes]:
    total, number = 0, 0
    while line := f.readline(MAX_LINE_BYTES + 1):
        number, total = number + 1, total + len(line)
        if len(line) > MAX_LINE_BYTES:
            raise ValueError(f"{path}:{number}: a line longer than {MAX_LINE_BYTES:,} bytes, the most a line may have")
        if b"\0" in line:
            raise ValueError(f"{path}:{number}: a NUL byte: a binary file, not text")
        if total > MAX_DATA_BYTES:
            raise ValueError(f"{path}: more than {MAX_DATA_BYTES:,} bytes of text, the most a data file may have")
        yield line.rstrip(b"\r\n")


def read_lines(path: str | Path, stats: ReadStats) -> list[str | None]:
    """Lines of a plain or gzip UTF-8 file; an undecodable line becomes None (and is counted)."""
    lines: list[str | None] = []
    for number, raw in enumerate(_raw_lines(path), 1):
        stats.read += 1
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            stats.bad_line(f"{path}:{number}: not UTF-8")
            lines.append(None)
    return lines


def read_parallel(src_path: str | Path, tgt_path: str | Path) -> tuple[list[Pair], ReadStats]:
    """Line i of src_path translates line i of tgt_path (Multi30k layout)."""
    stats, tgt_stats = ReadStats(), ReadStats()
    sources, targets = read_lines(src_path, stats), read_lines(tgt_path, tgt_stats)
    if len(sources) != len(targets):
        raise ValueError(f"{src_path} has {len(sources)} lines but {tgt_path} has {len(targets)}")
    stats.bad += tgt_stats.bad
    stats.examples += tgt_stats.examples
    pairs = _clean(((s, t) for s, t in zip(sources, targets) if s is not None and t is not None), stats)
    return pairs, stats


def read_tsv(path: str | Path) -> tuple[list[Pair], ReadStats]:
    """Tab-separated pairs, `source<TAB>target` per line (the Tatoeba/manythings layout)."""
    stats = ReadStats()
    rows = []
    for number, line in enumerate(read_lines(path, stats), 1):
        if line is None:
            continue
        columns = line.split("\t")
        if len(columns) != 2:
            stats.bad_line(f"{path}:{number}: {len(columns)} columns, expected 2")
            continue
        rows.append((columns[0], columns[1]))
    return _clean(rows, stats), stats


def _clean(pairs, stats: ReadStats) -> list[Pair]:
    """Normalise, drop empty sides and exact duplicate pairs (first occurrence kept)."""
    seen, kept = set(), []
    for source, target in pairs:
        pair = (normalize(source), normalize(target))
        if not pair[0] or not pair[1]:
            stats.empty += 1
        elif pair in seen:
            stats.duplicates += 1
        else:
            seen.add(pair)
            kept.append(pair)
    return kept


def split_of(source: str, dev_fraction: float, test_fraction: float, salt: str = "") -> str:
    """'train', 'dev' or 'test' from a hash of the source sentence: deterministic on any
    machine, and every translation of one source sentence lands on the same side."""
    digest = hashlib.sha256(f"{salt}{source}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return "test" if u < test_fraction else "dev" if u < test_fraction + dev_fraction else "train"


def split_pairs(pairs: list[Pair], split: str, dev_fraction: float, test_fraction: float, salt: str = "") -> list[Pair]:
    return [p for p in pairs if split_of(p[0], dev_fraction, test_fraction, salt) == split]


# The toy tasks: a sequence of symbols -> the same symbols rearranged. Each has its own pattern of
# encoder-decoder attention: reverse an anti-diagonal, copy the diagonal, rotate a shifted diagonal,
# swap (the halves exchanged) two diagonal blocks that look half a sequence away, sort a permutation
# that depends on the symbols themselves.
TASKS = {
    "reverse": lambda symbols, shift: symbols[::-1],
    "copy": lambda symbols, shift: symbols,
    "sort": lambda symbols, shift: sorted(symbols, key=SYMBOLS.index),
    "rotate": lambda symbols, shift: symbols[shift % len(symbols) :] + symbols[: shift % len(symbols)],
    "swap": lambda symbols, shift: symbols[len(symbols) // 2 :] + symbols[: len(symbols) // 2],
}


def toy_task_pairs(
    task: str, count: int, seed: int, min_len: int = 1, max_len: int = 20, symbols: int = len(SYMBOLS), shift: int = 1
) -> list[Pair]:
    """count pairs of a toy task (TASKS): min_len..max_len symbols drawn uniformly from the first
    `symbols` of SYMBOLS, space-separated -> the task's rearrangement (rotate: left by shift)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r} (known: {', '.join(TASKS)})")
    if not 1 <= min_len <= max_len or not 1 <= symbols <= len(SYMBOLS):
        raise ValueError(f"need 1 <= min_len <= max_len and 1 <= symbols <= {len(SYMBOLS)}")
    rng, alphabet, rearrange = random.Random(seed), SYMBOLS[:symbols], TASKS[task]
    pairs = []
    for _ in range(count):
        sequence = rng.choices(alphabet, k=rng.randint(min_len, max_len))
        pairs.append((" ".join(sequence), " ".join(rearrange(sequence, shift))))
    return pairs


def reverse_task_pairs(count: int, seed: int, min_len: int = 1, max_len: int = 20) -> list[Pair]:
    """The toy task of checkpoints/toy-reverse: 1-20 symbols from a-z0-9 -> the same reversed."""
    return toy_task_pairs("reverse", count, seed, min_len, max_len)


Example = tuple[list[int], list[int]]  # (source ids ending in EOS, target ids BOS ... EOS)


def length_batches(
    lengths: list[int], max_tokens: int, max_sentences: int | None = None, rng: random.Random | None = None
) -> list[list[int]]:
    """Indices grouped into batches of similar length, shortest first, whose padded size
    (sentences x the longest of them) stays within max_tokens, and at most max_sentences each.
    With rng, equal lengths come in random order (each epoch groups different sentences)."""
    key = (lambda i: (lengths[i], rng.random())) if rng else lengths.__getitem__
    batches: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=key):
        batch = batches[-1] if batches else []
        if not batch or len(batch) == max_sentences or (len(batch) + 1) * lengths[i] > max_tokens:
            batches.append([i])
        else:
            batch.append(i)
    return batches


def token_batches(examples: list[Example], max_tokens: int, seed: int) -> list[list[int]]:
    """Training batches: length_batches by the longer side, in shuffled order. Deterministic
    for a given seed, so a resumed run finds the same batches."""
    rng = random.Random(seed)
    batches = length_batches([max(len(src), len(tgt)) for src, tgt in examples], max_tokens, rng=rng)
    rng.shuffle(batches)
    return batches


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


# -- to model inputs ---------------------------------------------------------------------------
def encode_pairs(tokenizer: Tokenizer, pairs: list[Pair], max_tokens: int) -> list[Example]:
    """(source ids + EOS, BOS + target ids + EOS); pairs with a side over max_tokens are dropped."""
    sources = tokenizer.encode_batch([s for s, _ in pairs])
    targets = tokenizer.encode_batch([t for _, t in pairs])
    bos, eos = tokenizer.bos_id, tokenizer.eos_id
    return [
        (s + [eos], [bos] + t + [eos])
        for s, t in zip(sources, targets)
        if len(s) < max_tokens and len(t) < max_tokens - 1
    ]


def collate(examples: list[Example], indices: list[int], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """The examples at `indices` as padded id tensors: sources (B, S) and targets (B, T)."""

    def padded(rows: list[list[int]]) -> torch.Tensor:
        longest = max(map(len, rows))
        return torch.tensor([row + [pad_id] * (longest - len(row)) for row in rows], device=device)

    return padded([examples[i][0] for i in indices]), padded([examples[i][1] for i in indices])
