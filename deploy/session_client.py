"""A Streamlit session without a browser: the browser's own websocket protocol, for the classroom
benchmark (benchmarks/classroom.py), the launcher's warm-up (deploy/serve.py) and the balancer's test.

What the browser does, and so what a session here does (Streamlit 1.67, its frontend's
sendRerunBackMsg): GET the page (the balancer's sticky cookie comes with it), open a websocket on
/_stcore/stream with the subprotocol "streamlit", and send a BackMsg whose rerun_script (a
ClientState) carries the URL's query string and, on the first run, the page as its URL path
(page_name "translate", page_script_hash empty); later runs name the page by the page_script_hash
the server sent (navigation) and carry the widgets' states, the text box's as a string_value under
its widget id. The server answers with ForwardMsgs (deltas: the elements; page_info_changed: the
new query string the page mirrors in the address bar) up to script_finished. Large messages the
client already holds are sent as a ref_hash when the rerun lists their hashes (cached_message_hashes),
as the browser lists them. A closed websocket (the server's process died) is reopened, through the
balancer to another process, and the rerun sent again with the URL, which holds the view.

Only 127.0.0.1 or the hosts the caller names: nothing here looks anything up.
"""

import asyncio
import http.client
import re
import time
import urllib.parse
from dataclasses import dataclass, field

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

STREAM_PATH = "/_stcore/stream"
HEALTH_PATH = "/_stcore/health"
WIDGET_ID = re.compile(r"\$\$ID-[0-9a-f]+-(.+)")  # a keyed widget's id ends with its key
RECONNECT_DELAYS = (0.1, 0.2, 0.4, 0.8, 1.0)  # then every second, as the browser backs off
SERVED_BY = "x-served-by"  # the balancer's header naming the process (deploy/haproxy.cfg.template)


class PageError(Exception):
    """A run that did not finish: the server never answered, or kept refusing the connection."""


@dataclass
class PageRun:
    """What one run of the page showed, and how long it took from the request to script_finished."""

    seconds: float
    query_string: str  # the address bar's after the run
    strings: list[str] = field(default_factory=list)  # code blocks, widget values, charts, iframes, text
    exceptions: list[str] = field(default_factory=list)
    reconnects: int = 0
    served_by: str | None = None


def _element_strings(element) -> tuple[str | None, list[str]]:
    """(the element's kind if it is an exception, else None; the strings it shows)."""
    kind = element.WhichOneof("type")
    proto = getattr(element, kind)
    if kind == "exception":
        return f"{proto.type}: {proto.message}", []
    if kind == "plotly_chart":
        return None, [proto.spec]
    if kind == "iframe":
        return None, [proto.srcdoc or proto.src]
    if kind == "code":
        return None, [proto.code_text]
    if kind == "markdown":
        return None, [proto.body]
    if kind in ("text_area", "text_input"):
        return None, [proto.value]
    return None, []


