"""The training recipe (§5): one TOML file in configs/ says what to train on, how big a model, and
how long (Recipe, TrainSettings), and where the checkpoint goes. Every field is checked when the
file is read, so that a mistake costs one line on the command line, not an hour of training.

Its [data] tables name the sources of each split (load_split): parallel files, a tab-separated
corpus cut into train/dev/test by a hash of each source sentence (transformer.data.split_of), or a
generated toy task. How each shipped corpus is cut is fixed once, in CORPUS_SPLITS.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from .data import (
    SYMBOLS,
    TASKS,
    Pair,
    ReadStats,
    read_parallel,
    read_tsv,
    reverse_task_pairs,
    split_pairs,
    toy_task_pairs,
)
from .limits import (
    MAX_ACCUMULATE,
    MAX_AVERAGED,
    MAX_BATCH_TOKENS,
    MAX_DATA_BYTES,
    MAX_GENERATED_PAIRS,
    MAX_POSITIONS,
    MAX_RECIPE_BYTES,
    MAX_REPEAT,
    MAX_SEED,
    MAX_SPLIT_PAIRS,
    MAX_STEPS,
    MAX_TASK_LENGTH,
    MAX_THREADS,
    MAX_TRAINING_TOKENS,
    check_memory,
    check_readable,
    lies_inside,
    parse_toml,
    read_file,
    training_bytes,
)
from .options import TRAINING_PRECISIONS
from .tokenizer import Tokenizer
from .validation import check_decoding, check_fields, check_model_settings, dataclass_hints, model_fields


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
    **dict.fromkeys(["max_steps", "warmup", "eval_every", "log_every"], (1, MAX_STEPS)),
    **dict.fromkeys(["dev_loss_sentences", "dev_bleu_sentences"], (1, None)),
    **dict.fromkeys(["lr_scale", "adam_eps", "clip_norm", "save_minutes", "save_every", "snapshot_every"], (0, None)),
    "max_tokens": (1, MAX_BATCH_TOKENS),
    "accumulate": (1, MAX_ACCUMULATE),
    "average_last": (1, MAX_AVERAGED),
    "threads": (0, MAX_THREADS),
    "label_smoothing": (0, 1),
    "max_sentence_tokens": (2, MAX_POSITIONS),  # a token and EOS
}
TOKENIZER_DECIDES = {"src_vocab_size": 4, "tgt_vocab_size": 4, "pad_id": 0, "bos_id": 1, "eos_id": 2}  # stand-ins
DEFAULT_TOKENIZER = {"kind": "bpe", "vocab_size": 8000}

# -- data sources ------------------------------------------------------------------------------
DATA_SOURCES = {"parallel": ("src", "tgt"), "tsv": ("path",), "reverse": ("count", "seed")}  # kind -> the keys it needs
DATA_SOURCES["task"] = ("task", "count", "seed")  # a toy task of TASKS, generated
SOURCE_TYPES = {"kind": str, "src": str, "tgt": str, "path": str, "split": str, "dev_fraction": float}
SOURCE_TYPES |= {"test_fraction": float, "count": int, "seed": int, "min_len": int, "max_len": int, "repeat": int}
SOURCE_RANGES = {"dev_fraction": (0, 1), "test_fraction": (0, 1), "count": (0, MAX_GENERATED_PAIRS)}
SOURCE_RANGES |= {"min_len": (1, MAX_TASK_LENGTH), "max_len": (1, MAX_TASK_LENGTH), "repeat": (1, MAX_REPEAT)}
SOURCE_RANGES |= {"seed": (0, MAX_SEED)}
SOURCE_TYPES |= {"task": str, "symbols": int, "shift": int}
SOURCE_RANGES |= {"symbols": (1, len(SYMBOLS)), "shift": (0, None)}
SPLITS = ("train", "dev", "test")
FRACTIONS = ("dev_fraction", "test_fraction")

# How each corpus the shipped checkpoints learned from is cut (split_of): the share of its source
# sentences held out for dev and for test. Fixed here, once. A recipe that cut one of these files
# otherwise would move sentences between the splits: it would train on the test sentences of
# checkpoints/en-de, en-fr or en-es (or test on their training sentences), and no score could be
# compared. A recipe may leave the fractions out or restate them; any other value is refused.
TATOEBA_SPLIT = {"dev_fraction": 0.02, "test_fraction": 0.03}
CORPUS_SPLITS = {
    "tatoeba-anki/deu-eng/deu.txt.gz": TATOEBA_SPLIT,  # checkpoints/en-de
    "tatoeba-anki/fra-eng/fra.txt.gz": TATOEBA_SPLIT,  # checkpoints/en-fr
    "tatoeba-anki/spa-eng/spa.txt.gz": TATOEBA_SPLIT,  # checkpoints/en-es
}


def fixed_split(path: str) -> dict | None:
    """CORPUS_SPLITS' entry for a corpus path however it is spelled (./x, an absolute path
    ending in it), or None for a corpus of one's own."""
    parts = PurePath(path).parts
    for corpus, fractions in CORPUS_SPLITS.items():
        if parts[-len(PurePath(corpus).parts) :] == PurePath(corpus).parts:
            return fractions
    return None


