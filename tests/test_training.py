import math
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from conftest import ROOT
from transformer import load_checkpoint
from transformer.training import Recipe, TrainingRun, label_smoothed_loss, learning_rate, train

RECIPE_TOML = """
name = "tiny"
output = "{out}"
run_dir = "{run}"
source_language = "symbols"
target_language = "reversed"
seed = {seed}
[tokenizer]
kind = "wordlevel"
[model]
d_model = 32
n_heads = 4
n_encoder_layers = 1
n_decoder_layers = 1
d_ff = 64
dropout = 0.1
max_len = 32
tie_embeddings = true
[train]
max_steps = {steps}
max_tokens = {max_tokens}
accumulate = {accumulate}
warmup = 20
eval_every = 1000
log_every = 5
save_every = {save_every}
average_last = 2
dev_bleu_sentences = 10
threads = 1
[decoding]
beam_size = 1
[data]
train = [{{ kind = "reverse", count = 400, seed = 1, max_len = 8 }}]
dev = [{{ kind = "reverse", count = 10, seed = 2, max_len = 8 }}]
"""


def write_recipe(folder, steps=30, max_tokens=120, accumulate=1, save_every=0, seed=None):
    folder.mkdir(parents=True, exist_ok=True)
    seed = seed if seed is not None else int(torch.randint(0, 10_000, ()))
    text = RECIPE_TOML.format(
        out=folder / "checkpoint",
        run=folder / "run",
        seed=seed,
        steps=steps,
        max_tokens=max_tokens,
        accumulate=accumulate,
        save_every=save_every,
    )
    path = folder / "recipe.toml"
    path.write_text(text)
    return path


def final_weights(folder):
    return torch.load(folder / "run" / "state.pt", weights_only=True)["model"]


def assert_same_weights(a, b, atol=0.0):
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=atol, rtol=0, msg=name)


def test_learning_rate_follows_the_paper():
    d, warmup = 512, 4000
    assert learning_rate(warmup, d, warmup) == pytest.approx(512**-0.5 * 4000**-0.5)
    assert learning_rate(100, d, warmup) == pytest.approx(512**-0.5 * 100 * 4000**-1.5)
    assert learning_rate(16000, d, warmup) == pytest.approx(512**-0.5 * 16000**-0.5)
    assert learning_rate(16000, d, warmup, scale=2) == pytest.approx(2 * 512**-0.5 * 16000**-0.5)
    steps = range(1, 12000, 97)
    rates = [learning_rate(s, d, warmup) for s in steps]
    peak = max(range(len(rates)), key=rates.__getitem__)
    assert abs(list(steps)[peak] - warmup) < 97


def test_label_smoothed_loss_by_hand():
    logits = torch.tensor([[[2.0, 0.0, 1.0, -1.0], [0.5, 0.5, 0.5, 3.0]]])  # (1, 2, 4); second target is PAD
    target = torch.tensor([[2, 0]])
    log_z = math.log(math.exp(2) + 1 + math.exp(1) + math.exp(-1))
    nll = log_z - 1.0
    uniform = sum(log_z - x for x in (2.0, 0.0, 1.0, -1.0)) / 4
    loss, nll_sum, count = label_smoothed_loss(logits, target, 0.1, pad_id=0)
    assert count.item() == 1
    assert nll_sum.item() == pytest.approx(nll, abs=1e-5)
    assert loss.item() == pytest.approx(0.9 * nll + 0.1 * uniform, abs=1e-5)
    reference = torch.nn.functional.cross_entropy(logits[0], target[0], ignore_index=0, label_smoothing=0.1)
    assert loss.item() == pytest.approx(reference.item(), abs=1e-5)


def test_tiny_run_learns_and_exports(tmp_path):
    recipe = Recipe.load(write_recipe(tmp_path, steps=60))
    run = TrainingRun(recipe, data_dir=tmp_path, progress=False)
    first = run.train_step()[0]
    assert run.run()
    with open(tmp_path / "run" / "training_log.csv") as f:
        last = f.read().splitlines()[-1].split(",")
    assert float(last[3]) < first - 0.5  # train_loss fell
    output = run.export()
    names = {p.name for p in output.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "metrics.json", "training_log.csv"} <= names
    assert {"attention_history.safetensors", "attention_history.json", "dev_sample.tsv"} <= names
    translator = load_checkpoint(output)
    assert translator.info["training"]["steps"] == 60
    assert translator.translate(["a b c"])[0].text is not None


def cli_env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def test_resume_after_sigkill_gives_the_uninterrupted_weights(tmp_path):
    seed = int(torch.randint(0, 10_000, ()))
    steps = 300  # long enough to be killed mid-run on a fast machine
    straight = write_recipe(tmp_path / "straight", steps=steps, seed=seed)
    train(Recipe.load(straight), tmp_path, progress=False)

    killed = write_recipe(tmp_path / "killed", steps=steps, save_every=1, seed=seed)
    command = [sys.executable, "-m", "transformer", "train", str(killed), "--no-progress", "--data-dir", str(tmp_path)]
    process = subprocess.Popen(command, cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = tmp_path / "killed" / "run" / "state.pt"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if state.exists() and torch.load(state, weights_only=True)["step"] >= 20:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL  # it really was killed mid-run
    stopped_at = torch.load(state, weights_only=True)["step"]
    assert 20 <= stopped_at < steps
    train(Recipe.load(killed), tmp_path, progress=False)  # resume
    assert_same_weights(final_weights(tmp_path / "killed"), final_weights(tmp_path / "straight"))


DDP_SCRIPT = """
import sys, torch, torch.distributed as dist
from safetensors.torch import save_file
from transformer.training import Recipe, TrainingRun
run = TrainingRun(Recipe.load(sys.argv[1]), data_dir=sys.argv[2], progress=False)
run.run()
save_file({k: v.contiguous() for k, v in run.model.state_dict().items() if "tgt_embed" not in k and "generator" not in k},
          f"{sys.argv[2]}/rank{dist.get_rank()}.safetensors")
"""


@pytest.mark.skipif(
    shutil.which("torchrun") is None and not (ROOT / ".venv/bin/torchrun").exists(), reason="torchrun missing"
)
def test_two_process_ddp_equals_one_process_with_the_same_global_batch(tmp_path):
    seed = int(torch.randint(0, 10_000, ()))
    ddp = write_recipe(tmp_path / "ddp", steps=12, seed=seed)
    (tmp_path / "ddp.py").write_text(DDP_SCRIPT)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    done = subprocess.run(
        [*torchrun, str(tmp_path / "ddp.py"), str(ddp), str(tmp_path)],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = load_file(tmp_path / "rank0.safetensors"), load_file(tmp_path / "rank1.safetensors")
    assert_same_weights(rank0, rank1)

    single = write_recipe(tmp_path / "single", steps=12, accumulate=2, seed=seed)
    run = TrainingRun(Recipe.load(single), data_dir=tmp_path, progress=False)
    run.run()
    ours = {k: v for k, v in run.model.state_dict().items() if k in rank0}
    assert_same_weights(ours, rank0, atol=1e-5)
