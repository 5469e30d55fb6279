"""Speed of the from-scratch model against torch.nn.Transformer at the same size, in one process.

    python benchmarks/model_speed.py [--threads N] [--repeats N] [--device cuda] [--batch B] [--length T]

Prints, for a training step (forward + backward) and an eval forward pass, our time, the
reference's time and their ratio; then greedy decoding with the key/value cache against
recomputing the whole prefix every step (our own model both times), and the latency of
translating one 10-word sentence with the shipped default checkpoint when it is present.
"""

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from transformer import ModelConfig, Transformer, load_checkpoint  # noqa: E402
from transformer.decoding import greedy_decode, next_token_log_probs  # noqa: E402


def median_ms(fn, repeats: int, device: torch.device) -> float:
    # A GPU runs asynchronously: wait for its queue before reading the clock.
    sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


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


def checkpoint_latency(folder: Path, repeats: int, device: torch.device) -> None:
    """One 10-word sentence through a shipped checkpoint, attention maps included."""
    translator = load_checkpoint(folder)
    translator.model.to(device)
    symbols = translator.info.get("source_language") == "symbols"
    text = "a b c d e f g h i j" if symbols else "A man in a blue shirt is standing on a ladder near a house."
    greedy = median_ms(lambda: translator.translate([text], beam_size=1), repeats, device)
    beam = median_ms(lambda: translator.translate([text], beam_size=4), repeats, device)
    print(f"checkpoint {folder.name}: 10-word sentence, greedy {greedy:.1f} ms, beam 4 {beam:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--device", default="cpu", help="e.g. cuda")
    parser.add_argument("--batch", type=int, default=32, help="sentences per batch")
    parser.add_argument("--length", type=int, default=24, help="tokens per sentence, source and target")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="The PyTorch API of nested tensors")  # nn.Transformer's fast path
    torch.manual_seed(0)
    config = ModelConfig(
        8000, 8000, d_model=256, n_heads=4, n_encoder_layers=3, n_decoder_layers=3, d_ff=1024, tie_embeddings=True
    )
    ours = Transformer(config).to(device)
    ref = Reference(ours).to(device)
    shape = (args.batch, args.length)
    src, tgt = torch.randint(3, 8000, shape, device=device), torch.randint(3, 8000, shape, device=device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {args.threads} threads"
    print(f"{where}; d_model 256, 3+3 layers, 4 heads, vocab 8000; batch {args.batch} x {args.length} tokens")

    def train_step(model):
        def step():
            model.zero_grad()
            model(src, tgt).float().logsumexp(-1).mean().backward()

        return step

    def forward(model):
        def run():
            with torch.inference_mode():
                model(src, tgt)

        return run

    for name, make in (("training step", train_step), ("eval forward", forward)):
        ours.train(name == "training step")
        ref.train(name == "training step")
        ours_ms, ref_ms = median_ms(make(ours), args.repeats, device), median_ms(make(ref), args.repeats, device)
        print(f"{name:14s} ours {ours_ms:8.1f} ms   nn.Transformer {ref_ms:8.1f} ms   ratio {ours_ms / ref_ms:5.2f}")

    ours.eval()
    one = src[:1]
    steps = 30
    cached = median_ms(lambda: greedy_decode(ours, one, steps), args.repeats, device)
    with torch.inference_mode():
        full = median_ms(lambda: naive_greedy(ours, one, steps), args.repeats, device)
    print(
        f"greedy {steps} tokens, 1 sentence: KV cache {cached:.1f} ms, recompute prefix {full:.1f} ms, speed-up {full / cached:.1f}x"
    )

    default = next(
        (ROOT / "checkpoints" / n for n in ("en-de", "toy-reverse") if (ROOT / "checkpoints" / n).is_dir()), None
    )
    if default is not None:
        checkpoint_latency(default, args.repeats, device)


if __name__ == "__main__":
    main()
