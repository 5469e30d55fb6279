"""The toy tasks of the Train page (transformer.data.toy_task_pairs) and their recipe data source."""

import gzip
import random

import pytest

from transformer import data as D


def write(path, content: bytes, gz=False):
    path.write_bytes(gzip.compress(content) if gz else content)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_read_parallel_plain_or_gzip(tmp_path, gz):
    src = write(tmp_path / "a.en", b"Hello\xc2\xa0 world.\nBad \xff\nSame\nSame\n", gz)
    tgt = write(tmp_path / "a.de", b"Hallo Welt.\nSchlecht\nGleich\nGleich\n", gz)
    pairs, stats = D.read_parallel(src, tgt)
    assert pairs == [("Hello world.", "Hallo Welt."), ("Same", "Gleich")]
    assert (stats.read, stats.bad, stats.duplicates) == (4, 1, 1)
    assert "not UTF-8" in stats.examples[0]


def test_read_parallel_needs_equal_lengths(tmp_path):
    with pytest.raises(ValueError, match="lines"):
        D.read_parallel(write(tmp_path / "a", b"x\ny\n"), write(tmp_path / "b", b"x\n"))


def test_read_tsv_counts_malformed_lines(tmp_path):
    content = "Go.\tGeh.\nno tab here\nA\tB\tC\n#\tbad\nWait!\tWarte\u202f!\n\t\nGo.\tGeh.\n".encode()
    content = content.replace(b"#", b"\xff")  # an undecodable byte
    pairs, stats = D.read_tsv(write(tmp_path / "deu.txt.gz", content, gz=True))
    assert pairs == [("Go.", "Geh."), ("Wait!", "Warte !")]
    assert stats.bad == 3 and stats.empty == 1 and stats.duplicates == 1 and stats.read == 7


def test_normalize():
    assert D.normalize("  a\u00a0b\u202fc\t d \n") == "a b c d"
    assert D.normalize("ﬁ") == "fi"  # NFKC


def test_split_is_deterministic_and_keeps_a_source_on_one_side():
    rng = random.Random()
    sources = [f"sentence {rng.random()}" for _ in range(2000)]
    pairs = [(s, f"translation {k}") for s in sources for k in range(rng.randint(1, 3))]
    splits = {name: D.split_pairs(pairs, name, 0.1, 0.1) for name in ("train", "dev", "test")}
    assert sum(map(len, splits.values())) == len(pairs)
    seen = {name: {s for s, _ in ps} for name, ps in splits.items()}
    assert not (seen["train"] & seen["dev"]) and not (seen["train"] & seen["test"]) and not (seen["dev"] & seen["test"])
    assert 0.05 < len(seen["dev"]) / len(sources) < 0.15
    rng.shuffle(pairs)  # order does not matter
    assert sorted(D.split_pairs(pairs, "dev", 0.1, 0.1)) == sorted(splits["dev"])


def test_token_batches_cover_everything_within_the_budget():
    rng = random.Random()
    examples = [([5] * rng.randint(1, 30), [6] * rng.randint(2, 30)) for _ in range(500)]
    batches = D.token_batches(examples, max_tokens=200, seed=3)
    assert sorted(i for b in batches for i in b) == list(range(500))
    for batch in batches:
        longest = max(max(len(examples[i][0]), len(examples[i][1])) for i in batch)
        assert longest * len(batch) <= 200
    assert D.token_batches(examples, 200, seed=3) == batches
    assert D.token_batches(examples, 200, seed=4) != batches


def test_reverse_task():
    for source, target in D.reverse_task_pairs(50, seed=random.randrange(1000)):
        symbols = source.split()
        assert 1 <= len(symbols) <= 20 and set(symbols) <= set(D.SYMBOLS)
        assert target.split() == symbols[::-1]


def test_a_truncated_gzip_file_is_one_clear_error(tmp_path):
    whole = gzip.compress(b"".join(b"line %d\n" % i for i in range(2000)))
    path = write(tmp_path / "cut.gz", whole[: len(whole) // 2])
    with pytest.raises(ValueError, match=r"cut.gz: truncated or corrupt gzip file"):
        D.read_lines(path, D.ReadStats())


def sequences(task: str, **options) -> list[tuple[list[str], list[str]]]:
    pairs = D.toy_task_pairs(task, 200, random.randrange(10_000), **options)
    return [(source.split(), target.split()) for source, target in pairs]


@pytest.mark.parametrize("task", D.TASKS)
def test_every_task_draws_within_its_lengths_and_alphabet(task):
    for source, target in sequences(task, min_len=3, max_len=7, symbols=5):
        assert 3 <= len(source) <= 7 and set(source) <= set("abcde")
        assert sorted(target) == sorted(source)  # a rearrangement: same symbols, same counts


def test_each_task_rearranges_as_named():
    source = ["a", "b", "c", "d", "e"]
    expected = {
        "reverse": "e d c b a",
        "copy": "a b c d e",
        "sort": "a b c d e",
        "rotate": "c d e a b",
        "swap": "c d e a b",  # the second half (with the middle) first
    }
    for task, target in expected.items():
        assert " ".join(D.TASKS[task](source, 2)) == target
    assert D.TASKS["sort"](["9", "b", "a", "0"], 0) == ["a", "b", "0", "9"]  # in the order of SYMBOLS
    assert D.TASKS["swap"](["a", "b", "c", "d"], 0) == ["c", "d", "a", "b"]
    assert D.TASKS["rotate"](["a", "b", "c"], 4) == ["b", "c", "a"]  # k beyond the length wraps


@pytest.mark.parametrize("task", D.TASKS)
def test_targets_follow_the_task_on_random_sequences(task):
    for source, target in sequences(task, max_len=12, shift=3):
        n = len(source)
        if task == "reverse":
            assert all(target[i] == source[n - 1 - i] for i in range(n))
        elif task == "copy":
            assert target == source
        elif task == "sort":
            assert [D.SYMBOLS.index(s) for s in target] == sorted(D.SYMBOLS.index(s) for s in source)
        elif task == "rotate":
            assert all(target[i] == source[(i + 3) % n] for i in range(n))
        else:
            assert target == source[n // 2 :] + source[: n // 2]


def test_generation_is_deterministic_and_reverse_task_pairs_unchanged():
    assert D.toy_task_pairs("sort", 20, 5) == D.toy_task_pairs("sort", 20, 5)
    assert D.toy_task_pairs("sort", 20, 5) != D.toy_task_pairs("sort", 20, 6)
    # The shipped toy-reverse checkpoint's data: the generator's original algorithm, unchanged.
    rng, original = random.Random(11), []
    for _ in range(50):
        symbols = rng.choices(D.SYMBOLS, k=rng.randint(1, 20))
        original.append((" ".join(symbols), " ".join(reversed(symbols))))
    assert D.reverse_task_pairs(50, 11) == original


def test_bad_task_settings_are_refused():
    with pytest.raises(ValueError, match="unknown task"):
        D.toy_task_pairs("shuffle", 1, 0)
    with pytest.raises(ValueError, match="min_len"):
        D.toy_task_pairs("copy", 1, 0, min_len=5, max_len=3)
