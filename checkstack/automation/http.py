"""Outbound webhook HTTP: an SSRF-safe POST on the standard library.

The host is resolved once; every address it resolves to must be public (unless
``CHECKSTACK_WEBHOOK_ALLOW_PRIVATE``), and the connection goes to one of those verified
addresses, so a DNS answer that changes between the check and the connect (rebinding) cannot
reach an internal service. HTTPS still verifies the certificate against the host name (SNI).
Redirects are not followed; at most 4 KiB of the response body is read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from typing import Any
from urllib.parse import SplitResult, quote, urlsplit

from .conf import app_settings

MAX_URL_LENGTH = 2000
MAX_EXCERPT_BYTES = 4096
SCHEMES = {"http": 80, "https": 443}
REQUEST_TARGET_SAFE = "/%:@!$&'()*+,;=~-._"

# Cloud instance metadata services (AWS, GCP, Azure, Oracle, Alibaba, AWS IPv6).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")

PRIVATE_MESSAGE = (
    "Webhook URLs may not point to loopback, private, link-local, multicast, reserved or cloud "
    "metadata addresses"
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlRefused(ValueError):
    """The URL is malformed or points somewhere webhooks may not go; never worth a retry."""


@dataclasses.dataclass(frozen=True)
class Target:
    """A parsed, checked URL: where to connect and what to send."""

    scheme: str
    host: str  # as in the URL (IDNA-encoded), without brackets
    port: int
    request_target: str  # path and query
    host_header: str
    addresses: tuple[str, ...]  # verified addresses, in resolver order


@dataclasses.dataclass(frozen=True)
class PostResult:
    """One POST: a status code (and body excerpt), or an error (``refused``: never retry)."""

    status_code: int | None
    excerpt: str = ""
    error: str = ""
    refused: bool = False
    duration_ms: int = 0


def _clean_text(text: str) -> str:
    # PostgreSQL text columns cannot hold NUL.
    return text.replace("\x00", "\ufffd")


def _parse(url: Any) -> SplitResult:
    if not isinstance(url, str) or not url.strip():
        raise UrlRefused("Enter a URL.")
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"A URL has at most {MAX_URL_LENGTH} characters.")
    if "\x00" in url or any(c.isspace() for c in url.strip()):
        raise UrlRefused("A URL may not contain spaces or control characters.")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"Not a valid URL: {exc}.") from None
    if parts.scheme.lower() not in SCHEMES:
        raise UrlRefused("Use an http:// or https:// URL.")
    if not parts.hostname:
        raise UrlRefused("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("Credentials in the URL are not allowed; use the signing secret.")
    if port == 0:
        raise UrlRefused("Port 0 is not a valid port.")
    return parts


def _ascii_host(hostname: str) -> str:
    try:
        ipaddress.ip_address(hostname)
        return hostname
    except ValueError:
        pass
    try:
        return hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise UrlRefused(f"The host {hostname!r} is not a valid host name.") from None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def forbidden_reason(address: IPAddress) -> str | None:
    """Why webhooks may not go to ``address`` (None: a public address)."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return forbidden_reason(embedded)
    checks = (
        ("is_loopback", "a loopback address"),
        ("is_unspecified", "an unspecified address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    )
    for attribute, reason in checks:
        if getattr(address, attribute):
            return reason
    if not address.is_global:  # shared (100.64.0.0/10), documentation, benchmarking ranges...
        return "a non-public address"
    return None


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UrlRefused(f"The host {host} could not be resolved.") from None
    addresses = list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))
    if not addresses:
        raise UrlRefused(f"The host {host} could not be resolved.")
    return addresses


def _check_addresses(host: str, addresses: list[str]) -> None:
    for text in addresses:
        reason = forbidden_reason(ipaddress.ip_address(text))
        if reason is not None:
            shown = host if host == text else f"{host} ({text})"
            raise UrlRefused(f"{PRIVATE_MESSAGE}: {shown} is {reason}.")


