"""A class at once: N simulated students, each a real Streamlit session (the browser's websocket
protocol, no browser: deploy/session_client.py), open a page with a sentence of their own and then
type a new one about every --interval seconds, from a random start. Prints p50/p95/max of the first
pages and of the typed sentences, the errors (no finish, an exception on the page, a page without
the student's own sentence or with another student's) and the app processes' peak memory.

    python -m benchmarks.classroom --students 60                 # starts its own server (one process)
    python -m benchmarks.classroom --students 60 --url http://127.0.0.1:8501   # e.g. `make serve`
    python -m benchmarks.classroom --students 6 --symbols --kill-one-after 4 --url ...

127.0.0.1 (or the URL given) only; bounded by --students (at most MAX_STUDENTS) and --max-seconds.
"""

import argparse
import asyncio
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from deploy.serve import free_port, run_dir, start_app, wait_healthy, warm
from deploy.session_client import PageError, PageRun, Session
from webapp.registry import INT8_ENV

ROOT = Path(__file__).resolve().parent.parent

MAX_STUDENTS = 200
TEXT_KEY = "text"  # the key of the sentence's text box on Translate and Inside (webapp.state.url)
PAGES = ("translate", "inside")
# Multi30k-like captions, every word in the shipped English models' vocabularies: one sentence per
# index, recognisable from all others (make_sentences checks that none is inside another).
SUBJECTS = ["man", "woman", "boy", "girl", "dog", "child", "worker", "musician", "teacher", "cyclist", "player"]
ADJECTIVES = ["young", "old", "tall", "small", "happy", "tired", "busy"]
COLOURS = ["red", "blue", "green", "yellow", "black", "white", "orange"]
CLOTHES = ["shirt", "hat", "jacket", "dress", "coat"]
ACTIONS = [
    "is reading a book",
    "is playing a guitar",
    "is riding a bike",
    "is eating an apple",
    "is painting a wall",
    "is climbing a rock",
    "is holding a ball",
    "is carrying a bag",
    "is watching the water",
]
PLACES = [
    "in the park",
    "on the street",
    "near the river",
    "at the beach",
    "in the kitchen",
    "on a bench",
    "in the snow",
]
SYMBOLS = "abcdefghijklmnopqrstuvwxyz"  # the toy checkpoint reverses these


def english_sentence(index: int) -> str:
    """The index-th sentence of the templates (a mixed-radix number: distinct indices, distinct sentences)."""
    parts = []
    for options in (SUBJECTS, ADJECTIVES, COLOURS, CLOTHES, ACTIONS, PLACES):
        index, digit = divmod(index, len(options))
        parts.append(options[digit])
    subject, adjective, colour, clothes, action, place = parts
    return f"A {adjective} {subject} in a {colour} {clothes} {action} {place}."


def normalised(text: str) -> str:
    """Letters and digits only, lower case: what is left of a sentence in a figure's token list
    (in a chart's JSON the word-start marker ▁ is escaped: \\u2581)."""
    return re.sub(r"[^0-9a-z]", "", text.replace("\\u2581", " ").lower())


def make_sentences(count: int, symbols: bool, seed: int) -> list[str]:
    """count distinct sentences, in random order, none of which is found inside another."""
    rng = random.Random(seed)
    if symbols:
        found: dict[str, None] = {}
        while len(found) < count:
            found[" ".join(rng.choices(SYMBOLS, k=rng.randint(9, 12)))] = None
        sentences = list(found)
    else:
        sentences = [english_sentence(i) for i in rng.sample(range(10**5), count)]
    keys = [normalised(s) for s in sentences]
    joined = "\n".join(keys)
    if any(joined.count(key) != 1 for key in keys):
        raise ValueError("a sentence is found inside another: pick another --seed")
    return sentences


