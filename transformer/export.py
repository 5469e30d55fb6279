"""Export (§6.1): the checkpoint folder a training run ends in.

"For the base models, we used a single model obtained by averaging the last 5 checkpoints": while
it trains, a run keeps a snapshot of its weights every snapshot_every steps (only the last
average_last of them) and the probe sentences' attention at each evaluation. Export averages the
snapshots, stores the mean in float16 beside the tokenizer, the training log, a sample of the dev
set and the probes' attention history, then scores it on the recipe's dev and test sets
(metrics.json) and measures its heads (head_importance.json) for the app.
"""

import json
import os
import platform
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors.torch import load_file, save_file

from .analysis import write_importance_report
from .checkpoint import (
    HISTORY_FILE,
    HISTORY_INDEX,
    LOG_FILE,
    METRICS_FILE,
    PROBE_DIR,
    SNAPSHOT_DIR,
    atomic_write,
    check_tensors,
    load_dev_sample,
    read_tensors,
    remove_leftovers,
    replace_folder,
    save_checkpoint,
    unique_state_dict,
    write_dev_sample,
    write_json,
)
from .evaluation import evaluate
from .model import Transformer
from .recipe import load_split
from .translator import load_checkpoint

if TYPE_CHECKING:  # export reads a run; the run calls export
    from .training import TrainingRun

SAMPLE_SIZE = 100  # dev pairs shipped with a checkpoint (spread over the whole dev set)


# -- what a run keeps for its export ---------------------------------------------------------
def step_file(folder: Path, step: int) -> Path:
    """The file of one step in a run's snapshots/ or probes/ folder (named so that they sort)."""
    return folder / f"step-{step:07d}.safetensors"


def step_files(folder: Path) -> list[tuple[int, Path]]:
    """(step, file) of every step_file in folder, by step."""
    return [(int(path.stem.split("-")[1]), path) for path in sorted(folder.glob("step-*.safetensors"))]


def save_snapshot(run: "TrainingRun") -> None:
    """The weights now, for averaging; only the last average_last snapshots are kept."""
    folder = run.run_dir / SNAPSHOT_DIR
    tensors = {k: v.detach().cpu().contiguous() for k, v in unique_state_dict(run.model).items()}
    atomic_write(step_file(folder, run.step), lambda tmp: save_file(tensors, tmp))
    for _, old in step_files(folder)[: -run.settings.average_last]:
        old.unlink()


def save_probes(run: "TrainingRun") -> None:
    """The probes' attention at this step, for the app's replay of training."""
    tensors = run.probe_attention()
    atomic_write(step_file(run.run_dir / PROBE_DIR, run.step), lambda tmp: save_file(tensors, tmp))


# -- the checkpoint ----------------------------------------------------------------------------
def last_snapshots(run: "TrainingRun") -> list[Path]:
    """The run's last `average_last` snapshot files, oldest first: those export averages."""
    return [path for _, path in step_files(run.run_dir / SNAPSHOT_DIR)][-run.settings.average_last :]


def average_snapshots(run: "TrainingRun", paths: list[Path] | None = None) -> Transformer:
    """The mean of the snapshot files `paths`, by default last_snapshots(run) (the paper averages
    its last checkpoints); the model as it is if there are none."""
    paths = last_snapshots(run) if paths is None else paths
    if not paths:
        return run.model
    model, total = Transformer(run.config), None
    for path in paths:
        tensors = read_tensors(path)
        check_tensors(path, tensors, model, "saved by another [model] setting of this run?")
        total = tensors if total is None else {k: total[k] + tensors[k] for k in total}
    model.load_state_dict({k: v / len(paths) for k, v in total.items()}, strict=False)
    run.say(f"averaged {len(paths)} snapshots: {', '.join(p.stem for p in paths)}")
    return model.eval()