def split_fractions(spec: dict, where: str = "data source") -> tuple[float, float]:
    """(dev_fraction, test_fraction) that cut a tsv source: the corpus' own (CORPUS_SPLITS),
    which the spec may restate but not change, else the spec's, which it must then give."""
    fixed = fixed_split(spec["path"])
    for name in FRACTIONS:
        if fixed is None and name not in spec:
            raise ValueError(f"{where}: a split of {spec['path']} needs {name!r} (no shipped model fixes it)")
        if fixed is not None and spec.get(name, fixed[name]) != fixed[name]:
            raise ValueError(
                f"{where}: {name!r} {spec[name]} differs from the {fixed[name]} that cuts {spec['path']} for the "
                f"shipped models: their test sentences could land in training; leave it out"
            )
    fractions = fixed or spec
    return fractions["dev_fraction"], fractions["test_fraction"]


def check_source(spec, where: str) -> tuple[float, float] | None:
    """One source of a split: a table of a known kind with the keys it needs. Returns the
    (dev_fraction, test_fraction) that cut it, for a tsv source with a split, else None."""
    check_fields(spec, SOURCE_TYPES, where, SOURCE_RANGES, ("kind",))
    needs = DATA_SOURCES.get(spec["kind"])
    if needs is None:
        raise ValueError(f"{where}: unknown kind {spec['kind']!r} (known: {', '.join(DATA_SOURCES)})")
    if missing := [key for key in needs if key not in spec]:
        raise ValueError(f"{where}: a {spec['kind']} source needs {missing[0]!r}")
    if spec["kind"] == "task" and spec["task"] not in TASKS:
        raise ValueError(f"{where}: unknown task {spec['task']!r} (known: {', '.join(TASKS)})")
    if spec.get("min_len", 1) > spec.get("max_len", spec.get("min_len", 1)):
        raise ValueError(f"{where}: min_len is above max_len")
    if spec["kind"] == "tsv" and "split" in spec:
        if spec["split"] not in SPLITS:
            raise ValueError(f"{where}: 'split' must be one of {', '.join(SPLITS)}, got {spec['split']!r}")
        return split_fractions(spec, where)
    return None


def check_data(data, where: str) -> None:
    """[data]: train and dev lists of sources and test a table of named lists; each source
    checked by check_source, and every split of one corpus cut by the same fractions (else a
    sentence could be in two splits)."""
    check_fields(data, {"train": list, "dev": list, "test": dict}, where, required=("train", "dev"))
    cuts = {}  # corpus path -> (its fractions, the split that first named them)
    for split, specs in data_splits(data).items():
        for spec in specs if isinstance(specs, list) else [None]:
            fractions = check_source(spec, f"{where} {split}")
            if fractions is None:
                continue
            first, first_split = cuts.setdefault(PurePath(spec["path"]), (fractions, split))
            if fractions != first:
                raise ValueError(
                    f"{where} {split}: {spec['path']} is cut by (dev_fraction, test_fraction) {fractions} here "
                    f"but {first} in {first_split}: a sentence could be in both"
                )
        generated = sum(spec.get("count", 0) * spec.get("repeat", 1) for spec in specs)
        if generated > MAX_SPLIT_PAIRS:
            raise ValueError(
                f"{where} {split}: {generated:,} generated pairs (count x repeat), more than {MAX_SPLIT_PAIRS:,}"
            )