def page_errors(run: PageRun, own: str, others: set[str]) -> list[str]:
    """What is wrong with a page that should show own: an exception, own missing from the text box,
    the address bar or the translation's figures, or another student's sentence anywhere on it."""
    errors = [f"exception: {message}" for message in run.exceptions]
    if own not in run.strings:
        errors.append("the text box does not hold the student's sentence")
    strings = [normalised(s) for s in run.strings]  # once each: this runs between other students' timings
    own_key, url = normalised(own), normalised(run.query_string)
    shown = [key for key, s in zip(strings, run.strings) if s.startswith(("{", "<"))]  # charts and iframes
    if not any(own_key in s for s in shown):
        errors.append("no figure shows the student's sentence")
    if own_key not in url:
        errors.append("the URL does not hold the student's sentence")
    seen = "".join([*strings, url])  # normalised text has no spaces: as normalising the whole joined
    errors += [f"another student's sentence: {other!r}" for other in others if normalised(other) in seen]
    return errors


@dataclass
class Report:
    first: list[float] = field(default_factory=list)
    typed: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reconnects: int = 0
    finished: list[int] = field(default_factory=list)  # students who finished all their sentences
    served_by: dict[int, set[str]] = field(default_factory=dict)


async def student(
    number: int, url: str, page: str, mine: list[str], others: set[str], args, report: Report, start: float
) -> None:
    """One student: the first page with mine[0] after a random delay, then mine[1:] typed every args.interval."""
    rng = random.Random(args.seed * 1000 + number)
    begin = start + rng.uniform(0, args.interval)
    await asyncio.sleep(max(0.0, begin - time.monotonic()))
    session = Session(url, f"/{page}", {TEXT_KEY: mine[0]}, timeout=args.timeout)
    try:
        for k, sentence in enumerate(mine):
            if k:
                await asyncio.sleep(max(0.0, begin + k * args.interval - time.monotonic()))
            run = await (session.type(TEXT_KEY, sentence) if k else session.open())
            (report.typed if k else report.first).append(run.seconds)
            report.reconnects += run.reconnects
            report.served_by.setdefault(number, set()).add(run.served_by)
            report.errors += [f"student {number}, sentence {k + 1}: {e}" for e in page_errors(run, sentence, others)]
        report.finished.append(number)
    except PageError as error:
        report.errors.append(f"student {number}: {error}")
    finally:
        await session.close()


async def run_class(url: str, args, on_start=None) -> Report:
    """Every student at once, within args.max_seconds; on_start(loop) may add a task (a kill)."""
    sentences = make_sentences(args.students * args.sentences, args.symbols, args.seed)
    report = Report()
    start = time.monotonic()
    tasks = []
    for number in range(args.students):
        mine = sentences[number * args.sentences : (number + 1) * args.sentences]
        others = set(sentences) - set(mine)
        tasks.append(asyncio.create_task(student(number, url, args.page, mine, others, args, report, start)))
    extra = on_start() if on_start else None
    done, pending = await asyncio.wait(tasks, timeout=args.max_seconds)
    for task in pending:
        task.cancel()
    if pending:
        report.errors.append(f"{len(pending)} students still busy after {args.max_seconds:g} s")
    if extra is not None:
        await extra
    return report


def app_pids(url: str) -> list[int]:
    """The app processes behind url: those `make serve` on its port lists (deploy/serve.py's
    apps.pids), else every `streamlit run … app.py` of this machine."""
    listed = run_dir(urllib.parse.urlsplit(url).port or 80) / "apps.pids"
    if listed.exists():
        return [int(pid) for pid in listed.read_text().split()]
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
        except OSError:
            continue
        if b"run" in argv and any(a.endswith(b"streamlit") for a in argv) and any(a.endswith(b"app.py") for a in argv):
            pids.append(int(entry.name))
    return sorted(pids)


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """The user and system CPU time pid has used (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class MemoryWatch(threading.Thread):
    """The peak of the app processes' summed resident memory, sampled every 0.2 s, and the CPU
    time they used meanwhile (a figure that the machine's other load hardly changes)."""

    def __init__(self, pids):
        super().__init__(daemon=True)
        self.pids, self.peak, self.processes, self.stopped = pids, 0, 0, threading.Event()
        self.cpu_first: dict[int, float] = {}
        self.cpu_last: dict[int, float] = {}

    @property
    def cpu(self) -> float:
        return sum(self.cpu_last[pid] - self.cpu_first[pid] for pid in self.cpu_last)

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            pids = self.pids()
            self.processes = max(self.processes, len(pids))
            self.peak = max(self.peak, sum(rss_bytes(pid) for pid in pids))
            for pid in pids:
                used = cpu_seconds(pid)
                self.cpu_first.setdefault(pid, used)
                self.cpu_last[pid] = max(self.cpu_last.get(pid, 0.0), used)


def percentiles(values: list[float]) -> str:
    if not values:
        return f"{0:>6} {'-':>7} {'-':>7} {'-':>7}"
    p95 = statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]
    return f"{len(values):>6} {statistics.median(values):>7.2f} {p95:>7.2f} {max(values):>7.2f}"