def export_checkpoint(run: "TrainingRun") -> Path:
    """Write the checkpoint folder (recipe.output): built beside it under a temporary name, then
    swapped in, so that a run killed while exporting leaves the previous folder (or none), never
    one without metrics.json."""
    output = Path(run.recipe.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(output.parent, re.escape(output.name))  # of an export killed before this one
    staging = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp"))
    try:
        staging.chmod(0o755)  # mkdtemp makes an owner-only folder; a checkpoint is meant to be shared
        write_checkpoint(run, staging)
        replace_folder(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return output


def checkpoint_info(run: "TrainingRun", averaged: int) -> dict:
    """config.json's description of the model and of the run that trained it (`averaged`
    snapshots averaged into its weights)."""
    recipe = run.recipe
    return {
        "name": recipe.name,
        "description": recipe.description,
        "source_language": recipe.source_language,
        "target_language": recipe.target_language,
        "decoding": recipe.decoding,
        "training": {
            "steps": run.step,
            "tokens": run.tokens,
            "hours": round(run.elapsed / 3600, 2),
            "processes": run.dist.world,
            "hardware": f"{platform.machine()}, {os.cpu_count()} CPU cores"
            + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""),
            "averaged_snapshots": averaged,
        },
    }


def write_checkpoint(run: "TrainingRun", output: Path) -> None:
    """Every file of the checkpoint folder, into output."""
    snapshots = last_snapshots(run)  # listed once: the count in config.json is of those averaged
    model = average_snapshots(run, snapshots).cpu()
    info = checkpoint_info(run, len(snapshots))
    save_checkpoint(output, model, run.tokenizer, info)
    shutil.copyfile(run.run_dir / LOG_FILE, output / LOG_FILE)
    write_dev_sample(output, run.dev_pairs[:: max(1, len(run.dev_pairs) // SAMPLE_SIZE)][:SAMPLE_SIZE])
    export_probes(run, output)
    # Scored as shipped (the weights read back: stored in float16, they score a little
    # differently from the fp32 average), on the training device: a GPU run should not wait
    # for the CPU here; loaded as the app and the CLI load it, so `evaluate` scores the same.
    translator = load_checkpoint(output)
    translator.model.to(run.dist.device)
    metrics = {}
    # The dev score covers the same slice as the dev loss; test sets are scored whole.
    sets = {"dev": run.dev_pairs[: run.settings.dev_loss_sentences]}
    sets |= {name: load_split(specs, run.data_dir)[0] for name, specs in run.recipe.data.get("test", {}).items()}
    for name, pairs in sets.items():
        sources, references = [s for s, _ in pairs], [t for _, t in pairs]
        run.say(f"scoring {name} ({len(pairs)} sentences)")
        metrics[name] = evaluate(translator, sources, references, progress=run.progress)
        run.say(f"  {name}: {json.dumps({k: v for k, v in metrics[name].items() if 'signature' not in k})}")
    write_json(output / METRICS_FILE, metrics)
    run.say("head importance and pruning curve on the dev sample (for the app's Analysis page)")
    write_importance_report(output, translator, load_dev_sample(output))


def export_probes(run: "TrainingRun", output: Path) -> None:
    """All probe snapshots in one safetensors file (keys step{N}.probe{i}.{kind}) and their
    token labels in a JSON file beside it."""
    tensors, steps = {}, []
    for step, path in step_files(run.run_dir / PROBE_DIR):
        steps.append(step)
        tensors.update({f"step{step}.{k}": v for k, v in load_file(path).items()})
    if not tensors:
        return
    probes = []
    for source, reference in run.probes:
        src_ids, out_ids = run.probe_ids(source, reference)
        probes.append(
            {
                "source": source,
                "reference": reference,
                "source_tokens": run.tokenizer.tokens(src_ids),
                "target_tokens": run.tokenizer.tokens([run.config.bos_id] + out_ids[:-1]),
            }
        )
    atomic_write(output / HISTORY_FILE, lambda tmp: save_file(tensors, tmp))
    write_json(output / HISTORY_INDEX, {"steps": steps, "probes": probes})