class Session:
    """One browser tab on base_url + path (a page's URL path, "/translate") with query (its
    parameters). open() runs the first page, type(key, text) a rerun with the widget key's text."""

    def __init__(self, base_url: str, path: str, query: dict[str, str], timeout: float = 60.0):
        parsed = urllib.parse.urlsplit(base_url)
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.path, self.timeout = path, timeout
        self.query_string = urllib.parse.urlencode(query)
        self.page_script_hash = ""  # the browser's currentPageScriptHash: unknown before the first run
        self.widget_ids: dict[str, str] = {}  # widget key -> id, from the deltas
        self.widget_states: dict[str, str] = {}  # widget id -> the string it holds
        self.cookie: str | None = None
        self.cache: dict[str, ForwardMsg] = {}  # the cacheable messages received, by hash
        self.ws = None
        self.served_by: str | None = None

    def _get_page(self) -> None:
        """GET the page, as the browser does first, keeping the balancer's cookie."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            headers = {"Cookie": self.cookie} if self.cookie else {}
            connection.request("GET", f"{self.path}?{self.query_string}", headers=headers)
            response = connection.getresponse()
            response.read()
            self._keep_cookie(response.getheader("set-cookie"))
        finally:
            connection.close()

    def _keep_cookie(self, header: str | None) -> None:
        if header:
            self.cookie = header.split(";", 1)[0]

    async def _connect(self) -> None:
        await asyncio.to_thread(self._get_page)
        headers = {"Cookie": self.cookie} if self.cookie else {}
        self.ws = await websockets.connect(
            f"ws://{self.host}:{self.port}{STREAM_PATH}",
            subprotocols=["streamlit"],
            additional_headers=headers,
            max_size=None,
            proxy=None,
            open_timeout=self.timeout,
            ping_interval=None,
            close_timeout=1,
        )
        self._keep_cookie(self.ws.response.headers.get("set-cookie"))
        self.served_by = self.ws.response.headers.get(SERVED_BY)

    async def _reconnect(self, deadline: float) -> None:
        """Reopen the websocket (the balancer routes it to a live process) until deadline."""
        await self.close()
        for attempt in range(1000):
            try:
                await self._connect()
                return
            except (OSError, websockets.InvalidHandshake, websockets.InvalidStatus, TimeoutError) as error:
                if time.monotonic() >= deadline:
                    raise PageError(f"could not reconnect: {error}") from error
            await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])

    def _rerun_message(self) -> bytes:
        message = BackMsg()
        state = message.rerun_script
        state.query_string = self.query_string
        if self.page_script_hash:
            state.page_script_hash = self.page_script_hash
        else:
            state.page_name = self.path.strip("/")
        for widget_id, value in self.widget_states.items():
            widget = state.widget_states.widgets.add()
            widget.id, widget.string_value = widget_id, value
        state.cached_message_hashes.extend(self.cache)
        return message.SerializeToString()

    async def _receive_run(self, run: PageRun, deadline: float) -> None:
        """Read ForwardMsgs until script_finished, keeping what the page shows."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PageError(f"no script_finished within {self.timeout:g} s")
            message = ForwardMsg()
            message.ParseFromString(await asyncio.wait_for(self.ws.recv(), left))
            if message.HasField("ref_hash"):
                message = self.cache[message.ref_hash]
            elif message.metadata.cacheable:
                self.cache[message.hash] = message
            kind = message.WhichOneof("type")
            if kind == "navigation" and message.navigation.page_script_hash:
                self.page_script_hash = message.navigation.page_script_hash
            elif kind == "page_info_changed":
                self.query_string = message.page_info_changed.query_string
            elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                self._read_element(message.delta.new_element, run)
            elif kind == "script_finished":
                return

    def _read_element(self, element, run: PageRun) -> None:
        exception, strings = _element_strings(element)
        if exception:
            run.exceptions.append(exception)
        run.strings.extend(strings)
        proto = getattr(element, element.WhichOneof("type"))
        if match := WIDGET_ID.fullmatch(getattr(proto, "id", "")):
            self.widget_ids[match.group(1)] = proto.id

    async def _run(self, start: float) -> PageRun:
        """Send the rerun and read its page; on a closed websocket reconnect and send it again."""
        deadline = time.monotonic() + self.timeout
        reconnects = 0
        while True:
            run = PageRun(0.0, self.query_string)
            try:
                if self.ws is None:
                    await self._reconnect(deadline)
                await self.ws.send(self._rerun_message())
                await self._receive_run(run, deadline)
                break
            except (websockets.ConnectionClosed, OSError):
                reconnects += 1
                await self._reconnect(deadline)
            except TimeoutError as error:
                raise PageError(f"no script_finished within {self.timeout:g} s") from error
        run.seconds, run.query_string = time.perf_counter() - start, self.query_string
        run.reconnects, run.served_by = reconnects, self.served_by
        return run

    async def open(self) -> PageRun:
        """The first page: GET, websocket, the rerun with the page's URL path and query."""
        start = time.perf_counter()
        await self._reconnect(time.monotonic() + self.timeout)
        return await self._run(start)

    async def type(self, key: str, text: str) -> PageRun:
        """Type text into the widget with key (its id from the deltas) and wait for the page. If
        the server died meanwhile, the new one shows the URL's view: the text is typed again."""
        start = time.perf_counter()
        if key not in self.widget_ids:
            raise PageError(f"the page has no widget with key {key!r}")
        self.widget_states[self.widget_ids[key]] = text
        run = await self._run(start)
        if run.reconnects and text not in run.strings:
            again = await self._run(start)
            again.reconnects += run.reconnects
            run = again
        return run

    async def close(self) -> None:
        if self.ws is not None:
            ws, self.ws = self.ws, None
            await ws.close()


def healthy(base_url: str, timeout: float = 2.0) -> bool:
    """Whether the Streamlit server (or the balancer) at base_url answers its health check."""
    parsed = urllib.parse.urlsplit(base_url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=timeout)
    try:
        connection.request("GET", HEALTH_PATH)
        response = connection.getresponse()
        return response.status == 200 and response.read().strip() == b"ok"
    except OSError:
        return False
    finally:
        connection.close()
