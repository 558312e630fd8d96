"""A local HTTP endpoint for ``bench_webhooks``: notes when each webhook POST arrived, by the
incident named in its body (``{"incident": <id>, ...}``)."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from django.core.management.base import CommandError

from .cluster import ClusterLike


@dataclasses.dataclass(frozen=True)
class Arrival:
    perf: float  # time.perf_counter() when the request was read
    wall: float  # time.time() at the same moment


class LocalReceiver:
    """A threaded HTTP server on a free loopback port, for the length of a ``with`` block:
    ``url`` is its ``/hook``; subclasses answer with ``_handler_class()``."""

    thread_name = "bench-receiver"

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=self.thread_name, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError


class Receiver(LocalReceiver):
    """A local HTTP endpoint that notes when each POST arrived, by the incident in its body."""

    thread_name = "bench-webhooks-receiver"

    def __init__(self) -> None:
        self.arrivals: dict[str, Arrival] = {}
        self.duplicates = 0
        self.unmatched = 0
        self._arrived = threading.Condition()
        super().__init__()

    def record(self, body: bytes, arrival: Arrival) -> None:
        try:
            incident_id = json.loads(body)["incident"]
        except (ValueError, KeyError, TypeError):
            incident_id = None
        with self._arrived:
            if not isinstance(incident_id, str):
                self.unmatched += 1
            elif incident_id in self.arrivals:
                self.duplicates += 1
            else:
                self.arrivals[incident_id] = arrival
            self._arrived.notify_all()

    def wait_for(self, incident_id: str, timeout: float, cluster: ClusterLike) -> Arrival:
        """The arrival of ``incident_id``'s POST, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while incident_id not in self.arrivals:
                cluster.check_alive()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CommandError(
                        f"timed out after {timeout:.0f} s waiting for the webhook of incident "
                        f"{incident_id}\nqcluster output:\n{cluster.output()}"
                    )
                self._arrived.wait(min(remaining, 0.5))
            return self.arrivals[incident_id]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.record(body, Arrival(perf=time.perf_counter(), wall=time.time()))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
