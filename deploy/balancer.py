"""HAProxy's configuration for the class, from deploy/backends.txt (the one file to edit: which app
processes, here or on other machines) and deploy/haproxy.cfg.template. Standard library only.

    python deploy/balancer.py --port 8501            # prints the configuration for this machine
"""

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
BACKENDS_FILE = HERE / "backends.txt"
TEMPLATE_FILE = HERE / "haproxy.cfg.template"
FIRST_APP_PORT = 8601  # local app processes listen on 8601, 8602, … (127.0.0.1 unless --apps-only)


@dataclass(frozen=True)
class Backend:
    name: str  # the server's name in HAProxy, its cookie value and X-Served-By
    host: str
    port: int
    local: bool  # started by the launcher on this machine


def cores() -> int:
    """The cores this process may run on (a container's limit, not the host's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def parse_backends(text: str, first_port: int = FIRST_APP_PORT, local_count: int | None = None) -> list[Backend]:
    """The backends of backends.txt's text: `local [N]` lines (N processes here, by default one per
    core; local_count, if given, instead) and `HOST:PORT` lines; # starts a comment. ValueError for
    a line that is neither."""
    backends: list[Backend] = []
    port = first_port
    for number, raw in enumerate(text.splitlines(), 1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] == "local" and len(words) <= 2:
            count = local_count or (int(words[1]) if len(words) == 2 and words[1].isdecimal() else cores())
            if len(words) == 2 and not words[1].isdecimal() or count < 1:
                raise ValueError(f"backends.txt line {number}: `local N` needs a number of processes, 1 or more")
            for _ in range(count):
                backends.append(Backend(f"app{len(backends) + 1}", "127.0.0.1", port, True))
                port += 1
            continue
        host, _, port_text = words[0].rpartition(":")
        if len(words) != 1 or not host or not port_text.isdecimal():
            raise ValueError(f"backends.txt line {number}: expected `local`, `local N` or HOST:PORT, got {raw!r}")
        backends.append(Backend(f"app{len(backends) + 1}", host, int(port_text), False))
    if not backends:
        raise ValueError("backends.txt lists no app process")
    return backends


def server_line(backend: Backend) -> str:
    """One `server` line: health-checked, its cookie its name."""
    return f"    server {backend.name} {backend.host}:{backend.port} check cookie {backend.name}"


def render(backends: list[Backend], port: int, socket: Path, bind: str = "127.0.0.1") -> str:
    """The configuration: HAProxy on bind:port in front of the backends (the launcher starts it
    once its own processes are warm, and takes one out while it restarts: Launcher.set_state)."""
    servers = "\n".join(map(server_line, backends))
    return TEMPLATE_FILE.read_text().format(port=port, bind=bind, socket=socket, servers=servers)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--bind", default="127.0.0.1", help="the balancer's address (0.0.0.0: every interface)")
    parser.add_argument("--backends", type=Path, default=BACKENDS_FILE)
    parser.add_argument("--socket", type=Path, default=Path("haproxy.sock"))
    args = parser.parse_args(argv)
    sys.stdout.write(render(parse_backends(args.backends.read_text()), args.port, args.socket, args.bind))
    return 0


if __name__ == "__main__":
    sys.exit(main())
