"""Issue #28's bar: damaged checkpoints, recipes, data files and options, each run through the command
line in a subprocess bounded in time (60 s) and memory (3 GB of address space), must end with exit 2
and exactly one stderr line naming the damaged file or option, never a traceback, a hang or a crash.

Each case is a function of a scratch folder returning (command-line arguments, what the line must
name). The cases use only what the command line reads, so that this file also measures a tree
without the limits (issue #28: 2 of 15 before)."""

import json
import os
import resource
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.helpers import ROOT, cli_env

TOY = ROOT / "checkpoints" / "toy-reverse"
TIME_LIMIT_S, MEMORY_LIMIT = 60, 3 << 30


def run_cli(args: list[str], cwd=None) -> subprocess.CompletedProcess:
    """python -m transformer ARGS with at most TIME_LIMIT_S seconds and MEMORY_LIMIT bytes of
    address space: a hang or a runaway allocation fails the test instead of stalling the suite."""

    def bounded():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    return subprocess.run(
        [sys.executable, "-m", "transformer", *args],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=TIME_LIMIT_S,
        preexec_fn=bounded,
        env=cli_env(),
        cwd=cwd or ROOT,
        stdin=subprocess.DEVNULL,
    )


# -- checkpoints -----------------------------------------------------------------------------
def _copy(tmp_path):
    folder = tmp_path / "ckpt"
    shutil.copytree(TOY, folder)
    return folder


def _config_change(**model):
    def case(tmp_path):
        folder = _copy(tmp_path)
        config = json.loads((folder / "config.json").read_text())
        config["model"].update(model)
        (folder / "config.json").write_text(json.dumps(config))
        return ["translate", "--checkpoint", str(folder), "a b c"], str(folder / "config.json")

    return case


def _config_text(field, text):
    """config.json with `text` written, as it is, for the value of the model's `field`."""

    def case(tmp_path):
        folder = _copy(tmp_path)
        config = json.loads((folder / "config.json").read_text())
        config["model"][field] = "@@"
        (folder / "config.json").write_text(json.dumps(config).replace('"@@"', text))
        return ["translate", "--checkpoint", str(folder), "a b c"], str(folder / "config.json")

    return case


def _weights(change):
    def case(tmp_path):
        folder = _copy(tmp_path)
        tensors = load_file(folder / "model.safetensors")
        name = sorted(tensors)[0]
        tensors[name] = change(tensors[name])
        save_file(tensors, folder / "model.safetensors")
        return ["translate", "--checkpoint", str(folder), "a b c"], name

    return case


def _link(name, target):
    def case(tmp_path):
        folder = _copy(tmp_path)
        (folder / name).unlink()
        (folder / name).symlink_to(target(tmp_path))
        return ["translate", "--checkpoint", str(folder), "a b c"], str(folder / name)

    return case


def _elsewhere_weights(tmp_path):
    other = tmp_path / "other.safetensors"
    shutil.copy(TOY / "model.safetensors", other)
    return other


def _huge_weights(tmp_path):
    folder = _copy(tmp_path)
    with open(folder / "model.safetensors", "r+b") as f:
        f.truncate(3 << 30)  # sparse: no disk used
    return ["translate", "--checkpoint", str(folder), "a b c"], str(folder / "model.safetensors")


def _nan(tensor):
    tensor = tensor.clone()
    tensor.view(-1)[0] = float("nan")
    return tensor


def _inf(tensor):
    return torch.full_like(tensor, float("inf"))


# -- recipes ---------------------------------------------------------------------------------
RECIPE = """
name = "damaged"
output = "{out}/checkpoint"
run_dir = "{out}/run"
source_language = "x"
target_language = "y"
seed = {seed}
tokenizer = {{ kind = "wordlevel" }}

[model]
d_model = {d_model}
n_heads = 2
n_encoder_layers = {layers}
n_decoder_layers = 1
d_ff = 32
max_len = 24

[train]
max_steps = {steps}
max_tokens = 256
eval_every = 5
adam_betas = {betas}
adam_eps = {eps}

[data]
train = [{train}]
dev = [{{ kind = "task", task = "copy", count = 20, seed = 2 }}]
test = {{ fresh = [{test}] }}
"""
TASK = '{ kind = "task", task = "copy", count = %s, seed = 1 }'
MISSING_TSV = '{ kind = "tsv", path = "missing.tsv", dev_fraction = 0.1, test_fraction = 0.1 }'


def _recipe(args=(), **fields):
    def case(tmp_path):
        values = dict(seed=1, d_model=16, layers=1, steps=5, betas="[0.9, 0.98]", eps="1e-9")
        values |= dict(train=TASK % 50, test=TASK % 10, out=tmp_path)
        values |= {k: v(tmp_path) if callable(v) else v for k, v in fields.items()}
        recipe = tmp_path / "recipe.toml"
        recipe.write_text(RECIPE.format(**values))
        return ["train", str(recipe), "--data-dir", str(tmp_path), "--no-progress", *args], str(recipe)

    return case


def _recipe_text(change):
    def case(tmp_path):
        args, named = _recipe()(tmp_path)
        recipe = tmp_path / "recipe.toml"
        recipe.write_text(change(recipe.read_text()))
        return args, named

    return case


def _data(make):
    """A recipe whose training data is the parallel pair (make(tmp_path), a good target file)."""

    def train(tmp_path):
        (tmp_path / "good.txt").write_text("a b\n")
        make(tmp_path / "bad")
        return '{ kind = "parallel", src = "bad", tgt = "good.txt" }'

    def case(tmp_path):
        args, _ = _recipe(train=train)(tmp_path)
        return args, str(tmp_path / "bad")

    return case


def _escaping_data(tmp_path):
    """A recipe whose training data is a file beside the data folder, named by ..: refused."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (tmp_path / "secret.txt").write_text("a b\n")
    args, _ = _recipe(train='{ kind = "parallel", src = "../secret.txt", tgt = "../secret.txt" }')(tmp_path)
    args[args.index("--data-dir") + 1] = str(data_dir)
    return args, str(data_dir / "../secret.txt")


def _long_line(path):
    path.write_bytes(b"a" * (1 << 20))


def _binary(path):
    path.write_bytes(bytes(range(256)) * 4096)


def _to_dev_zero(path):
    path.symlink_to("/dev/zero")


def _option(*args):
    def case(tmp_path):
        if args[0] == "train":
            recipe_args, _ = _recipe()(tmp_path)
            return [*recipe_args, *args[1:]], args[-2]
        return [*args, "--checkpoint", str(TOY), "a b c"], args[1]

    return case


CASES = {
    # checkpoints: sizes, parsing, weights, links
    "config: a million decoder layers": _config_change(n_decoder_layers=1_000_000),
    "config: d_model 10^12": _config_change(d_model=10**12, n_heads=1),
    "config: each size valid, together too big": _config_change(
        d_model=16_384, n_heads=16, d_ff=65_536, n_encoder_layers=64, n_decoder_layers=64
    ),
    "config: vocabulary of 10^9": _config_change(src_vocab_size=10**9, tgt_vocab_size=10**9),
    "config: nested 100,000 deep": _config_text("d_model", "[" * 100_000 + "]" * 100_000),
    "config: a 5,000-digit integer": _config_text("d_model", "9" * 5000),
    "config: a 1 MB string": _config_text("d_model", '"' + "x" * 1_000_000 + '"'),
    "weights: NaN": _weights(_nan),
    "weights: infinite": _weights(_inf),
    "weights: integers": _weights(lambda t: t.to(torch.int32)),
    "weights: link to another folder": _link("model.safetensors", _elsewhere_weights),
    "config: link to /etc/passwd": _link("config.json", lambda tmp_path: "/etc/passwd"),
    "weights: 3 GB file": _huge_weights,
    # recipes: sizes, optimiser, seed, parsing, paths
    "recipe: 5 million layers": _recipe(layers=5_000_000),
    "recipe: d_model 10^9": _recipe(d_model=10**9),
    "recipe: task count 10^12": _recipe(train=TASK % 10**12),
    "recipe: max_steps 10^12": _recipe(steps=10**12),
    "recipe: adam betas [2.0, 5.0]": _recipe(betas="[2.0, 5.0]"),
    "recipe: adam eps 0": _recipe(eps="0.0"),
    "recipe: seed 2^63-1": _recipe(seed=2**63 - 1),
    "recipe: missing test data": _recipe(test=MISSING_TSV),
    "recipe: nested 5,000 deep": _recipe_text(lambda t: t + "\nprobes = " + "[" * 5000 + "]" * 5000 + "\n"),
    "recipe: a 5,000-digit integer": _recipe(seed="9" * 5000),
    # data files
    "data: /dev/zero": _data(_to_dev_zero),
    "data: a FIFO": _data(os.mkfifo),
    "data: a directory": _data(os.mkdir),
    "data: a 1 MB line": _data(_long_line),
    "data: a binary file": _data(_binary),
    "data: outside the data folder": _escaping_data,
    # options
    "translate --threads 10000": _option("translate", "--threads", "10000"),
    "translate --threads 50000": _option("translate", "--threads", "50000"),
    "translate --beam-size 100000": _option("translate", "--beam-size", "100000"),
    "translate --max-len 10^9": _option("translate", "--max-len", "1000000000"),
    "translate --batch-tokens 10^9": _option("translate", "--batch-tokens", "1000000000"),
    "train --threads 100000": _option("train", "--threads", "100000"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_damaged_input_ends_in_one_line_naming_it(case, tmp_path):
    args, named = case(tmp_path)
    result = run_cli(args)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert named in lines[0], lines[0]
