"""``manage.py webhook_receiver``: a local endpoint that prints the webhooks it receives.

For the demo and for trying endpoints out: it answers 200 to every POST and prints the event
type, the ``webhook-id`` and whether the signature verifies against the secret of an endpoint
whose URL points here. Not for production use.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from checkstack.automation.models import WebhookEndpoint
from checkstack.automation.signing import sign


def signature_matches(headers: Any, body: bytes, port: int) -> str:
    """``verified``, ``INVALID``, ``none (unsigned)`` or ``unknown endpoint``."""
    if not headers.get("webhook-signature"):
        return "none (unsigned)"
    msg_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    received = set(headers.get("webhook-signature", "").split())
    secrets = WebhookEndpoint.objects.filter(url__contains=f":{port}/").values_list(
        "secret", flat=True
    )
    if not timestamp.isdigit():
        return "INVALID (no timestamp)"
    for secret in secrets:
        if sign(secret, msg_id, int(timestamp), body) in received:
            return "verified"
    return "INVALID" if secrets else "unknown endpoint"


class Command(BaseCommand):
    help = "Listen for webhooks on 127.0.0.1 and print each one (demo receiver)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8001)

    def handle(self, *args: Any, port: int = 8001, **options: Any) -> None:
        stdout = self.stdout

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), 1_000_000)
                body = self.rfile.read(length)
                try:
                    event_type = json.loads(body).get("type") or "(custom body)"
                except (ValueError, AttributeError):
                    event_type = "(not JSON)"
                close_old_connections()  # a long-lived thread: like a request boundary
                check = signature_matches(self.headers, body, port)
                stdout.write(
                    f"[webhook] POST {self.path} {event_type} "
                    f"id={self.headers.get('webhook-id')} signature {check}: "
                    f"{body[:160].decode(errors='replace')}"
                )
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return None

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        stdout.write(f"Webhook receiver listening on http://127.0.0.1:{port}/")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
