"""Training (§5): the loop. Label-smoothed cross-entropy (§5.4), Adam with the warm-up schedule
(§5.3), batches of about equal token counts (§5.1), on one process or several
(DistributedDataParallel: the same global batch whether spread over processes or accumulated).

A run lives in `run_dir` (state.pt, snapshots/, probes/, training_log.csv, tokenizer.json: the
names are transformer.checkpoint's) and is exported to a checkpoint folder when it reaches
max_steps (transformer.export). Kill it at any moment (SIGKILL included) and the same command
resumes from the last saved state: every file is written to a temporary name and renamed, and the
dropout noise of each step is seeded from the step itself, so a resumed run computes exactly what
an uninterrupted one would. What to train comes from a recipe (transformer.recipe).
"""

import contextlib
import csv
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from .checkpoint import LOG_FILE, PROBE_DIR, SNAPSHOT_DIR, STATE_FILE, TOKENIZER_FILE, atomic_write, remove_leftovers
from .data import BatchStream, collate, encode_pairs, token_batches
from .evaluation import score, translate_all
from .export import export_checkpoint, save_probes, save_snapshot, step_files
from .model import ModelConfig, Transformer
from .objective import learning_rate
from .options import default_data_dir
from .precision import autocast
from .recipe import Recipe, check_data_files, check_training_memory, check_usable, learn_tokenizer, load_split
from .speed import speed_up
from .threads import ThreadGovernor, configure_threads
from .tokenizer import Tokenizer
from .translator import Translator

LOG_FIELDS = ["step", "epoch", "tokens", "train_loss", "lr", "dev_loss", "dev_bleu", "elapsed_s"]


