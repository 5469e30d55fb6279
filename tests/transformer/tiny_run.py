"""A tiny training recipe on the reverse task (a 1-layer model, 400 pairs), written to a folder for
TrainingRun or `python -m transformer train`: the training and export tests' run."""

import torch

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
