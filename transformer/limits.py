"""Every bound on what a file, a recipe or an option may ask for, in one place, with the checks
that apply them before anything is allocated: the model's size from its settings (parameters,
and for training the optimiser state and one batch's activations) against the memory this
process may use, and the parsing of JSON and TOML with bounded nesting, digits and strings.

Plain Python (no torch): the command line checks its options with these before torch loads.
Each limit is far above what any model or corpus here needs and far below what would exhaust a
laptop; a value past one is refused in one line naming the file (or option) and the field.
"""

import json
import os
import resource
import stat
import tomllib
from pathlib import Path

# -- the model (config.json's "model", a recipe's [model]) ----------------------------------------
MAX_LAYERS = 64  # encoder or decoder layers each (the paper's big model: 6)
MAX_HEADS = 256
MAX_WIDTH = 16_384  # d_model (the paper's big model: 1024)
MAX_FF_WIDTH = 65_536  # d_ff (big: 4096)
MAX_VOCABULARY = 1_048_576  # tokens of one vocabulary (ours: 8,000)
MAX_POSITIONS = 65_536  # a model's max_len: its positional table (max_len x d_model) is allocated in full
# -- decoding and the command line --------------------------------------------------------------
MAX_BEAM_SIZE = 64
MAX_THREADS = 256  # more threads than cores only slow OpenMP down; 50,000 crashed libgomp
MAX_BATCH_TOKENS = 262_144  # padded tokens of one batch (translation or training): ours are 2,048-8,192
# -- training (a recipe's [train] and [data]) -----------------------------------------------------
MAX_ACCUMULATE = 1024  # micro-batches per optimizer step
MAX_STEPS = 100_000_000
MAX_TRAINING_TOKENS = 10**12  # max_steps x max_tokens x accumulate: the paper's big model saw ~10^11
MAX_GENERATED_PAIRS = 5_000_000  # a toy task's count (ours: 50,000)
MAX_REPEAT = 100  # a source's upsampling (ours: 3)
MAX_SPLIT_PAIRS = 20_000_000  # count x repeat summed over a split's generated sources
MAX_TASK_LENGTH = 1_000  # symbols of a toy task's sequence (ours: 20)
MAX_AVERAGED = 100  # snapshots averaged at export (the paper: 5)
MAX_SEED = 2**32 - 1  # [0, 2^32): with the step mixed in, torch.manual_seed never overflows
# -- files -------------------------------------------------------------------------------------
# The most a checkpoint's file of each kind is read: far above what any model here needs, far
# below what would exhaust the memory (a link to /dev/zero, a huge file put in the folder by
# mistake). A weights file is bounded by its config too: 4 bytes a parameter and the header.
MAX_TEXT_BYTES, MAX_TOKENIZER_BYTES, MAX_TENSOR_BYTES = 16 << 20, 64 << 20, 2 << 30
HEADER_BYTES = 1 << 20  # a safetensors header: the names, shapes and offsets of the tensors
MAX_RECIPE_BYTES = 1 << 20
MAX_LINE_BYTES = 1 << 16  # a line of a data file (a sentence pair: ours are < 1 KB)
MAX_DATA_BYTES = 4 << 30  # a data file, decompressed (ours: 40 MB)
MAX_DEPTH = 32  # nesting of JSON arrays and objects, TOML tables and arrays (ours: 4)
MAX_INT_DIGITS = 20  # every integer in JSON or TOML: int64 has 19 digits
MAX_STRING_CHARS = 100_000  # every string (and key) in JSON or TOML
HEADROOM = 0.8  # the share of the available memory a model may plan to use
GiB = 1 << 30


# -- memory ---------------------------------------------------------------------------------------
def parameter_count(model: dict) -> int:
    """The parameters of a Transformer with these checked ModelConfig fields (validation.model_fields:
    all of them): the embeddings
    (one matrix if tied, else source, target and output), attention (4 d x d + bias), the
    feed-forward (2 d x d_ff + biases) and LayerNorms (2 d) of every layer."""
    d, ff = model["d_model"], model["d_ff"]
    encoder, decoder = model["n_encoder_layers"], model["n_decoder_layers"]
    attention, feed_forward, norm = 4 * (d * d + d), 2 * d * ff + ff + d, 2 * d
    layers = encoder * (attention + feed_forward + 2 * norm) + decoder * (2 * attention + feed_forward + 3 * norm)
    source, target = model["src_vocab_size"], model["tgt_vocab_size"]
    embeddings = target * d if model["tie_embeddings"] else (source + 2 * target) * d
    return layers + embeddings + (2 * norm if model["pre_norm"] else 0)


def inference_bytes(model: dict) -> int:
    """Memory to load and run a model: float32 weights, the file's float16 copy while it is
    converted, and the positional table."""
    return (4 + 4) * parameter_count(model) + 4 * model["max_len"] * model["d_model"]


def training_bytes(model: dict, batch_tokens: int, longest: int) -> int:
    """Memory to train: weights, gradients and Adam's two moments (16 bytes a parameter), and one
    batch's activations: per token and layer about 16 d + 2 d_ff floats, the attention maps
    (heads x longest keys, three kinds) and the output logits with their gradient."""
    d, ff, heads = model["d_model"], model["d_ff"], model["n_heads"]
    layers = model["n_encoder_layers"] + model["n_decoder_layers"]
    per_token = layers * (16 * d + 2 * ff + 3 * heads * longest) + 3 * model["tgt_vocab_size"]
    return 16 * parameter_count(model) + 4 * batch_tokens * per_token


