"""What the lecture says about its figures, measured on the model: the {placeholders} a step's text
is filled in with at render time, and the [[steps.claims]] a test and the Lecture page check
(check_claims). One set of measures serves both, so a sentence and its check cannot disagree.

A placeholder is `{measure name=value ...}` (values with spaces in double quotes), e.g.
`{top_key kind=cross layer=3 head=avg writes="Hunde"}`; a claim is the same measure as a table
with `check = "top_key"` and what it expects: `expect` (the key, a word without ▁, or a head as
kind-layer-head) and/or `range = [low, high]` of its number. ckpt and text default to the step's.

Decoder rows are named by the word the position WRITES (Translation.output_tokens): the row
writing *Hunde* is the one whose decoder input is *Zwei*. Encoder rows by their own token (`row`).
Layers and heads count from 1 here, as on every page; head "avg" averages the heads.

No Streamlit: plain functions of a checkpoint (anything with name, folder and translator).
"""

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from figures.positional import wavelength
from transformer import Translation, Translator
from transformer.analysis import average_statistics, dev_translations, head_gates
from transformer.checkpoint import load_dev_sample
from webapp.lecture import Claim, Lecture, Step

KIND_NAMES = {"encoder": "encoder self-attention", "decoder": "decoder self-attention", "cross": "encoder–decoder"}
PLACEHOLDER = re.compile(r"\{([a-z_]+)((?:\s+[a-z_]+=(?:\"[^\"]*\"|[^\s}]+))*)\s*\}")


class ClaimError(ValueError):
    """A measure cannot be taken: unknown measure, missing argument, a word not in the sentence."""


class Unavailable(ClaimError):
    """The checkpoint a measure names is not part of this deployment (one with the toy alone, say):
    nothing to check and nothing wrong; its placeholder reads as `absent(name)`."""

    def __init__(self, name: str):
        super().__init__(f"no checkpoint {name!r} here")
        self.name = name


@dataclass(frozen=True)
class Model:
    """A checkpoint as the measures need it (webapp.state.checkpoints.Checkpoint fits too)."""

    name: str
    folder: Path
    translator: Translator


@dataclass(frozen=True)
class Measured:
    phrase: str  # what a placeholder is replaced with (Markdown)
    key: str | None = None  # what `expect` is compared with
    number: float | None = None  # what `range` is compared with


@dataclass(frozen=True)
class Outcome:
    step: int  # 1-based
    claim: Claim
    measured: Measured | None
    problem: str | None  # None: the model agrees

    @property
    def ok(self) -> bool:
        return self.problem is None


def word(token: str) -> str:
    return token.replace("▁", "")


def shown(token: str) -> str:
    """A token for Markdown: a word in italics, a control token (`</s>`) as code, literally."""
    text = word(token)
    return f"`{text}`" if text.startswith("<") else f"*{text}*"


# --- what is measured on -----------------------------------------------------------------------
@lru_cache(maxsize=32)
def _translation(translator: Translator, text: str) -> Translation:
    [result] = translator.translate([text])
    return result


@lru_cache(maxsize=8)
def _dev_translations(translator: Translator, folder: str) -> tuple[Translation, ...]:
    """The dev sample's translations (transformer.analysis.dev_translations), decoded once for every measure."""
    pairs = load_dev_sample(folder)
    if not pairs:
        raise ClaimError(f"{folder} ships no dev sample")
    return tuple(dev_translations(translator, pairs))


@lru_cache(maxsize=8)
def _dev_statistics(translator: Translator, folder: str) -> dict:
    return average_statistics(list(_dev_translations(translator, folder)))


def _number(args: dict[str, str], name: str) -> int:
    value = args.get(name)
    if value is None or not value.isdigit() or int(value) < 1:
        raise ClaimError(f"{name} must be a number from 1, got {value!r}")
    return int(value)


def _kind(args: dict[str, str]) -> str:
    kind = args.get("kind")
    if kind not in KIND_NAMES:
        raise ClaimError(f"kind must be one of {', '.join(KIND_NAMES)}, got {kind!r}")
    return kind


def _head_map(result: Translation, args: dict[str, str]) -> torch.Tensor:
    """(rows, keys) of kind, layer and head (or "avg") in args."""
    maps = result.attention[_kind(args)]
    layer, head = _number(args, "layer") - 1, args.get("head", "avg")
    if layer >= maps.shape[0]:
        raise ClaimError(f"the model has {maps.shape[0]} layers, not {layer + 1}")
    if head == "avg":
        return maps[layer].mean(0)
    index = _number(args, "head") - 1
    if index >= maps.shape[1]:
        raise ClaimError(f"the model has {maps.shape[1]} heads, not {index + 1}")
    return maps[layer, index]


def _find(tokens: list[str], text: str, what: str) -> int:
    words = [word(token) for token in tokens]
    if text not in words:
        raise ClaimError(f"no row {what} {text!r}: the rows are {' '.join(words)}")
    return words.index(text)


# --- the measures --------------------------------------------------------------------------------
def top_key(model, args: dict[str, str]) -> Measured:
    """The key a row puts most weight on, and that weight."""
    result = _translation(model.translator, args["text"])
    kind, weights = _kind(args), _head_map(result, args)
    if kind == "encoder":
        row = _find(result.source_tokens, args.get("row", ""), "of")
        who = shown(result.source_tokens[row])
    else:
        row = _find(result.output_tokens, args.get("writes", ""), "writing")
        who = f"the row writing {shown(result.output_tokens[row])}"
    keys = result.target_tokens if kind == "decoder" else result.source_tokens
    best = int(weights[row].argmax())
    share = float(weights[row, best])
    return Measured(f"{who} puts {share:.0%} on {shown(keys[best])}", word(keys[best]), share)


def _statistics(model, args: dict[str, str]) -> dict:
    if args.get("over", "dev") == "dev":
        return _dev_statistics(model.translator, str(model.folder))
    return average_statistics([_translation(model.translator, args["text"])])


def _head_name(kind: str, layer: int, head: int) -> str:
    return f"{KIND_NAMES[kind]} layer {layer + 1}, head {head + 1}"


def sharpest(model, args: dict[str, str]) -> Measured:
    """The head with the lowest mean entropy (of one kind, or of all): key kind-layer-head."""
    statistics = _statistics(model, args)
    kinds = [_kind(args)] if "kind" in args else list(statistics)
    candidates = [
        (float(value), kind, layer, head)
        for kind in kinds
        for (layer, head), value in _enumerate(statistics[kind]["entropy"])
    ]
    value, kind, layer, head = min(candidates)
    return Measured(f"{_head_name(kind, layer, head)} ({value:.2f} nats)", f"{kind}-{layer + 1}-{head + 1}", value)


def _enumerate(grid: torch.Tensor):
    return (((layer, head), grid[layer, head]) for layer in range(grid.shape[0]) for head in range(grid.shape[1]))


def entropy(model, args: dict[str, str]) -> Measured:
    """One head's mean entropy, in nats (over the dev sample unless over = "sentence")."""
    grid = _statistics(model, args)[_kind(args)]["entropy"]
    value = float(grid[_number(args, "layer") - 1, _number(args, "head") - 1])
    return Measured(f"{value:.2f} nats", None, value)


def previous(model, args: dict[str, str]) -> Measured:
    """The mean weight an encoder head puts on the token just before each query, over the dev sample."""
    layer, head = _number(args, "layer") - 1, _number(args, "head") - 1
    shares = [
        torch.diagonal(result.attention["encoder"][layer, head], offset=-1).mean()
        for result in _dev_translations(model.translator, str(model.folder))
        if len(result.source_tokens) > 1
    ]
    value = float(torch.stack(shares).mean())
    return Measured(f"{value:.0%}", None, value)


def period(model, args: dict[str, str]) -> Measured:
    """The period, in positions, of one dimension of the positional encoding at the model's d_model."""
    dim = args.get("dim", "")
    if not dim.isdigit() or int(dim) >= model.translator.config.d_model:
        raise ClaimError(f"dim must be a dimension of d_model = {model.translator.config.d_model}, got {dim!r}")
    value = wavelength(int(dim), model.translator.config.d_model)
    return Measured(f"{value:.1f}" if value < 10 else f"{value:.0f}", None, value)


def ablation(model, args: dict[str, str]) -> Measured:
    """The sentence translated with the heads in `off` (kind-layer-head,...) switched off: key
    "changed" or "same", number the log-probability of the original translation without them."""
    translator = model.translator
    original = _translation(translator, args["text"])
    disabled: dict[str, list[tuple[int, int]]] = {}
    for name in args.get("off", "").split(","):
        kind, layer, head = (name.split("-") + ["", "", ""])[:3]
        _kind({"kind": kind})
        disabled.setdefault(kind, []).append((_number({"l": layer}, "l") - 1, _number({"h": head}, "h") - 1))
    gates = head_gates(translator, disabled)
    [ablated] = translator.translate([args["text"]], head_gates=gates)
    forced = translator.explain(original.source_ids, original.output_ids, gates)
    phrase = (
        f"*{original.text}* → *{ablated.text}* (log P of the original {original.log_prob:.3f} → {forced.log_prob:.3f})"
    )
    return Measured(phrase, "changed" if ablated.text != original.text else "same", forced.log_prob)


MEASURES: dict[str, Callable[[object, dict[str, str]], Measured]] = {
    "top_key": top_key,
    "sharpest": sharpest,
    "entropy": entropy,
    "previous": previous,
    "period": period,
    "ablation": ablation,
}


# --- placeholders and claims ---------------------------------------------------------------------
def step_args(step: Step, args: dict[str, str]) -> dict[str, str]:
    """The measure's arguments, ckpt and text defaulting to the step's view."""
    defaults = {name: step.params[name] for name in ("ckpt", "text") if name in step.params}
    return {**defaults, **args}


def measure(name: str, args: dict[str, str], load: Callable[[str], object]) -> Measured:
    """The measure `name` on the checkpoint load(args["ckpt"]); ClaimError if it cannot be taken."""
    if name not in MEASURES:
        raise ClaimError(f"no measure {name!r} (one of {', '.join(MEASURES)})")
    if "ckpt" not in args:
        raise ClaimError("no checkpoint: give ckpt, or the step's params a ckpt")
    try:
        return MEASURES[name](load(args["ckpt"]), args)
    except KeyError as error:
        raise ClaimError(f"{name} needs {error}") from None
    except ClaimError:
        raise
    except (IndexError, ValueError) as error:  # a layer, head or index the model lacks, a number that is none
        raise ClaimError(f"{name}: {error}") from None


def absent(name: str) -> str:
    """What a placeholder measured on a checkpoint this deployment lacks reads as."""
    return f"*(measured on {name}, not part of this app)*"


def step_checkpoints(step: Step) -> set[str]:
    """The checkpoints the step's placeholders and claims are measured on (what their results depend on)."""
    texts = [text for text in (step.narrative, step.look, step.question, step.answer) if text is not None]
    named = [step_args(step, args) for text in texts for _, args in placeholders(text)]
    named += [step_args(step, claim.args) for claim in step.claims]
    return {args["ckpt"] for args in named if "ckpt" in args}


def placeholders(text: str) -> list[tuple[str, dict[str, str]]]:
    """The placeholders of text, in order: (measure, arguments)."""
    return [
        (match[1], dict(part.split("=", 1) for part in shlex.split(match[2]))) for match in PLACEHOLDER.finditer(text)
    ]


def fill(text: str, step: Step, load: Callable[[str], object]) -> tuple[str, list[str]]:
    """text with every placeholder replaced by its measure's phrase; and the problems (a
    placeholder that cannot be measured is shown as itself; one measured on a checkpoint that is
    not here (load raises Unavailable) reads as absent(name), no problem)."""
    problems = []

    def replace(match: re.Match) -> str:
        [(name, args)] = placeholders(match[0])
        try:
            phrase = measure(name, step_args(step, args), load).phrase
        except Unavailable as error:
            phrase = absent(error.name)
        except ClaimError as error:
            problems.append(f"{match[0]}: {error}")
            return match[0]
        starts_sentence = not text[: match.start()].strip() or text[: match.start()].rstrip().endswith((".", "?", "!"))
        return phrase[:1].upper() + phrase[1:] if starts_sentence else phrase

    return PLACEHOLDER.sub(replace, text), problems


def check(claim: Claim, step: Step, load: Callable[[str], object]) -> tuple[Measured | None, str | None]:
    """(what was measured, why the claim fails or None); Unavailable (from load) passes through: a
    claim about a checkpoint that is not here neither holds nor fails."""
    try:
        measured = measure(claim.check, step_args(step, claim.args), load)
    except Unavailable:
        raise
    except ClaimError as error:
        return None, str(error)
    if claim.expect is not None and measured.key != claim.expect:
        return measured, f"expected {claim.expect!r}, the model gives {measured.key!r} ({measured.phrase})"
    if claim.range is not None:
        low, high = claim.range
        if measured.number is None or not low <= measured.number <= high:
            return measured, f"expected between {low:g} and {high:g}, the model gives {measured.number:.3g}"
    return measured, None


def check_claims(lecture: Lecture, checkpoint) -> list[Outcome]:
    """Every claim of the lecture made about `checkpoint` (its ckpt, or its step's, names it),
    checked on it; a claim about another checkpoint is left out."""
    outcomes = []
    for number, step in enumerate(lecture.steps, 1):
        for claim in step.claims:
            if step_args(step, claim.args).get("ckpt") != checkpoint.name:
                continue
            measured, problem = check(claim, step, lambda _: checkpoint)
            outcomes.append(Outcome(number, claim, measured, problem))
    return outcomes