def resolve_target(url: Any, *, allow_private: bool | None = None) -> Target:
    """Parse ``url``, resolve its host once and check every address; raises ``UrlRefused``."""
    parts = _parse(url)
    allow = app_settings.WEBHOOK_ALLOW_PRIVATE if allow_private is None else allow_private
    scheme = parts.scheme.lower()
    host = _ascii_host(parts.hostname or "")
    port = parts.port or SCHEMES[scheme]
    addresses = _resolve(host, port)
    if not allow:
        _check_addresses(host, addresses)
    shown_host = f"[{host}]" if ":" in host else host
    host_header = shown_host if parts.port in (None, SCHEMES[scheme]) else f"{shown_host}:{port}"
    # Percent-encode what HTTP/1.1 cannot carry (non-ASCII), keep what the URL encoded.
    target = quote(parts.path or "/", safe=REQUEST_TARGET_SAFE)
    if parts.query:
        target += "?" + quote(parts.query, safe=REQUEST_TARGET_SAFE + "?")
    return Target(scheme, host, port, target, host_header, tuple(addresses))


def check_url(url: Any) -> str | None:
    """The problem with ``url`` as a webhook URL at save time, or None when it is fine.

    Resolves the host. With private addresses allowed, only the syntax is checked: there is
    nothing to protect, and the host is resolved when sending anyway.
    """
    try:
        if app_settings.WEBHOOK_ALLOW_PRIVATE:
            _ascii_host(_parse(url).hostname or "")
        else:
            resolve_target(url, allow_private=False)
    except UrlRefused as exc:
        return str(exc)
    return None


def _connect_pinned(
    addresses: tuple[str, ...],
) -> Any:  # the replacement of ``HTTPConnection._create_connection``
    def create_connection(
        address: tuple[str, int], timeout: Any = None, source_address: Any = None
    ) -> socket.socket:
        last_error: OSError | None = None
        for ip in addresses:
            try:
                return socket.create_connection((ip, address[1]), timeout, source_address)
            except OSError as exc:
                last_error = exc
        raise last_error or OSError("no address to connect to")

    return create_connection


def _connection(
    target: Target, timeout: float, context: ssl.SSLContext | None
) -> http.client.HTTPConnection:
    conn: http.client.HTTPConnection
    if target.scheme == "https":
        conn = http.client.HTTPSConnection(
            target.host,
            target.port,
            timeout=timeout,
            context=context or ssl.create_default_context(),
        )
    else:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    # Connect to the verified addresses only: no second DNS lookup. HTTPS keeps
    # ``server_hostname=host`` for SNI and the certificate check.
    conn._create_connection = _connect_pinned(target.addresses)  # type: ignore[attr-defined]
    return conn


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float | None = None,
    context: ssl.SSLContext | None = None,
) -> PostResult:
    """POST ``body`` to ``url`` with SSRF checks; never raises for network problems.

    The whole attempt (connect, send, response headers, excerpt) is bounded by ``timeout``
    (default ``WEBHOOK_TIMEOUT``): a watchdog shuts the socket down at the deadline.
    """
    limit = app_settings.WEBHOOK_TIMEOUT if timeout is None else timeout
    started = time.monotonic()

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = resolve_target(url)
    except UrlRefused as exc:
        return PostResult(None, error=f"Refused: {exc}", refused=True, duration_ms=elapsed_ms())
    conn = _connection(target, limit, context)
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        sock = conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(limit, stop)
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.request(
            "POST",
            target.request_target,
            body=body,
            headers={"Host": target.host_header, **headers},
        )
        response = conn.getresponse()
        raw = response.read(MAX_EXCERPT_BYTES)
        excerpt = _clean_text(raw.decode("utf-8", errors="replace"))
        return PostResult(response.status, excerpt=excerpt, duration_ms=elapsed_ms())
    except (OSError, http.client.HTTPException) as exc:
        if timed_out.is_set() or isinstance(exc, TimeoutError):
            error = f"Timed out after {limit:g} s"
        elif isinstance(exc, ssl.SSLError):
            error = f"TLS error: {exc.reason or exc}"
        else:
            error = f"Connection failed: {type(exc).__name__}: {exc}"
        return PostResult(None, error=_clean_text(error), duration_ms=elapsed_ms())
    except ValueError as exc:  # a header or URL http.client cannot send
        error = _clean_text(f"Refused: the request cannot be sent: {exc}")
        return PostResult(None, error=error, refused=True, duration_ms=elapsed_ms())
    finally:
        watchdog.cancel()
        conn.close()
