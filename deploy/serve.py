"""`make serve PORT=…`: the app for a class. Starts the local app processes of deploy/backends.txt
(by default one per core, each with one torch thread), warms each one (every shipped checkpoint
loaded and its statistics measured, by one session per checkpoint and page, before any student
reaches it), then HAProxy on PORT in front of them and of the other machines' processes: sticky
sessions, websocket upgrades, health checks. A process that dies is restarted, warmed and put back;
its students reconnect to another one meanwhile. Ctrl-C stops everything.

    python -m deploy.serve --port 8501 [--bind 0.0.0.0] [--backends deploy/backends.txt]
    python -m deploy.serve --apps-only      # another machine: its app processes only, on every interface
"""

import argparse
import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from deploy.balancer import BACKENDS_FILE, FIRST_APP_PORT, Backend, parse_backends, render
from deploy.session_client import Session, healthy
from webapp.registry import INT8_ENV, ROOT, THREADS_ENV, checkpoint_names

STREAMLIT = Path(sys.executable).with_name("streamlit")
WARM_PAGES = ("translate", "inside")  # the pages a class opens; Translate also measures each checkpoint's statistics
START_SECONDS = 180  # a process's start and warm-up, on a busy machine
COOKIE_SECRET_ENV = "STREAMLIT_SERVER_COOKIE_SECRET"  # one for every process: their XSRF cookies agree


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_free(ports: list[int]) -> None:
    """SystemExit naming the first port that another program (another `make serve`?) holds."""
    for port in ports:
        try:
            socket.create_server(("", port)).close()
        except OSError:
            raise SystemExit(f"serve: port {port} is in use (another `make serve`?); pick another PORT") from None


def run_dir(port: int) -> Path:
    """Where the launcher on port keeps HAProxy's configuration, socket and the app processes' ids."""
    return Path(tempfile.gettempdir()) / f"transformer-serve-{port}"


def start_app(
    port: int, threads: int = 1, address: str = "127.0.0.1", env: dict | None = None, serving: bool = True
) -> subprocess.Popen:
    """`streamlit run app.py` on address:port, headless, for serving: no file watcher (it polls the
    app's modules after every run) and no full garbage collection after every run (Streamlit's
    default, 15% of a busy server's time: Python's own generational collection frees the same)."""
    environment = {
        **os.environ,
        **(env or {}),
        "OMP_NUM_THREADS": str(threads),
        THREADS_ENV: str(threads),
    }
    command = [
        str(STREAMLIT), "run", "app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", address,
        "--browser.gatherUsageStats", "false",
        "--logger.level", "warning",
    ]  # fmt: skip
    if serving:  # else Streamlit's defaults, as `make run` has them (the benchmark's --streamlit-defaults)
        command += ["--server.fileWatcherType", "none", "--runner.postScriptGC", "false"]
    return subprocess.Popen(command, cwd=ROOT, env=environment, start_new_session=True)


async def _warm(url: str) -> None:
    for name in checkpoint_names() or [None]:
        for page in WARM_PAGES:
            query = {"ckpt": name} if name else {}
            session = Session(url, f"/{page}", query, timeout=START_SECONDS)
            try:
                await session.open()
            finally:
                await session.close()


def warm(url: str) -> None:
    """One session per checkpoint and page: the models loaded, their statistics measured and every
    page's code imported before the first student comes."""
    asyncio.run(_warm(url))


