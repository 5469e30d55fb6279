"""The Train page's settings as a training recipe: the values `python -m transformer train` reads
(recipe_values), the Recipe the page's run trains (recipe_for), and the same as a TOML file to run
from the command line (recipe_toml, with a small writer for the few types a recipe holds).

No Streamlit, no session state.
"""

import tempfile
from pathlib import Path

from transformer.data import toy_task_pairs
from transformer.recipe import Recipe
from webapp.trainer.settings import TASK_TITLES, TrainSetup, setup_problems

TRAIN_PAIRS, DEV_PAIRS, TEST_PAIRS = 20_000, 200, 500


def probe_pair(setup: TrainSetup) -> tuple[str, str]:
    """The sequence whose attention is watched: one of the longest the task has."""
    [pair] = toy_task_pairs(setup.task, 1, 7, setup.max_len, setup.max_len, setup.symbols, setup.shift)
    return pair


def training_problems(setup: TrainSetup) -> list[str]:
    """Why these settings cannot be trained (empty if they can): settings.setup_problems, then the
    checks of the recipe they make, the model's memory among them (transformer.limits)."""
    problems = setup_problems(setup)
    if not problems:
        try:
            recipe_for(setup, Path(tempfile.gettempdir()))
        except ValueError as error:
            problems.append(str(error))
    return problems


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
