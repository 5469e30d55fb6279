"""The choices and defaults the command line offers, in a module that needs no torch: arguments
are checked, and --help answered, before torch loads (about 1 s)."""

import os
from pathlib import Path

PRECISIONS = ("fp32", "bf16", "int8")  # for inference
TRAINING_PRECISIONS = ("fp32", "bf16")  # int8 has no gradients
DATA_DIR_VARIABLE = "TRANSFORMER_DATA_DIR"  # the environment variable that moves the data folder
BATCH_TOKENS = 6000  # padded source tokens x beam per translation batch: large enough to keep the matrix units busy


def default_data_dir() -> Path:
    """Where a recipe's relative data paths start: $TRANSFORMER_DATA_DIR if set, else the folder
    shared/data beside the repository (the folder above this package), wherever the command runs
    from. `--data-dir` (train, export) overrides both."""
    repository = Path(__file__).resolve().parent.parent
    return Path(os.environ.get(DATA_DIR_VARIABLE) or repository.parent / "shared" / "data")