def wait_healthy(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_SECONDS
    while not healthy(url):
        if process.poll() is not None:
            raise RuntimeError(f"the app process on {url} exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the app process on {url} did not start in {START_SECONDS} s")
        time.sleep(0.2)


class Launcher:
    """The local app processes, HAProxy, and the loop that restarts a process that died."""

    def __init__(self, args, backends: list[Backend]):
        self.args, self.backends = args, backends
        self.local = [b for b in backends if b.local]
        self.processes: dict[str, subprocess.Popen] = {}
        self.haproxy: subprocess.Popen | None = None
        self.dir = run_dir(args.port)
        self.env = {COOKIE_SECRET_ENV: os.environ.get(COOKIE_SECRET_ENV) or secrets.token_hex(32)}
        if args.int8:
            self.env[INT8_ENV] = "1"
        self.address = "0.0.0.0" if args.apps_only else "127.0.0.1"  # another machine's balancer reaches them

    def start_apps(self) -> None:
        for backend in self.local:
            self.processes[backend.name] = start_app(backend.port, self.args.threads, self.address, self.env)
        for backend in self.local:  # all of them start at once; each is then warmed
            self.ready(backend)
        self.write_pids()

    def ready(self, backend: Backend) -> None:
        url = f"http://127.0.0.1:{backend.port}"
        wait_healthy(url, self.processes[backend.name])
        if not self.args.no_warm:
            warm(url)

    def write_pids(self) -> None:
        self.dir.mkdir(exist_ok=True)
        pids = "".join(f"{process.pid}\n" for process in self.processes.values())
        (self.dir / "apps.pids").write_text(pids)

    def start_haproxy(self) -> None:
        config = self.dir / "haproxy.cfg"
        config.write_text(render(self.backends, self.args.port, self.dir / "haproxy.sock", self.args.bind))
        subprocess.run([self.args.haproxy, "-c", "-q", "-f", str(config)], check=True)
        self.haproxy = subprocess.Popen([self.args.haproxy, "-db", "-f", str(config)], start_new_session=True)

    def set_state(self, backend: Backend, state: str) -> None:
        """`set server app/NAME state maint|ready` on HAProxy's admin socket."""
        with socket.socket(socket.AF_UNIX) as admin:
            admin.connect(str(self.dir / "haproxy.sock"))
            admin.sendall(f"set server app/{backend.name} state {state}\n".encode())
            admin.recv(1024)

    def restart(self, backend: Backend) -> None:
        """Start the process again, out of HAProxy's rotation until it is warm (its students have
        reconnected to the others meanwhile). One that fails to start is tried again later."""
        print(f"serve: {backend.name} (port {backend.port}) exited; restarting it", flush=True)
        if self.haproxy is not None:
            self.set_state(backend, "maint")
        self.processes[backend.name] = start_app(backend.port, self.args.threads, self.address, self.env)
        self.write_pids()
        try:
            self.ready(backend)
        except RuntimeError as error:
            print(f"serve: {error}; trying again", flush=True)
            time.sleep(1)
            return
        if self.haproxy is not None:
            self.set_state(backend, "ready")
        print(f"serve: {backend.name} is back", flush=True)

    def supervise(self) -> int:
        while True:
            if self.haproxy is not None and self.haproxy.poll() is not None:
                print(f"serve: HAProxy exited with {self.haproxy.returncode}", file=sys.stderr)
                return 1
            for backend in self.local:
                if self.processes[backend.name].poll() is not None:
                    self.restart(backend)
            time.sleep(0.5)

    def stop(self) -> None:
        children = [*self.processes.values(), *([self.haproxy] if self.haproxy else [])]
        for process in children:
            if process.poll() is None:
                process.terminate()
        for process in children:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8501, help="the balancer's port, the class's address")
    parser.add_argument("--bind", default="0.0.0.0", help="the balancer's address (127.0.0.1: this machine only)")
    parser.add_argument("--backends", type=Path, default=BACKENDS_FILE)
    parser.add_argument("--first-app-port", type=int, default=FIRST_APP_PORT)
    parser.add_argument("--processes", type=int, help="local app processes (instead of backends.txt's `local` count)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per app process")
    parser.add_argument(
        "--int8", action="store_true", help="translate with the int8 model by default (TRANSFORMER_INT8)"
    )
    parser.add_argument(
        "--apps-only", action="store_true", help="the app processes only, for another machine's balancer"
    )
    parser.add_argument(
        "--no-warm", action="store_true", help="no warm-up session (faster start, slower first students)"
    )
    parser.add_argument("--haproxy", default=shutil.which("haproxy") or "/usr/sbin/haproxy")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    backends = parse_backends(args.backends.read_text(), args.first_app_port, args.processes)
    check_free([b.port for b in backends if b.local] + ([] if args.apps_only else [args.port]))
    launcher = Launcher(args, backends)
    # Ctrl-C, even where a shell started this in the background (which ignores SIGINT), and a
    # plain kill both run the finally below.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        launcher.start_apps()
        if not args.apps_only:
            if not Path(args.haproxy).exists():
                raise SystemExit("serve: HAProxy is not installed (Debian: apt-get install haproxy)")
            launcher.start_haproxy()
        where = f"http://{args.bind}:{args.port}" if not args.apps_only else f"ports {args.first_app_port}…"
        print(f"serve: {len(launcher.local)} app processes ready; the class opens {where}", flush=True)
        return launcher.supervise()
    except KeyboardInterrupt:
        return 0
    finally:
        launcher.stop()


if __name__ == "__main__":
    sys.exit(main())