def available_memory() -> int:
    """The bytes this process may still allocate: the least of the machine's MemAvailable, the
    room left under its address-space limit (ulimit -v) and its cgroup's memory.max."""
    room = [_meminfo_available()]
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        room.append(soft - _own_address_space())
    room.append(_cgroup_room())
    return max(0, min(r for r in room if r is not None))


def _meminfo_available() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def _own_address_space() -> int:
    try:
        return int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _cgroup_room() -> int | None:
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        return None if limit == "max" else int(limit) - int(used)
    except (OSError, ValueError):
        return None


def check_memory(needed: int, where: str, what: str) -> None:
    """ValueError naming `where` unless `needed` bytes fit in the memory this process may use."""
    room = int(HEADROOM * available_memory())
    if needed > room:
        raise ValueError(
            f"{where}: {what} needs about {needed / GiB:,.1f} GiB, more than the {room / GiB:,.1f} GiB "
            f"this machine has free"
        )


# -- files and parsing ------------------------------------------------------------------------------
def lies_inside(folder: str | Path, name) -> bool:
    """Whether folder/name lies inside folder once every link is resolved: a checkpoint or a recipe
    from elsewhere must not make us open /etc/passwd or another folder's files. realpath, not
    resolve: a symlink loop is reported when the file is read."""
    try:
        return isinstance(name, str) and Path(os.path.realpath(Path(folder) / name)).is_relative_to(
            os.path.realpath(folder)
        )
    except ValueError:  # a NUL in the name
        return False


def check_readable(path: str | Path, max_bytes: int) -> None:
    """ValueError saying why path is not a readable regular file of at most max_bytes (missing,
    unreadable, a directory, a device or pipe, too large); nothing is opened."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ValueError(f"{path}: file is missing") from None
    except (OSError, ValueError) as e:  # a symlink loop, a NUL in the name ...
        raise ValueError(f"{path}: cannot be read ({getattr(e, 'strerror', None) or e})") from None
    if stat.S_ISDIR(info.st_mode):
        raise ValueError(f"{path}: a directory, not a file")
    if not stat.S_ISREG(info.st_mode):  # a device or a pipe would never end, or block
        raise ValueError(f"{path}: not a regular file")
    if info.st_size > max_bytes:
        raise ValueError(f"{path}: {info.st_size:,} bytes, more than the {max_bytes:,} this file may have")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{path}: cannot be read (permission denied)")


def read_file(path: str | Path, max_bytes: int) -> bytes:
    """The contents of a regular file of at most max_bytes; anything else raises ValueError saying
    which (check_readable)."""
    check_readable(path, max_bytes)
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise ValueError(f"{path}: cannot be read ({e.strerror or e})") from None
    if len(data) > max_bytes:  # it grew after the check
        raise ValueError(f"{path}: more than the {max_bytes:,} bytes this file may have")
    return data


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text.lstrip('-')):,} digits, more than {MAX_INT_DIGITS}")
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > 2 * MAX_INT_DIGITS + 10:
        raise ValueError(f"a number written with {len(text):,} characters")
    return float(text)


def check_structure(value, where: str, depth: int = 1) -> None:
    """ValueError naming `where` if a parsed value nests deeper than MAX_DEPTH, holds a string or
    key longer than MAX_STRING_CHARS, or an integer of more than MAX_INT_DIGITS digits."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{where}: nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str) and len(value) > MAX_STRING_CHARS:
        raise ValueError(f"{where}: a string of {len(value):,} characters, more than {MAX_STRING_CHARS:,}")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**MAX_INT_DIGITS:
        raise ValueError(f"{where}: an integer of more than {MAX_INT_DIGITS} digits")
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        check_structure(key, where, depth)
        check_structure(item, where, depth + 1)


def parse_json(data: bytes, where: str):
    """A JSON document, bounded as check_structure says; ValueError naming `where` otherwise."""
    try:
        value = json.loads(data.decode("utf-8"), parse_int=_bounded_int, parse_float=_bounded_float)
    except RecursionError:
        raise ValueError(f"{where}: nested more than {MAX_DEPTH} levels deep") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{where}: not UTF-8 ({e.reason} at byte {e.start})") from None
    except ValueError as e:  # JSONDecodeError, and the bounds above
        raise ValueError(f"{where}: not valid JSON ({e})") from None
    check_structure(value, where)
    return value


def parse_toml(data: bytes, where: str) -> dict:
    """A TOML document, bounded as check_structure says; ValueError naming `where` otherwise."""
    try:
        value = tomllib.loads(data.decode("utf-8"), parse_float=_bounded_float)
    except RecursionError:
        raise ValueError(f"{where}: nested more than {MAX_DEPTH} levels deep") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{where}: not UTF-8 ({e.reason} at byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{where}: not valid TOML ({e})") from None
    except ValueError:  # Python's own bound on int() (4,300 digits), and _bounded_float's
        raise ValueError(f"{where}: a number of more than {MAX_INT_DIGITS} digits") from None
    check_structure(value, where)
    return value