def data_splits(data: dict) -> dict[str, list]:
    """[data]'s splits by name: train, dev, test.NAME -> its sources."""
    return {"train": data["train"], "dev": data["dev"], **{f"test.{k}": v for k, v in data.get("test", {}).items()}}


def data_file(data_dir: Path, name: str) -> Path:
    """The data file a recipe names, data_dir / name; ValueError unless it lies inside the data
    folder once symlinks are followed: a downloaded recipe must not read any file it likes
    (../../etc/passwd, an absolute path, a link out) as training data."""
    path = data_dir / name
    if not lies_inside(data_dir, name):
        raise ValueError(
            f"{path}: outside the data folder {os.path.realpath(data_dir)}; a recipe reads only files in it "
            "(pass --data-dir to use another folder)"
        )
    return path


def check_data_files(recipe: "Recipe", data_dir: Path) -> None:
    """ValueError naming the recipe, the split and the file unless every file of every split
    (test sets included: they are read at export, hours later) is a readable regular file inside
    the data folder (data_file)."""
    for split, specs in data_splits(recipe.data).items():
        for spec in specs:
            for key in ("src", "tgt", "path"):
                if key in spec:
                    try:
                        check_readable(data_file(data_dir, spec[key]), MAX_DATA_BYTES)
                    except ValueError as e:
                        raise ValueError(f"{recipe.where} [data] {split} {key}: {e}") from None


def check_optimizer(train: dict, where: str) -> None:
    """Adam's settings, which torch would refuse only at the first step, or not at all."""
    betas, eps = train.get("adam_betas", (0.9, 0.98)), train.get("adam_eps", 1e-9)
    if not all(0 <= beta < 1 for beta in betas):
        raise ValueError(f"{where}: 'adam_betas' must each be in [0, 1), got {list(betas)}")
    if not eps > 0:
        raise ValueError(f"{where}: 'adam_eps' must be > 0, got {eps}")
    tokens = train["max_steps"] * train.get("max_tokens", 4096) * train.get("accumulate", 1)
    if tokens > MAX_TRAINING_TOKENS:
        raise ValueError(
            f"{where}: max_steps x max_tokens x accumulate is {tokens:,} tokens, more than {MAX_TRAINING_TOKENS:,}"
        )


def check_training_memory(model: dict, train: dict, vocabulary: int, where: str) -> None:
    """ValueError naming `where` unless training this model (weights, gradients, Adam, one batch)
    fits in memory: asked before any tensor is allocated."""
    full = model_fields({**TOKENIZER_DECIDES, **model, "src_vocab_size": vocabulary, "tgt_vocab_size": vocabulary})
    needed = training_bytes(full, train.get("max_tokens", 4096), train.get("max_sentence_tokens", 100))
    check_memory(needed, where, f"training this model ({vocabulary:,} tokens, [train] max_tokens)")


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
    tokenizer: dict = field(default_factory=lambda: dict(DEFAULT_TOKENIZER))
    decoding: dict = field(default_factory=dict)
    seed: int = 1
    probes: list[list[str]] = field(default_factory=list)  # (source, reference) pairs
    description: str = ""
    where: str = field(default="recipe", compare=False)  # the file, for messages; not a TOML key

    @classmethod
    def load(cls, path: str | Path, **overrides) -> "Recipe":
        """Read a TOML recipe with every field checked: a bad one fails here in one line (ValueError
        naming the file and the field), before any data is read or any training time is spent."""
        values = parse_toml(read_file(path, MAX_RECIPE_BYTES), str(path))
        return cls.from_values({**values, **overrides}, str(path))

    @classmethod
    def from_values(cls, values: dict, path: str = "recipe") -> "Recipe":
        """A recipe from the tables a TOML file would hold (built in memory, e.g. by the app's Train
        page), checked as load checks a file; messages name `path`."""
        values = dict(values)
        hints, required = dataclass_hints(cls)
        del hints["where"]
        check_fields(values, {**hints, "train": dict}, str(path), {"seed": (0, MAX_SEED)}, required)
        train_hints, train_required = dataclass_hints(TrainSettings)
        check_fields(values["train"], train_hints, f"{path} [train]", TRAIN_RANGES, train_required)
        check_optimizer(values["train"], f"{path} [train]")
        if decided := sorted(set(values["model"]) & set(TOKENIZER_DECIDES)):
            raise ValueError(f"{path} [model]: {decided[0]!r} is decided by the tokenizer, leave it out")
        check_model_settings({**TOKENIZER_DECIDES, **values["model"]}, f"{path} [model]")
        check_decoding(values.get("decoding", {}), f"{path} [decoding]")
        tokenizer = values.get("tokenizer", DEFAULT_TOKENIZER)
        check_fields(tokenizer, {"kind": str, "vocab_size": int}, f"{path} [tokenizer]", {"vocab_size": (5, None)})
        kind = tokenizer.get("kind")
        if kind not in ("bpe", "wordlevel") or (kind == "bpe" and "vocab_size" not in tokenizer):
            raise ValueError(f'{path} [tokenizer]: kind must be "wordlevel", or "bpe" with a vocab_size')
        if any(len(probe) != 2 for probe in values.get("probes", [])):
            raise ValueError(f"{path}: every probe must be a [source, reference] pair")
        check_data(values["data"], f"{path} [data]")
        vocabulary = tokenizer.get("vocab_size", TOKENIZER_DECIDES["src_vocab_size"])  # a word list's: found later
        check_training_memory(values["model"], values["train"], vocabulary, f"{path} [model]")
        values["train"] = TrainSettings(**values["train"])
        return cls(**values, where=str(path))


