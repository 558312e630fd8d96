"""A local HTTP receiver for webhook tests: records every request, answers scripted statuses.

    with WebhookReceiver(statuses=[500, 500, 200]) as receiver:
        ...  # point an endpoint at receiver.url
        first, second, third = receiver.wait_for(3)
        assert first.headers["webhook-id"] == third.headers["webhook-id"]

Statuses are used in order, then ``default_status`` (200). ``hostname`` changes the host
in ``url`` (e.g. "localhost"); it listens on 127.0.0.1 either way.
"""

from __future__ import annotations

import dataclasses
import ssl
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclasses.dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        import json

        return json.loads(self.body)


class WebhookReceiver:
    def __init__(
        self,
        statuses: Iterable[int] = (),
        *,
        default_status: int = 200,
        body: bytes = b"ok",
        delay: float = 0.0,
        hostname: str = "127.0.0.1",
        path: str = "/hook",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._statuses = list(statuses)
        self.default_status = default_status
        self.body = body
        self.delay = delay
        self.hostname = hostname
        self.path = path
        self.requests: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if ssl_context is not None else "http"
        self._thread: threading.Thread | None = None

    # -- API ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.hostname}:{self.port}{self.path}"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedRequest]:
        """The first ``count`` requests, waiting up to ``timeout`` seconds for them."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} webhook request(s), got {len(self.requests)}"
                    )
                self._arrived.wait(remaining)
            return list(self.requests[:count])

    def start(self) -> WebhookReceiver:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals --------------------------------------------------------------------------

    def _record(self, request: ReceivedRequest) -> int:
        with self._arrived:
            self.requests.append(request)
            status = self._statuses.pop(0) if self._statuses else self.default_status
            self._arrived.notify_all()
        return status

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status = receiver._record(
                    ReceivedRequest(
                        method=self.command,
                        path=self.path,
                        headers={k.lower(): v for k, v in self.headers.items()},
                        body=body,
                    )
                )
                if receiver.delay:
                    time.sleep(receiver.delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(receiver.body)))
                    self.end_headers()
                    self.wfile.write(receiver.body)
                except OSError:
                    pass  # the client gave up (timeout tests)

            do_POST = _handle
            do_GET = _handle
            do_PUT = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler
