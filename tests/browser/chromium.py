"""The browser tests' plain helpers: where Chromium is and how it starts, a free port, the app served by
`streamlit run` in a subprocess, and waits for a page to settle. The fixtures that use them (server,
browser, page) are in tests/browser/conftest.py."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers import ROOT

CHROMIUM = Path("/usr/bin/chromium")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

ARTIFACTS = ROOT / "test-artifacts"

TIMEOUT_MS = 90_000  # the first translation loads the model on a CPU that may be busy training


def unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: browser tests must run here)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(log_folder: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """`streamlit run app.py` as `make run` starts it, with env added to its environment, on a free
    port; yields its base URL once it answers, and stops it afterwards."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true"]
    command += ["--server.port", str(port), "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    log = log_folder / "server.log"  # a file, not a pipe: a full pipe would block the app
    with log.open("w") as output:  # the server keeps its own copy of the file descriptor
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start:\n{log.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def map_title(page) -> str:
    return page.locator(".st-key-attention_map .gtitle").text_content()


def wait_for_map_title(page, fragment: str) -> None:
    page.wait_for_function(
        "fragment => document.querySelector('.st-key-attention_map .gtitle')?.textContent.includes(fragment)",
        arg=fragment,
        polling=200,
    )


def wait_until_idle(page) -> None:
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", polling=200)
