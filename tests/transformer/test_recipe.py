"""Recipes (transformer.recipe): how each shipped corpus is cut into train/dev/test, and the check
that refuses a recipe that would cut it otherwise (training on the shipped models' test sentences)."""

import gzip
import json
import secrets
import tomllib

import pytest

from tests.helpers import DATA_DIR, ROOT
from transformer import data as D
from transformer.checkpoint import METRICS_FILE
from transformer.config import ModelConfig
from transformer.recipe import CORPUS_SPLITS, SPLITS, Recipe, check_data_files, load_pairs, load_split
from webapp.trainer.recipe import recipe_values
from webapp.trainer.settings import TrainSetup


def test_a_recipe_trains_a_task_from_its_data_table(tmp_path):
    spec = {"kind": "task", "task": "swap", "count": 30, "seed": 4, "min_len": 2, "max_len": 6, "symbols": 8}
    pairs, stats = load_pairs(spec, tmp_path)
    assert pairs == D.toy_task_pairs("swap", 30, 4, 2, 6, 8) and stats.read == 0
    values = recipe_values(TrainSetup(task="rotate", shift=3), tmp_path)
    assert Recipe.from_values(values).data["train"][0]["shift"] == 3
    for bad, message in (
        ({"task": "shuffle"}, "unknown task 'shuffle'"),
        ({"min_len": 9, "max_len": 3}, "min_len is above max_len"),
        ({"symbols": 99}, "'symbols' must be"),
    ):
        broken = recipe_values(TrainSetup(), tmp_path)
        broken["data"]["train"][0] |= bad
        with pytest.raises(ValueError, match=message):
            Recipe.from_values(broken, "page")


TATOEBA_DE = "tatoeba-anki/deu-eng/deu.txt.gz"


RECIPE = """
name = "cut"
output = "out"
run_dir = "run"
source_language = "en"
target_language = "de"
[model]
d_model = 32
n_heads = 4
[train]
max_steps = 1
[data]
train = [{{ kind = "tsv", path = "{path}", split = "train"{train} }}]
dev = [{{ kind = "tsv", path = "{path}", split = "dev"{train} }}]
[data.test]
held_out = [{{ kind = "tsv", path = "{path}", split = "test"{test} }}]
"""


def write_recipe(tmp_path, path=TATOEBA_DE, train="", test=None) -> str:
    """A recipe whose three splits cut the corpus at `path`; train and test are the fraction
    fields ("" for none) of the train/dev sources and of the test source (the same by default)."""
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(RECIPE.format(path=path, train=train, test=train if test is None else test))
    return str(recipe)


def shipped_recipes() -> dict[str, dict]:
    """configs/*.toml by the checkpoint folder they write."""
    recipes = {}
    for path in sorted((ROOT / "configs").glob("*.toml")):
        with open(path, "rb") as f:
            values = tomllib.load(f)
        recipes[values["output"]] = values
    return recipes


def test_a_shipped_corpus_is_cut_by_its_fixed_fractions_restated_or_not(tmp_path):
    plain = Recipe.load(write_recipe(tmp_path))
    restated = Recipe.load(write_recipe(tmp_path, train=", dev_fraction = 0.02, test_fraction = 0.03"))
    assert plain.data["train"][0]["split"] == restated.data["train"][0]["split"] == "train"


@pytest.mark.parametrize(
    "path, fractions, field",
    [
        (TATOEBA_DE, ", test_fraction = 0.01", "'test_fraction' 0.01"),  # test sentences would train
        (TATOEBA_DE, ", dev_fraction = 0.05", "'dev_fraction' 0.05"),
        (f"./{TATOEBA_DE}", ", test_fraction = 0.01", "'test_fraction'"),  # spelled another way
        (f"/anywhere/{TATOEBA_DE}", ", test_fraction = 0.01", "'test_fraction'"),
        ("tatoeba-anki/fra-eng/fra.txt.gz", ", dev_fraction = 0.0", "'dev_fraction' 0.0"),
    ],
)
def test_a_recipe_that_cuts_a_shipped_corpus_otherwise_is_refused(tmp_path, path, fractions, field):
    recipe = write_recipe(tmp_path, path=path, train=fractions)
    with pytest.raises(ValueError) as error:
        Recipe.load(recipe)
    message = str(error.value)
    assert message.startswith(f"{recipe} [data] train:") and field in message and "shipped" in message


def test_a_corpus_of_ones_own_needs_its_fractions_and_the_same_in_every_split(tmp_path):
    with pytest.raises(ValueError, match=r"\[data\] train: a split of mine.tsv needs 'dev_fraction'"):
        Recipe.load(write_recipe(tmp_path, path="mine.tsv"))
    same = ", dev_fraction = 0.1, test_fraction = 0.2"
    assert Recipe.load(write_recipe(tmp_path, path="mine.tsv", train=same)).data["test"]["held_out"]
    other = ", dev_fraction = 0.1, test_fraction = 0.05"  # test would hold sentences train also holds
    with pytest.raises(ValueError, match=r"\[data\] test.held_out: mine.tsv is cut by .* but .* in train"):
        Recipe.load(write_recipe(tmp_path, path="mine.tsv", train=same, test=other))


def test_an_unknown_split_name_is_refused(tmp_path):
    recipe = write_recipe(tmp_path)
    (tmp_path / "recipe.toml").write_text((tmp_path / "recipe.toml").read_text().replace('"dev"', '"valid"'))
    with pytest.raises(ValueError, match=r"\[data\] dev: 'split' must be one of train, dev, test, got 'valid'"):
        Recipe.load(recipe)


def test_the_splits_of_a_shipped_corpus_partition_it_by_the_fixed_fractions(tmp_path):
    """load_pairs cuts a file at a shipped corpus' path by CORPUS_SPLITS, not by any default."""
    lines = "".join(f"sentence {i}\tSatz {i}\n" for i in range(4000))
    (tmp_path / TATOEBA_DE).parent.mkdir(parents=True)
    (tmp_path / TATOEBA_DE).write_bytes(gzip.compress(lines.encode()))
    pairs, _ = D.read_tsv(tmp_path / TATOEBA_DE)
    splits = {name: load_pairs({"kind": "tsv", "path": TATOEBA_DE, "split": name}, tmp_path)[0] for name in SPLITS}
    assert sorted(sum(splits.values(), [])) == sorted(pairs)
    assert splits["test"] == D.split_pairs(pairs, "test", dev_fraction=0.02, test_fraction=0.03)
    assert splits["dev"] == D.split_pairs(pairs, "dev", dev_fraction=0.02, test_fraction=0.03)


def test_every_shipped_recipe_leaves_its_tatoeba_cut_to_the_table():
    """The fractions have one home: no shipped recipe restates them, and each corpus it cuts is
    in CORPUS_SPLITS."""
    cut = 0
    for output, values in shipped_recipes().items():
        Recipe.from_values(values, output)
        specs = values["data"]["train"] + values["data"]["dev"] + sum(values["data"].get("test", {}).values(), [])
        for spec in (spec for spec in specs if "split" in spec):
            assert not {"dev_fraction", "test_fraction"} & set(spec), (output, spec)
            assert spec["path"] in CORPUS_SPLITS, (output, spec)
            cut += 1
    assert cut == 9  # train, dev and test of en-de, en-fr and en-es


