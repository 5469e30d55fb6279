"""How fast the Train page teaches its default model, and whether other sessions stay fast meanwhile.

Trains the page's default settings (reversal, webapp.trainer.settings.TrainSetup()) the way the page does: a
SessionTrainer on a background thread of this process. Reports when the dev exact match first
reaches the target, and the exact match on fresh sequences (a seed the run never saw) at the end.
Meanwhile this (main) thread plays another session of the same server: it translates a new
sentence with a shipped checkpoint every second, as the Translate page would (one torch thread),
and reports the latencies. Target: >= 95 % exact match within 90 s, every translation < 2 s.

    python benchmarks/train_speed.py [--checkpoint NAME] [--target 95]
"""

import argparse
import os
import statistics
import sys
import time

import streamlit.logger
import torch

streamlit.logger.set_log_level("error")

from benchmarks.app_speed import SENTENCES  # noqa: E402
from transformer import load_checkpoint  # noqa: E402
from transformer.data import toy_task_pairs  # noqa: E402
from transformer.evaluation import evaluate  # noqa: E402
from webapp.state.checkpoints import checkpoints_dir  # noqa: E402
from webapp.trainer.session import SessionTrainer  # noqa: E402
from webapp.trainer.settings import TrainSetup  # noqa: E402
from webapp.trainer.slots import Slots  # noqa: E402

FRESH_SEED, FRESH_COUNT = 424242, 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="en-de", help="the model the other session translates with")
    parser.add_argument("--target", type=float, default=95.0, help="dev exact match to reach (%%)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as app_checkpoints sets it for the server
    translator = load_checkpoint(checkpoints_dir() / args.checkpoint)
    translator.translate(["Warm up."], beam_size=1)

    setup = TrainSetup()
    trainer = SessionTrainer(setup, "benchmark", slots=Slots(1))
    started = time.monotonic()
    trainer.start()
    reached, latencies, sentence = None, [], 0
    while trainer.training:
        time.sleep(1.0)
        t0 = time.perf_counter()
        translator.translate([f"{SENTENCES[sentence % len(SENTENCES)]} ({sentence})"], beam_size=4)
        latencies.append(time.perf_counter() - t0)
        sentence += 1
        progress = trainer.snapshot()
        if reached is None and progress.exact_match is not None and progress.exact_match >= args.target:
            reached = (progress.dev_curve[-1][0], time.monotonic() - started)
    total = time.monotonic() - started
    progress = trainer.snapshot()
    if progress.status != "finished":
        print(f"the run ended {progress.status}: {progress.error}", file=sys.stderr)
        return 1
    fresh = toy_task_pairs(setup.task, FRESH_COUNT, FRESH_SEED, setup.min_len, setup.max_len, setup.symbols)
    scores = evaluate(trainer.run.translator(), [s for s, _ in fresh], [t for _, t in fresh], beam_size=1)

    print(f"settings: {setup}")
    print(f"machine: {torch.get_num_threads()} torch thread(s), {len(os.sched_getaffinity(0))} cores")
    if reached:
        print(f"dev exact match >= {args.target:g} %: at step {reached[0]}, {reached[1]:.1f} s after Train")
    else:
        print(f"dev exact match never reached {args.target:g} % (last {progress.exact_match} %)")
    print(f"finished: {progress.steps} steps in {total:.1f} s, dev exact match {progress.exact_match:g} %")
    print(f"fresh sequences ({FRESH_COUNT}, seed {FRESH_SEED}): exact match {scores['exact_match']:g} %")
    print(
        f"other session, {len(latencies)} translations with {args.checkpoint} (beam 4) during the run: "
        f"median {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )
    trainer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
