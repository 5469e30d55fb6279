"""The GPU paths (skipped without one): torch's fused attention kernel at every length, the
chunked output-layer loss in fp32 and bf16 autocast, cached decoding of a shipped checkpoint, and
bf16 training steps, each against the CPU reference."""

import pytest
import torch

from tests.helpers import ROOT, random_ids, tiny_config
from transformer import Transformer, load_checkpoint
from transformer.checkpoint import load_dev_sample
from transformer.objective import label_smoothed_loss
from transformer.precision import autocast

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")


GPU = torch.device("cuda")


def test_the_gpu_model_equals_the_cpu_model_logits_maps_and_loss():
    model = Transformer(tiny_config(dropout=0.0, src_vocab_size=41, tgt_vocab_size=41, tie_embeddings=True)).eval()
    src, tgt = random_ids(3, 9, 41, pad_to=[9, 4, 6]), random_ids(3, 7, 41, pad_to=[7, 7, 3])
    gpu = (
        Transformer.skeleton(model.config).assign_weights({k: v.to(GPU) for k, v in model.state_dict().items()}).eval()
    )
    expected_logits, expected_maps = model.forward_with_attention(src, tgt)
    torch.testing.assert_close(gpu(src.to(GPU), tgt.to(GPU)).cpu(), expected_logits, atol=1e-4, rtol=0)  # the kernel
    logits, maps = gpu.forward_with_attention(src.to(GPU), tgt.to(GPU))
    for kind, weights in maps.items():
        torch.testing.assert_close(weights.cpu(), expected_maps[kind], atol=1e-5, rtol=0)
    targets = tgt.roll(-1, 1)
    expected = label_smoothed_loss(expected_logits, targets, 0.1, 0)
    got = gpu(src.to(GPU), tgt.to(GPU), targets=targets.to(GPU), smoothing=0.1)
    torch.testing.assert_close(tuple(t.cpu() for t in got), expected, atol=1e-3, rtol=1e-5)


def test_bf16_training_steps_on_the_gpu_lower_the_loss():
    model = Transformer(tiny_config(src_vocab_size=41, tgt_vocab_size=41, tie_embeddings=True)).to(GPU).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    src = random_ids(16, 10, 41).to(GPU)
    tgt = torch.cat([torch.ones(16, 1, dtype=torch.long, device=GPU), src.flip(1)], dim=1)  # BOS, reversed
    losses = []
    for _ in range(40):
        with autocast("bf16", GPU):
            loss, _, count = model(src, tgt[:, :-1], targets=tgt[:, 1:], smoothing=0.1)
        optimizer.zero_grad()
        (loss / count).backward()
        optimizer.step()
        losses.append((loss / count).item())
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < 0.7 * losses[0], losses


def test_a_shipped_checkpoint_decodes_the_same_tokens_on_the_gpu():
    folder = ROOT / "checkpoints" / "en-de"
    cpu, gpu = load_checkpoint(folder), load_checkpoint(folder)
    gpu.model.to(GPU)
    sources = [source for source, _ in load_dev_sample(folder)[:16]]
    ids = [cpu.encode_source(s)[0] for s in sources]
    for beam in (1, 4):
        assert gpu._decode(ids, beam_size=beam) == cpu._decode(ids, beam_size=beam)
