"""Parallel data: reading, cleaning, splitting and batching by token count.

Readers never crash on a bad line: they count it in ReadStats and move on.
"""

import gzip
import hashlib
import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

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
    path = Path(path)
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    with gzip.open(path, "rb") if gzipped else path.open("rb") as f:
        for line in f:
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


def reverse_task_pairs(count: int, seed: int, min_len: int = 1, max_len: int = 20) -> list[Pair]:
    """The toy task: 1-20 symbols from a-z0-9 -> the same symbols reversed."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        symbols = rng.choices(SYMBOLS, k=rng.randint(min_len, max_len))
        pairs.append((" ".join(symbols), " ".join(reversed(symbols))))
    return pairs


Example = tuple[list[int], list[int]]  # (source ids ending in EOS, target ids BOS ... EOS)


def token_batches(examples: list[Example], max_tokens: int, seed: int) -> list[list[int]]:
    """Group example indices into batches of similar length whose padded size
    (sentences x longest side) stays within max_tokens; the batch order is shuffled.
    Deterministic for a given seed, so a resumed run finds the same batches."""
    rng = random.Random(seed)
    size = lambda i: max(len(examples[i][0]), len(examples[i][1]))  # noqa: E731
    # Random tie-breaking among equal lengths so each epoch groups different sentences.
    order = sorted(range(len(examples)), key=lambda i: (size(i), rng.random()))
    batches, current, longest = [], [], 0
    for i in order:
        longest_if_added = max(longest, size(i))
        if current and longest_if_added * (len(current) + 1) > max_tokens:
            batches.append(current)
            current, longest_if_added = [], size(i)
        current.append(i)
        longest = longest_if_added
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches
