"""webapp/claims.py on the SHIPPED checkpoints: every claim the lecture makes about a figure holds on
the model it names, every placeholder can be measured, and a wrong claim fails (the check is not a
rubber stamp). Decoder rows are named by the word they write."""

import dataclasses
from pathlib import Path

import pytest

from tests.helpers import ROOT
from transformer import load_checkpoint
from webapp import claims
from webapp import lecture as app_lecture

LECTURE = app_lecture.load_lecture()
SHIPPED = ("en-de", "en-fr", "en-es")


@pytest.fixture(scope="module")
def models() -> dict[str, claims.Model]:
    return {
        name: claims.Model(name, ROOT / "checkpoints" / name, load_checkpoint(ROOT / "checkpoints" / name))
        for name in SHIPPED
    }


@pytest.mark.parametrize("name", SHIPPED)
def test_every_claim_of_the_lecture_holds_on_the_shipped_checkpoint(models, name):
    outcomes = claims.check_claims(LECTURE, models[name])
    assert outcomes or name == "en-es" or name == "en-fr"
    assert all(outcome.ok for outcome in outcomes), [(o.step, o.problem) for o in outcomes if not o.ok]


def test_the_lecture_checks_its_figures_on_every_shipped_pair():
    named = {claims.step_args(step, claim.args)["ckpt"] for step in LECTURE.steps for claim in step.claims}
    assert named == set(SHIPPED)
    assert sum(len(step.claims) for step in LECTURE.steps) >= 15


def test_every_placeholder_is_measured(models):
    for number, step in enumerate(LECTURE.steps, 1):
        for name in ("narrative", "look", "question", "answer"):
            text = getattr(step, name)
            if text:
                filled, problems = claims.fill(text, step, models.__getitem__)
                assert not problems and "{" not in filled, (number, name, problems)


def test_the_row_writing_a_word_is_the_one_that_reads_the_word_before(models):
    step = LECTURE.steps[0]
    args = claims.step_args(step, {"kind": "cross", "layer": "3", "head": "avg", "writes": "Hunde"})
    measured = claims.measure("top_key", args, models.__getitem__)
    assert measured.key == "dogs" and measured.phrase.startswith("the row writing *Hunde* puts")
    # Read the other way (the row whose decoder input is Hunde) it would be another word.
    assert claims.measure("top_key", {**args, "writes": "spielen"}, models.__getitem__).key != "dogs"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"expect": "playing"}, "expected 'playing'"),
        ({"range": (0.99, 1.0)}, "expected between 0.99 and 1"),
        ({"args": {"kind": "cross", "layer": "3", "head": "avg", "writes": "Katzen"}}, "no row writing 'Katzen'"),
        ({"args": {"kind": "cross", "layer": "9", "head": "avg", "writes": "Hunde"}}, "3 layers, not 9"),
        ({"check": "largest"}, "no measure 'largest'"),
    ],
)
def test_a_wrong_claim_fails(models, change, message):
    step = LECTURE.steps[0]
    [claim] = [claim for claim in step.claims if claim.args.get("writes") == "Hunde"]
    wrong = dataclasses.replace(claim, **change)
    lecture = dataclasses.replace(LECTURE, steps=[dataclasses.replace(step, claims=(wrong,))])
    [outcome] = claims.check_claims(lecture, models["en-de"])
    assert not outcome.ok and message in outcome.problem


def test_a_teachers_edit_is_checked_the_same_way(models, tmp_path: Path):
    text = (
        (ROOT / "lectures" / "attention.toml").read_text(encoding="utf-8").replace('expect = "snow"', 'expect = "dogs"')
    )
    edited = app_lecture.parse_lecture(text, "edited.toml")
    failed = [outcome for outcome in claims.check_claims(edited, models["en-de"]) if not outcome.ok]
    assert [(outcome.step, outcome.claim.args["writes"]) for outcome in failed] == [(1, "Schnee")]


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("entropy", {"kind": "cross", "layer": "9", "head": "1"}),
        ("previous", {"layer": "1", "head": "9"}),
        ("entropy", {"kind": "cross", "layer": "1", "head": "²"}),
    ],
)
def test_a_head_the_model_lacks_is_a_claim_error_not_a_crash(models, name, args):
    """A lecture's typo reads as a claim that cannot be taken (the slide says so), not an exception."""
    with pytest.raises(claims.ClaimError, match=name):
        claims.measure(name, {"ckpt": "en-de", **args}, models.__getitem__)
