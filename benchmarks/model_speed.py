"""Speed of the from-scratch model, every figure measured against a reference in the same run.

    python benchmarks/model_speed.py [--threads N] [--repeats N] [--device cuda] [--batch B]
                                     [--length T] [--sentences N] [--skip-cli] [--json FILE]

1. Training step (forward, label-smoothed loss, backward) and eval forward against
   torch.nn.Transformer with the same embeddings and output layer (fp32): ours as the trainer takes
   it, the reference through full logits and F.cross_entropy (and ours that way too, the model
   alone); our bf16 autocast step against our fp32 one; at --batch x --length and at the recipes'
   4,096-token batches (128 x 32).
2. Greedy decoding of 40 tokens with the key/value cache against recomputing the prefix, for one
   sentence and for a batch of 16; and the cached step's matrix products alone (every nn.Linear
   it calls, on the same inputs), the floor under a cached step, which bounds the cache's gain.
3. Batch translation with the shipped checkpoint (checkpoints/en-de): sentences/s for fp32,
   bf16 and int8 greedy decoding and the checkpoint's default beam, on everyday English
   sentences (Tatoeba, from the data folder: default_data_dir(); the shipped dev sample when absent).
4. The CLI, whole process (Python start included), translating those sentences piped into
   `python -m transformer translate`, against Apertium (`apertium eng-spa`) when installed.
5. Threads on a loaded machine: the CLI with --threads <all cores> and with the default
   (idle cores) while another process keeps one core busy.
Threads: the idle cores when the script starts (as the CLI chooses them), or --threads.
Timings are medians of interleaved runs (A B A B ...), so a change of machine load hits both.
"""

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from transformer import ModelConfig, Transformer, load_checkpoint, speed_up
from transformer.allocator import keep_freed_memory
from transformer.checkpoint import load_dev_sample
from transformer.decoding import greedy_decode, next_token_log_probs
from transformer.evaluation import translate_all
from transformer.options import default_data_dir
from transformer.precision import autocast
from transformer.speed import output_layer_by_columns
from transformer.threads import configure_threads

ROOT = Path(__file__).resolve().parent.parent
DATA = default_data_dir()
CHECKPOINT = ROOT / "checkpoints" / "en-de"


def interleaved_ms(runs: dict, repeats: int, device: torch.device) -> dict[str, float]:
    """Median milliseconds of each callable, run in turns after one warm-up each."""
    sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None  # a GPU runs asynchronously
    times = {name: [] for name in runs}
    for fn in runs.values():
        fn()
    for _ in range(repeats):
        for name, fn in runs.items():
            sync()
            start = time.perf_counter()
            fn()
            sync()
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(t) for name, t in times.items()}


class Reference(nn.Module):
    """torch.nn.Transformer with the same embeddings, positional encoding and output layer."""

    def __init__(self, ours: Transformer):
        super().__init__()
        c = ours.config
        self.ours = ours
        self.core = nn.Transformer(
            c.d_model, c.n_heads, c.n_encoder_layers, c.n_decoder_layers, c.d_ff, c.dropout, batch_first=True
        )

    def forward(self, src, tgt):
        o = self.ours
        causal = torch.ones(tgt.size(1), tgt.size(1), dtype=torch.bool, device=tgt.device).triu(1)
        hidden = self.core(
            o.positional(o.src_embed(src)),
            o.positional(o.tgt_embed(tgt)),
            tgt_mask=causal,
            src_key_padding_mask=src == 0,
            tgt_key_padding_mask=tgt == 0,
            memory_key_padding_mask=src == 0,
        )
        return o.generator(hidden)


def naive_greedy(model: Transformer, src: torch.Tensor, steps: int) -> None:
    prefix = torch.full((src.size(0), 1), model.config.bos_id, device=src.device)
    for _ in range(steps):
        logits = model(src, prefix)[:, -1]
        prefix = torch.cat([prefix, next_token_log_probs(model, logits).argmax(-1, keepdim=True)], dim=1)


