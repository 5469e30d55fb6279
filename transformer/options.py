"""The choices and defaults the command line offers, in a module that needs no torch: arguments
are checked, and --help answered, before torch loads (about 1 s)."""

PRECISIONS = ("fp32", "bf16", "int8")  # for inference
TRAINING_PRECISIONS = ("fp32", "bf16")  # int8 has no gradients
BATCH_TOKENS = 6000  # padded source tokens x beam per translation batch: large enough to keep the matrix units busy