# -- reading the data ------------------------------------------------------------------------------
def load_pairs(spec: dict, data_dir: Path) -> tuple[list[Pair], ReadStats]:
    """One data source of a recipe: kind = "parallel" | "tsv" | "reverse" | "task"."""
    kind = spec["kind"]
    if kind == "parallel":
        return read_parallel(data_file(data_dir, spec["src"]), data_file(data_dir, spec["tgt"]))
    if kind == "tsv":
        pairs, stats = read_tsv(data_file(data_dir, spec["path"]))
        if "split" in spec:
            pairs = split_pairs(pairs, spec["split"], *split_fractions(spec))
        return pairs, stats
    if kind == "reverse":
        return reverse_task_pairs(
            spec["count"], spec["seed"], spec.get("min_len", 1), spec.get("max_len", 20)
        ), ReadStats()
    if kind == "task":
        options = {key: spec[key] for key in ("min_len", "max_len", "symbols", "shift") if key in spec}
        return toy_task_pairs(spec["task"], spec["count"], spec["seed"], **options), ReadStats()
    raise ValueError(f"unknown data kind {kind!r}")


def load_split(specs: list[dict], data_dir: Path) -> tuple[list[Pair], ReadStats]:
    """All sources of a split; a source with repeat = N counts N times (upsampling)."""
    pairs, stats = [], ReadStats()
    for spec in specs:
        more, more_stats = load_pairs(spec, data_dir)
        pairs += more * spec.get("repeat", 1)
        stats = stats + more_stats
    return pairs, stats


def describe_sources(specs: list[dict]) -> str:
    """The files (or generated sets) of a split, for messages."""
    return ", ".join(spec.get("path") or spec.get("src") or f"the {spec['kind']} task" for spec in specs) or "nothing"


def check_usable(recipe: Recipe, split: str, pairs: list[Pair], stats: ReadStats) -> None:
    """ValueError naming the split's files unless it kept a pair (an empty or unreadable file)."""
    if not pairs:
        raise ValueError(
            f"{recipe.name}: no usable {split} pair in {describe_sources(recipe.data[split])} ({stats.read} lines read, "
            f"{stats.bad} bad, {stats.empty} empty, {stats.duplicates} duplicates)"
        )


def learn_tokenizer(settings: dict, pairs: list[Pair]) -> Tokenizer:
    """The recipe's [tokenizer], learned on the training pairs only, source and target together
    (one joint vocabulary, §5.1)."""
    texts = [side for pair in pairs for side in pair]
    if settings["kind"] == "bpe":
        return Tokenizer.train_bpe(texts, settings["vocab_size"])
    return Tokenizer.train_word_level(texts)