# -- distributed -----------------------------------------------------------------------------
@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def setup_distributed() -> Dist:
    """torchrun sets WORLD_SIZE/RANK/LOCAL_RANK: gloo on CPU, nccl on GPUs."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(int(os.environ.get("RANK", "0")), world, device)


# -- the run ---------------------------------------------------------------------------------
class TrainingRun:
    """One run of a recipe: its data, tokenizer, model, optimizer and place in the batch stream,
    resumed from run_dir where a state was saved. run() trains; export() writes the checkpoint."""

    def __init__(self, recipe: Recipe, data_dir: str | Path | None = None, progress: bool = True):
        self.recipe, self.settings = recipe, recipe.train
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.run_dir = Path(recipe.run_dir)
        self.progress = progress
        check_data_files(recipe, self.data_dir)  # every split's, test sets too: before any step
        self.dist = setup_distributed()
        if self.dist.main:
            for folder in (self.run_dir, self.run_dir / SNAPSHOT_DIR, self.run_dir / PROBE_DIR):
                remove_leftovers(folder)  # the temporary files of a killed run
        configure_threads(self.settings.threads)
        # Unless told how many, follow the load while training: other work on the machine takes
        # cores from us, and gives them back, without either side crawling (transformer.threads).
        self.governor = ThreadGovernor() if not self.settings.threads else None
        self._prepare_data()
        self._build_model()

    def say(self, message: str) -> None:
        if self.dist.main:
            tqdm.write(message)

    # data and tokenizer
    def _prepare_data(self) -> None:
        recipe, settings = self.recipe, self.settings
        train_pairs, stats = load_split(recipe.data["train"], self.data_dir)
        dev_pairs, dev_stats = load_split(recipe.data["dev"], self.data_dir)
        self.say(
            f"data: {len(train_pairs)} train pairs ({stats.bad} bad lines, {stats.duplicates} duplicates, "
            f"{stats.empty} empty), {len(dev_pairs)} dev pairs ({dev_stats.bad} bad lines)"
        )
        for example in stats.examples:
            self.say(f"  bad line: {example}")
        check_usable(recipe, "train", train_pairs, stats)  # now, not at the first evaluation hours later
        check_usable(recipe, "dev", dev_pairs, dev_stats)
        tokenizer_path = self.run_dir / TOKENIZER_FILE
        if self.dist.main and not tokenizer_path.exists():
            atomic_write(tokenizer_path, learn_tokenizer(recipe.tokenizer, train_pairs).save)
        self.dist.barrier()
        self.tokenizer = Tokenizer.from_file(tokenizer_path)
        self.train_examples = encode_pairs(self.tokenizer, train_pairs, settings.max_sentence_tokens)
        if not self.train_examples:
            raise ValueError(
                f"{recipe.name}: every training pair is longer than max_sentence_tokens {settings.max_sentence_tokens}"
            )
        self.dev_pairs = dev_pairs
        self.dev_examples = encode_pairs(
            self.tokenizer, dev_pairs[: settings.dev_loss_sentences], settings.max_sentence_tokens
        )
        self.probes = [tuple(p) for p in recipe.probes] or dev_pairs[:3]
        self.say(f"tokenizer: {self.tokenizer.vocab_size} tokens; {len(self.train_examples)} training examples kept")

    def _build_model(self) -> None:
        recipe, settings = self.recipe, self.settings
        vocab = self.tokenizer.vocab_size
        check_training_memory(recipe.model, vars(settings), vocab, f"{recipe.where} [model]")  # before any tensor
        ids = {"pad_id": self.tokenizer.pad_id, "bos_id": self.tokenizer.bos_id, "eos_id": self.tokenizer.eos_id}
        self.config = ModelConfig(src_vocab_size=vocab, tgt_vocab_size=vocab, **ids, **recipe.model)
        torch.manual_seed(recipe.seed)  # same initial weights on every rank
        self.model = speed_up(Transformer(self.config).to(self.dist.device))  # the same function, faster
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=0.0, betas=tuple(settings.adam_betas), eps=settings.adam_eps
        )
        self.step, self.tokens, self.elapsed = 0, 0, 0.0
        # The train loss summed since the last log row, and over how many steps: saved with the
        # state, so that a row after a resume averages the same steps as without one.
        self.window_loss, self.window_steps = 0.0, 0
        self.stream = BatchStream(self.train_examples, settings.max_tokens, recipe.seed)
        self._resume()
        self.ddp = torch.nn.parallel.DistributedDataParallel(self.model) if self.dist.world > 1 else None

    # state
    @property
    def state_path(self) -> Path:
        return self.run_dir / STATE_FILE

    def _resume(self) -> None:
        if not self.state_path.exists():
            if self.dist.main:
                self._forget_after(0)  # a run killed before its first save: start it afresh
            return
        state = torch.load(self.state_path, map_location=self.dist.device, weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.tokens, self.elapsed = state["step"], state["tokens"], state["elapsed"]
        self.window_loss, self.window_steps = state.get("window_loss", 0.0), state.get("window_steps", 0)
        self.stream = BatchStream(
            self.train_examples, self.settings.max_tokens, self.recipe.seed, state["epoch"], state["cursor"]
        )
        if self.dist.main:
            self._forget_after(self.step)
        self.say(f"resumed {self.run_dir} at step {self.step} (epoch {self.stream.epoch})")

    def _forget_after(self, step: int) -> None:
        """Drop log rows, snapshots and probe maps written after the saved state (a killed run
        may have got further than its last save)."""
        log = self.run_dir / LOG_FILE
        if log.exists():
            with log.open() as f:
                rows = [row for row in csv.DictReader(f) if int(row["step"]) <= step]
            self._write_log(rows)
        for folder in (SNAPSHOT_DIR, PROBE_DIR):
            for saved_at, path in step_files(self.run_dir / folder):
                if saved_at > step:
                    path.unlink()

    def save_state(self) -> None:
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "tokens": self.tokens,
            "elapsed": self.elapsed,
            "window_loss": self.window_loss,
            "window_steps": self.window_steps,
            "epoch": self.stream.epoch,
            "cursor": self.stream.cursor,
        }
        atomic_write(self.state_path, lambda tmp: torch.save(state, tmp))

    def _write_log(self, rows: list[dict]) -> None:
        def write(tmp):
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, LOG_FIELDS)
                writer.writeheader()
                writer.writerows(rows)

        atomic_write(self.run_dir / LOG_FILE, write)

    def _append_log(self, row: dict) -> None:
        log = self.run_dir / LOG_FILE
        if not log.exists():
            self._write_log([])
        with log.open("a", newline="") as f:
            csv.DictWriter(f, LOG_FIELDS).writerow(row)

    # one optimizer step
    def train_step(self) -> tuple[float, int]:
        settings, dist = self.settings, self.dist
        model = self.ddp or self.model
        micro = self.stream.take(dist.world * settings.accumulate)  # the global batch of this step
        mine = micro[dist.rank * settings.accumulate : (dist.rank + 1) * settings.accumulate]
        lr = learning_rate(self.step + 1, self.config.d_model, settings.warmup, settings.lr_scale)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        loss_total, tokens = 0.0, 0
        for j, indices in enumerate(mine):
            # Dropout noise depends only on (seed, step, global micro-batch): resumable, and the
            # same whether the global batch is spread over processes or accumulated in one.
            torch.manual_seed(self.recipe.seed * 1_000_003 + self.step * 1009 + dist.rank * settings.accumulate + j)
            src, tgt = collate(self.train_examples, indices, self.config.pad_id, dist.device)
            sync = self.ddp is None or j == len(mine) - 1
            with contextlib.nullcontext() if sync else self.ddp.no_sync():
                with autocast(settings.precision, dist.device):
                    loss, _, count = model(src, tgt[:, :-1], targets=tgt[:, 1:], smoothing=settings.label_smoothing)
                (loss / count / settings.accumulate).backward()
            loss_total += loss.item() / count.item() / settings.accumulate
            tokens += int((src != self.config.pad_id).sum() + (tgt != self.config.pad_id).sum())
        if settings.clip_norm:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), settings.clip_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return loss_total, tokens * dist.world

    # evaluation
    def translator(self) -> Translator:
        info = {"decoding": {**self.recipe.decoding, "beam_size": 1}}
        return Translator(self.model.eval(), self.tokenizer, info)

    @torch.no_grad()
    def dev_loss(self) -> float:
        self.model.eval()
        nll_sum, count_sum = 0.0, 0
        for indices in token_batches(self.dev_examples, self.settings.max_tokens, seed=0):
            src, tgt = collate(self.dev_examples, indices, self.config.pad_id, self.dist.device)
            _, nll, count = self.model(src, tgt[:, :-1], targets=tgt[:, 1:])
            nll_sum, count_sum = nll_sum + nll.item(), count_sum + count.item()
        self.model.train()
        return nll_sum / max(count_sum, 1)

    def dev_scores(self) -> dict:
        """score() of greedy translations of the first dev_bleu_sentences dev pairs (BLEU, exact match...)."""
        pairs = self.dev_pairs[: self.settings.dev_bleu_sentences]
        hypotheses = translate_all(self.translator(), [s for s, _ in pairs], beam_size=1)
        self.model.train()
        return score(hypotheses, [t for _, t in pairs])

    def probe_ids(self, source: str, reference: str) -> tuple[list[int], list[int]]:
        """Source ids and the reference as output ids: probes are teacher-forced on the reference,
        so their attention maps have the same axes at every step."""
        src_ids = self.tokenizer.encode(source)[: self.config.max_len - 1] + [self.config.eos_id]
        return src_ids, self.tokenizer.encode(reference)[: self.config.max_len - 1] + [self.config.eos_id]

    def probe_attention(self) -> dict[str, torch.Tensor]:
        """Teacher-forced attention of the probe pairs now, float16: "probe{i}.{kind}" -> (layers,
        heads, queries, keys)."""
        translator = self.translator()
        tensors = {}
        for i, probe in enumerate(self.probes):
            result = translator.explain(*self.probe_ids(*probe))
            for kind, maps in result.attention.items():
                tensors[f"probe{i}.{kind}"] = maps.half().contiguous()
        self.model.train()
        return tensors

    def save_snapshot(self) -> None:
        """The weights now, kept for averaging at export (transformer.export)."""
        save_snapshot(self)

    def evaluate_now(self, train_loss: float, lr: float) -> dict:
        """Score the dev set, save the probes' attention, log; the log row with the dev exact match."""
        dev_loss, scores = self.dev_loss(), self.dev_scores()
        bleu = scores["bleu"]
        save_probes(self)
        row = self._row(train_loss, lr, dev_loss=round(dev_loss, 4), dev_bleu=bleu)
        self._append_log(row)
        self.say(
            f"step {self.step}: dev loss {dev_loss:.3f} (ppl {math.exp(min(dev_loss, 50)):.1f}), dev BLEU {bleu:.2f}"
        )
        return row | {"dev_exact_match": scores["exact_match"]}

    def _row(self, train_loss: float, lr: float, **extra) -> dict:
        return {
            "step": self.step,
            "epoch": self.stream.epoch,
            "tokens": self.tokens,
            "train_loss": round(train_loss, 4),
            "lr": f"{lr:.3e}",
            "elapsed_s": round(self.elapsed, 1),
            "dev_loss": "",
            "dev_bleu": "",
            **extra,
        }

    # the loop
    def run(
        self, max_minutes: float | None = None, on_step: Callable[["TrainingRun", dict | None], bool] | None = None
    ) -> bool:
        """Train until max_steps (returns True) or until max_minutes pass or on_step asks to stop
        (returns False). on_step(run, row), if given, is called after every step with the log row
        written at that step (None if none; an evaluation's row adds dev_exact_match); a true
        return stops the run, resumably: run() again goes on exactly as if it had not stopped.
        (One process only: on_step is for the app's Train page, not for a distributed run.)"""
        settings, dist = self.settings, self.dist
        self.model.train()
        started, last_save = time.monotonic(), time.monotonic()
        bar = tqdm(
            total=settings.max_steps,
            initial=self.step,
            desc=self.recipe.name,
            unit="step",
            disable=not (self.progress and dist.main),
            dynamic_ncols=True,
        )
        self.rate_tokens, self.rate_start = 0, time.monotonic()  # tokens/s since the last log row
        while self.step < settings.max_steps:
            row = self._step_and_log(bar)
            out_of_time = max_minutes is not None and time.monotonic() - started > 60 * max_minutes
            asked_to_stop = on_step is not None and bool(on_step(self, row))
            due = time.monotonic() - last_save > 60 * settings.save_minutes or (
                settings.save_every and self.step % settings.save_every == 0
            )
            if dist.main and (due or out_of_time or asked_to_stop or self.step == settings.max_steps):
                self.save_state()
                last_save = time.monotonic()
            dist.barrier()
            if (out_of_time or asked_to_stop) and self.step < settings.max_steps:
                bar.close()
                if out_of_time:
                    self.say(f"stopped after {max_minutes} minutes at step {self.step}; run the same command to resume")
                return False
        bar.close()
        return True

    def _step_and_log(self, bar: tqdm) -> dict | None:
        """One optimizer step, then the snapshot, log row and evaluation that fall on it; the row
        written (None if none)."""
        settings = self.settings
        t0 = time.monotonic()
        loss, tokens = self.train_step()
        self.elapsed += time.monotonic() - t0
        if self.governor:
            self.governor.check()
        self.tokens += tokens
        self.window_loss, self.window_steps = self.window_loss + loss, self.window_steps + 1
        self.rate_tokens += tokens
        lr = self.optimizer.param_groups[0]["lr"]
        bar.update(1)
        last = self.step == settings.max_steps
        if self.dist.main and (self.step % (settings.snapshot_every or settings.eval_every) == 0 or last):
            self.save_snapshot()
        evaluation = self.step % settings.eval_every == 0 or last
        if not (evaluation or self.step % settings.log_every == 0):
            return None
        rate = self.rate_tokens / max(time.monotonic() - self.rate_start, 1e-9)
        train_loss = self.window_loss / self.window_steps
        bar.set_postfix(loss=f"{train_loss:.3f}", lr=f"{lr:.2e}", tok_s=f"{rate:.0f}")
        row = None
        if self.dist.main:
            if evaluation:
                row = self.evaluate_now(train_loss, lr)
            else:
                row = self._row(train_loss, lr)
                self._append_log(row)
        self.window_loss, self.window_steps = 0.0, 0
        self.rate_tokens, self.rate_start = 0, time.monotonic()
        return row

    # export (transformer.export)
    def export(self) -> Path:
        """Write the checkpoint folder (recipe.output), whole or not at all."""
        return export_checkpoint(self)


def train(
    recipe: Recipe, data_dir: str | Path | None = None, max_minutes: float | None = None, progress: bool = True
) -> Path | None:
    """Run (or resume) a recipe; export its checkpoint once max_steps is reached."""
    run = TrainingRun(recipe, data_dir, progress)
    finished = run.run(max_minutes)
    output = run.export() if finished and run.dist.main else None
    run.dist.barrier()
    return output