def print_report(report: Report, args, seconds: float, memory: MemoryWatch) -> None:
    pages = len(report.first) + len(report.typed)
    print(
        f"{args.students} students on /{args.page}, a new sentence every {args.interval:g} s "
        f"({args.sentences} each): {pages} pages in {seconds:.1f} s ({pages / seconds:.1f} a second)"
    )
    print(f"{'':<16}{'pages':>6} {'p50 s':>7} {'p95 s':>7} {'max s':>7}")
    print(f"{'first page':<16}{percentiles(report.first)}")
    print(f"{'typed sentence':<16}{percentiles(report.typed)}")
    print(f"{'all':<16}{percentiles(report.first + report.typed)}")
    print(
        f"errors: {len(report.errors)}   students finished: {len(report.finished)}/{args.students}   "
        f"reconnects: {report.reconnects}   app processes' peak memory: {memory.peak / 2**20:.0f} MB "
        f"({memory.processes} processes), CPU {memory.cpu / max(pages, 1):.2f} s a page"
    )
    for error in report.errors[:10]:
        print(f"  {error}")


def start_server(args) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` as `make serve` starts each process, on a free port, healthy and
    warmed (one session per checkpoint and page)."""
    port = free_port()
    env = {INT8_ENV: "1"} if args.int8 else {}
    process = start_app(port, threads=args.threads, env=env, serving=not args.streamlit_defaults)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
    except RuntimeError as error:
        raise SystemExit(f"the server did not start: {error}") from None
    if not args.cold:
        warm(url)
    return process, url


def kill_one(after: float, pids) -> asyncio.Task:
    """After `after` seconds, SIGKILL one app process (the first listed): a server dying mid-class."""

    async def kill() -> None:
        await asyncio.sleep(after)
        listed = pids()
        if listed:
            os.kill(listed[0], signal.SIGKILL)
            print(f"killed app process {listed[0]} after {after:g} s", flush=True)

    return asyncio.create_task(kill())


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=10)
    parser.add_argument("--page", choices=PAGES, default="translate")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between a student's sentences")
    parser.add_argument("--sentences", type=int, default=3, help="per student: the first page's and the typed ones")
    parser.add_argument("--url", help="a running server or balancer (else one is started: streamlit run app.py)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the server started here")
    parser.add_argument("--cold", action="store_true", help="no warm-up session before the class")
    parser.add_argument("--int8", action="store_true", help="the server started here translates with int8")
    parser.add_argument(
        "--streamlit-defaults",
        action="store_true",
        help="the server started here as `make run`: GC and file watcher on",
    )
    parser.add_argument("--symbols", action="store_true", help="letters, for the toy checkpoint, not English")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds a page may take before it is an error")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="the whole class's bound")
    parser.add_argument("--kill-one-after", type=float, help="SIGKILL one app process this many seconds in")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not 1 <= args.students <= MAX_STUDENTS or args.sentences < 1:
        parser.error(f"--students between 1 and {MAX_STUDENTS}, --sentences at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    server, url = start_server(args) if args.url is None else (None, args.url.rstrip("/"))
    pids = (lambda: [server.pid]) if server is not None else (lambda: app_pids(url))
    memory = MemoryWatch(pids)
    memory.start()
    try:
        start = time.monotonic()
        on_start = (lambda: kill_one(args.kill_one_after, pids)) if args.kill_one_after is not None else None
        report = asyncio.run(run_class(url, args, on_start))
        seconds = time.monotonic() - start
    finally:
        memory.stopped.set()
        if server is not None:
            server.terminate()
            server.wait(10)
    print_report(report, args, seconds, memory)
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