def step_products(model: Transformer, src: torch.Tensor) -> list[tuple[nn.Module, torch.Tensor]]:
    """Every nn.Linear one cached decoding step calls, with its input: recorded by hooks on the
    step after BOS (the encoder and the once-per-sentence cross-attention projections excluded)."""
    calls = []

    def record(linear, args, _):
        calls.append((linear, args[0].clone()))

    with torch.inference_mode():
        memory, src_mask, _ = model.encode(src, need_weights=False)
        state = model.start_decoding(memory, src_mask, 2)
        bos = torch.full((src.size(0), 1), model.config.bos_id, device=src.device)
        hooks = [m.register_forward_hook(record) for m in model.modules() if isinstance(m, nn.Linear)]
        try:
            model.decode(bos, state, need_weights=False)
        finally:
            for hook in hooks:
                hook.remove()
    return calls


RECIPE_BATCH = (128, 32)  # 4,096 tokens a side: the batches configs/en-es.toml and en-fr.toml train with
SMOOTHING = 0.1  # every recipe's label smoothing (§5.4)


def random_batch(shape: tuple[int, int], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randint(3, 8000, shape, device=device), torch.randint(3, 8000, shape, device=device)


def training_figures(ours, ref, shape: tuple[int, int], repeats: int, device: torch.device) -> dict:
    """One training step (forward, label-smoothed loss, backward) on one batch: ours as the trainer
    takes it (fp32 and bf16 autocast), ours and the reference through full logits and
    F.cross_entropy, the way nn.Transformer is trained."""
    src, tgt = random_batch(shape, device)
    targets = torch.randint(3, 8000, shape, device=device)

    def trainer_step(precision):
        def step():
            ours.zero_grad()
            with autocast(precision, device):
                loss, _, count = ours(src, tgt, targets=targets, smoothing=SMOOTHING)
            (loss / count).backward()

        return step

    def logits_step(model):
        def step():
            model.zero_grad()
            logits = model(src, tgt)
            F.cross_entropy(logits.flatten(0, 1), targets.flatten(), label_smoothing=SMOOTHING).backward()

        return step

    ours.train(), ref.train()
    runs = {
        "ours": trainer_step("fp32"),
        "ours_bf16": trainer_step("bf16"),
        "ours_logits": logits_step(ours),
        "reference": logits_step(ref),
    }
    ms = interleaved_ms(runs, repeats, device)
    rate = {name: 2 * shape[0] * shape[1] / (value / 1000) for name, value in ms.items()}
    figures = {
        "vs_nn_transformer": rate["ours"] / rate["reference"],
        "logits_vs_nn_transformer": rate["ours_logits"] / rate["reference"],
        "bf16_vs_fp32": rate["ours_bf16"] / rate["ours"],
    }
    print(
        f"training step, batch {shape[0]} x {shape[1]}: ours {ms['ours']:7.1f} ms  nn.Transformer "
        f"{ms['reference']:7.1f} ms  tokens/s ratio {figures['vs_nn_transformer']:.2f}x "
        f"(both through full logits: {figures['logits_vs_nn_transformer']:.2f}x);  bf16 "
        f"{ms['ours_bf16']:7.1f} ms = {figures['bf16_vs_fp32']:.2f}x fp32 tokens/s"
    )
    return {"batch": list(shape), "ms": ms, "tokens_per_s": rate, **figures}


def model_figures(args, device: torch.device, results: dict) -> None:
    torch.manual_seed(0)
    config = ModelConfig(
        8000, 8000, d_model=256, n_heads=4, n_encoder_layers=3, n_decoder_layers=3, d_ff=1024, tie_embeddings=True
    )
    ours = speed_up(Transformer(config).to(device))  # as the trainer and load_checkpoint have it
    ref = Reference(ours).to(device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{where}; d_model 256, 3+3 layers, 4 heads, vocab 8000")
    shape = (args.batch, args.length)
    results["training_step"] = training_figures(ours, ref, shape, args.repeats, device)
    results["training_step_recipe_batch"] = training_figures(ours, ref, RECIPE_BATCH, max(1, args.repeats // 2), device)
    src, tgt = random_batch(shape, device)

    def forward(model):
        def run():
            with torch.inference_mode():
                model(src, tgt)

        return run

    ours.eval(), ref.eval()
    ms = interleaved_ms({"ours": forward(ours), "reference": forward(ref)}, args.repeats, device)
    results["eval_forward"] = {"ms": ms, "vs_nn_transformer": ms["reference"] / ms["ours"]}
    print(
        f"eval forward    ours {ms['ours']:7.1f} ms  nn.Transformer {ms['reference']:7.1f} ms  speed ratio {ms['reference'] / ms['ours']:.2f}x"
    )

    kv_cache_figures(ours, src, args.repeats, device, results)


def kv_cache_figures(ours: Transformer, src: torch.Tensor, repeats: int, device: torch.device, results: dict) -> None:
    """Greedy decoding with the KV cache against recomputing the prefix at every step."""
    # One sentence, where every step mostly reads the weights (19 MB at this size) whichever way
    # it is computed, and a batch of 16, where the work the cache saves shows. The cached step's
    # matrix products alone, on the same inputs, are the floor under it: recompute / floor is the
    # most the cache could gain on this machine.
    steps = 40
    output_layer_by_columns(ours)  # laid out as load_checkpoint lays out fp32 models (cached and recomputed alike)
    for rows in (1, 16):
        batch = src[:rows]
        products = step_products(ours, batch)
        with torch.inference_mode():
            ms = interleaved_ms(
                {
                    "cached": lambda batch=batch: greedy_decode(ours, batch, steps),
                    "recompute": lambda batch=batch: naive_greedy(ours, batch, steps),
                    "products_alone": lambda products=products: [[f(x) for f, x in products] for _ in range(steps)],
                },
                repeats if rows == 1 else max(1, repeats // 3),
                device,
            )
        weight_mb = sum(linear.weight.numel() * linear.weight.element_size() for linear, _ in products) / 1e6
        key = "kv_cache" if rows == 1 else f"kv_cache_batch_{rows}"
        results[key] = {
            "ms": ms,
            "speedup": ms["recompute"] / ms["cached"],
            "most_possible": ms["recompute"] / ms["products_alone"],
            "weights_mb_per_step": weight_mb,
            "tokens": steps,
            "sentences": rows,
        }
        print(
            f"greedy {steps} tokens, {rows} sentence(s): KV cache {ms['cached']:.1f} ms, recompute prefix "
            f"{ms['recompute']:.1f} ms, {ms['recompute'] / ms['cached']:.1f}x;  the cached steps' matrix "
            f"products alone {ms['products_alone']:.1f} ms ({weight_mb:.0f} MB of weights a step, "
            f"{weight_mb * steps / ms['products_alone']:.1f} GB/s): at most {results[key]['most_possible']:.1f}x"
        )


def everyday_sentences(count: int) -> tuple[list[str], str]:
    """English sentences from Tatoeba (every 50th of the English-Spanish file: short and long
    alike), or the shipped checkpoint's dev sample repeated when the data is absent."""
    path = DATA / "tatoeba-anki" / "spa-eng" / "spa.txt.gz"
    if path.is_file():
        with gzip.open(path, "rt", encoding="utf-8") as f:
            english = [line.split("\t", 1)[0] for line in f]
        return english[::50][:count], f"{min(count, len(english[::50]))} Tatoeba English sentences"
    sample = [source for source, _ in load_dev_sample(CHECKPOINT)]
    return (sample * (count // len(sample) + 1))[:count], f"{count} dev-sample sentences (Tatoeba data absent)"


def translation_figures(args, sentences: list[str], results: dict) -> None:
    translators = {precision: load_checkpoint(CHECKPOINT, precision) for precision in ("fp32", "bf16", "int8")}
    default_beam = translators["fp32"].default_beam_size
    runs = {f"{p} greedy": (lambda t=t: translate_all(t, sentences, beam_size=1)) for p, t in translators.items()}
    runs[f"fp32 beam {default_beam}"] = lambda: translate_all(translators["fp32"], sentences)
    runs[f"int8 beam {default_beam}"] = lambda: translate_all(translators["int8"], sentences)
    ms = interleaved_ms(runs, max(1, args.repeats // 4), torch.device("cpu"))
    rates = {name: len(sentences) / (value / 1000) for name, value in ms.items()}
    results["batch_translation"] = {"sentences": len(sentences), "sentences_per_s": rates}
    print(
        f"batch translation, en-de, {len(sentences)} sentences, in-process: "
        + ", ".join(f"{n} {r:.0f}/s" for n, r in rates.items())
    )


def timed(command: list[str], stdin: Path, env: dict | None = None) -> float:
    with stdin.open("rb") as f:
        start = time.perf_counter()
        subprocess.run(command, stdin=f, stdout=subprocess.DEVNULL, check=True, env=env, cwd=ROOT)
    return time.perf_counter() - start


def cli_figures(sentences: list[str], repeats: int, results: dict) -> None:
    cli = [sys.executable, "-m", "transformer", "translate", "--checkpoint", str(CHECKPOINT)]
    with tempfile.TemporaryDirectory() as folder:
        text = Path(folder) / "english.txt"
        text.write_text("".join(s + "\n" for s in sentences))
        runs = {
            "int8 greedy": lambda: timed([*cli, "--beam-size", "1", "--int8"], text),
            "fp32 greedy": lambda: timed([*cli, "--beam-size", "1"], text),
        }
        if shutil.which("apertium"):
            runs["apertium eng-spa"] = lambda: timed(["apertium", "eng-spa"], text)
        times = {name: [] for name in runs}
        for _ in range(repeats):  # in turns, like interleaved_ms: Apertium's time varies as much as ours
            for name, fn in runs.items():
                times[name].append(fn())
        seconds = {name: statistics.median(t) for name, t in times.items()}
        rates = {name: len(sentences) / s for name, s in seconds.items()}
        results["cli_whole_process"] = {"seconds": seconds, "sentences_per_s": rates}
        line = ", ".join(f"{n} {s:.2f} s = {rates[n]:.0f}/s" for n, s in seconds.items())
        print(f"CLI, whole process, {len(sentences)} piped sentences: {line}")
        if "apertium eng-spa" in rates:
            ratio = rates["int8 greedy"] / rates["apertium eng-spa"]
            results["cli_whole_process"]["int8_vs_apertium"] = ratio
            print(f"  ours (int8 greedy) / Apertium sentences/s = {ratio:.2f}")
        else:
            print("  Apertium is not installed (apt-get install apertium apertium-eng-spa): no comparison")
        loaded_figures(cli, text, len(sentences), results)


def loaded_figures(cli: list[str], text: Path, count: int, results: dict) -> None:
    """The CLI while another process keeps one core busy: every core's threads vs the default."""
    cores = len(os.sched_getaffinity(0))
    # Spins until this script ends, however it ends (it stops once its parent is gone).
    spin = "import os\nparent = os.getppid()\nwhile os.getppid() == parent: pass"
    busy = subprocess.Popen([sys.executable, "-c", spin])
    try:
        time.sleep(1.0)
        seconds = {
            f"--threads {cores}": timed([*cli, "--beam-size", "1", "--int8", "--threads", str(cores)], text),
            "default threads": timed([*cli, "--beam-size", "1", "--int8"], text),
        }
    finally:
        busy.kill()
    results["cli_one_core_busy"] = {"seconds": seconds}
    print(
        "CLI with one core busy elsewhere: "
        + ", ".join(f"{n} {s:.2f} s ({count / s:.0f}/s)" for n, s in seconds.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, help="CPU threads (default: the idle cores, as the CLI chooses)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--device", default="cpu", help="e.g. cuda (model figures only)")
    parser.add_argument("--batch", type=int, default=32, help="sentences per training batch")
    parser.add_argument("--length", type=int, default=24, help="tokens per sentence, source and target")
    parser.add_argument("--sentences", type=int, default=2000, help="sentences for the translation figures")
    parser.add_argument("--skip-cli", action="store_true", help="leave out the whole-process CLI figures")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = parser.parse_args()
    device = torch.device(args.device)
    args.threads = configure_threads(args.threads)
    keep_freed_memory()  # as the CLI and the trainer do
    warnings.filterwarnings("ignore", message="The PyTorch API of nested tensors")  # nn.Transformer's fast path
    results = {"threads": args.threads, "device": str(device), "cpu_count": os.cpu_count()}
    model_figures(args, device, results)
    if device.type == "cpu" and CHECKPOINT.is_dir():
        sentences, described = everyday_sentences(args.sentences)
        print(f"sentences: {described}")
        translation_figures(args, sentences, results)
        if not args.skip_cli:
            cli_figures(sentences, max(1, args.repeats // 2), results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