@pytest.mark.skipif(not (DATA_DIR / "tatoeba-anki").is_dir(), reason=f"no Tatoeba data at {DATA_DIR}")
@pytest.mark.parametrize("output", ["checkpoints/en-de", "checkpoints/en-es", "checkpoints/en-fr"])
def test_the_table_cuts_the_test_set_each_shipped_checkpoint_was_scored_on(output):
    """metrics.json recorded how many Tatoeba test sentences each checkpoint was scored on: the
    cut CORPUS_SPLITS makes today must find exactly as many."""
    recipe = Recipe.from_values(shipped_recipes()[output], output)
    pairs, _ = load_split(recipe.data["test"]["tatoeba_test"], DATA_DIR)
    recorded = json.loads((ROOT / output / METRICS_FILE).read_text())["tatoeba_test"]["sentences"]
    assert len(pairs) == recorded


def test_heads_that_do_not_divide_d_model_are_refused_alike_in_a_recipe_and_a_config(tmp_path):
    recipe = write_recipe(tmp_path)
    (tmp_path / "recipe.toml").write_text((tmp_path / "recipe.toml").read_text().replace("n_heads = 4", "n_heads = 3"))
    with pytest.raises(ValueError) as from_recipe:
        Recipe.load(recipe)
    with pytest.raises(ValueError) as from_config:
        ModelConfig(src_vocab_size=10, tgt_vocab_size=10, d_model=32, n_heads=3)
    reason = "'d_model' 32 is not divisible by 'n_heads' 3"
    assert str(from_recipe.value) == f"{recipe} [model]: {reason}"
    assert str(from_config.value) == f"ModelConfig: {reason}"


OWN_CUT = ", dev_fraction = 0.2, test_fraction = 0.2"


def write_corpus(path) -> list[tuple[str, str]]:
    """A tab-separated corpus of fresh random pairs at path."""
    pairs = [(secrets.token_hex(4), secrets.token_hex(4)) for _ in range(50)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{source}\t{target}\n" for source, target in pairs))
    return pairs


@pytest.mark.parametrize("name", ["../secret.tsv", "{tmp}/secret.tsv", "link.tsv", "sub/../../secret.tsv"])
def test_a_data_file_outside_the_data_folder_is_refused(tmp_path, name):
    """A downloaded recipe must not read any file it likes as training data: not by .., not by an
    absolute path, not through a link in the data folder."""
    data_dir, secret = tmp_path / "data", tmp_path / "secret.tsv"
    write_corpus(secret)
    (data_dir / "sub").mkdir(parents=True)
    (data_dir / "link.tsv").symlink_to(secret)
    name = name.format(tmp=tmp_path)
    recipe = write_recipe(tmp_path, path=name, train=OWN_CUT)
    outside = f"{data_dir / name}: outside the data folder {data_dir.resolve()}; a recipe reads only files in it"
    with pytest.raises(ValueError) as error:
        check_data_files(Recipe.load(recipe), data_dir)
    assert str(error.value).startswith(f"{recipe} [data] train path: {outside}") and "--data-dir" in str(error.value)
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="outside the data folder"):
        load_pairs({"kind": "parallel", "src": name, "tgt": name}, data_dir)
    with pytest.raises(ValueError, match="outside the data folder"):
        load_pairs({"kind": "tsv", "path": name}, data_dir)


@pytest.mark.parametrize("name", ["mine.tsv", "sub/mine.tsv", "sub/../mine.tsv", "{data}/sub/mine.tsv"])
def test_a_data_file_inside_the_data_folder_is_read(tmp_path, name):
    """A relative path, a subfolder, an absolute path into the data folder, and a link that stays
    in it are all read."""
    data_dir = tmp_path / "data"
    name = name.format(data=data_dir)
    pairs = write_corpus(data_dir / name)
    (data_dir / "alias.tsv").symlink_to(data_dir / name)
    for spelled in (name, "alias.tsv"):
        recipe = Recipe.load(write_recipe(tmp_path, path=spelled, train=OWN_CUT))
        check_data_files(recipe, data_dir)
        sources = recipe.data["train"] + recipe.data["dev"] + recipe.data["test"]["held_out"]
        assert sorted(load_split(sources, data_dir)[0]) == sorted(pairs)
