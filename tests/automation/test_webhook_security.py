"""Webhook SSRF protection: refused addresses at save and send time, pinned DNS, TLS, excerpts."""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from checkstack.automation import http, webhooks
from checkstack.automation.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.automation.receiver import WebhookReceiver
from tests.automation.webhook_helpers import make_event

pytestmark = pytest.mark.django_db

_real_getaddrinfo = socket.getaddrinfo


class FakeDNS:
    """Answers for chosen host names (a list of answers: one per lookup, the last repeats);
    every other lookup goes to the real resolver."""

    def __init__(self, answers: dict[str, list[list[str] | None]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in self.answers:
            return _real_getaddrinfo(host, port, *args, **kwargs)
        self.lookups.append(name)
        queue = self.answers[name]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in ip else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (ip, port, 0, 0) if ":" in ip else (ip, port),
            )
            for ip in answer
        ]


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def install(answers: dict[str, list[list[str] | None]]) -> FakeDNS:
        dns = FakeDNS(answers)
        monkeypatch.setattr(socket, "getaddrinfo", dns)
        return dns

    yield install


@pytest.fixture
def private_refused(settings: Any) -> None:
    settings.CHECKSTACK_WEBHOOK_ALLOW_PRIVATE = False


# -- save time --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.1.2.3:8080/hook",
        "http://10.1.2.3/hook",
        "http://172.16.0.1/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.100.100.200/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fd00:ec2::254]/",
        "http://[fe80::1]/",
        "http://localhost:8000/hook",
    ],
)
def test_an_endpoint_url_on_an_internal_address_is_refused_at_save_time(
    private_refused: None, url: str
):
    with pytest.raises(ValidationError) as exc:
        webhooks.create_endpoint(url=url)
    (message,) = exc.value.message_dict["url"]
    assert message.startswith(http.PRIVATE_MESSAGE)
    assert not WebhookEndpoint.objects.exists()


def test_the_refusal_names_a_cloud_metadata_address(private_refused: None):
    assert "cloud metadata" in str(http.check_url("http://169.254.169.254/latest/"))
    assert "cloud metadata" in str(http.check_url("http://[fd00:ec2::254]/"))
    assert "localhost (127.0.0.1) is a loopback address" in str(http.check_url("http://localhost/"))


def test_a_host_name_resolving_to_any_internal_address_is_refused(
    private_refused: None, fake_dns: Any
):
    fake_dns({"hooks.example.com": [["93.184.216.34", "10.0.0.5"]]})
    problem = http.check_url("https://hooks.example.com/in")
    assert problem is not None and "10.0.0.5" in problem and "private" in problem


def test_a_host_name_that_does_not_resolve_is_refused_with_a_clear_message(
    private_refused: None, fake_dns: Any
):
    fake_dns({"nowhere.example.com": [None]})
    with pytest.raises(ValidationError) as exc:
        webhooks.create_endpoint(url="https://nowhere.example.com/in")
    assert exc.value.message_dict["url"] == ["The host nowhere.example.com could not be resolved."]


def test_a_public_host_is_accepted(private_refused: None, fake_dns: Any):
    dns = fake_dns({"hooks.example.com": [["93.184.216.34", "2606:2800:220:1::1"]]})
    endpoint = webhooks.create_endpoint(url="https://hooks.example.com/in")
    assert endpoint.url == "https://hooks.example.com/in"
    assert dns.lookups == ["hooks.example.com"]


def test_with_private_addresses_allowed_only_the_syntax_is_checked_at_save_time(fake_dns: Any):
    dns = fake_dns({"not-resolvable.test": [None]})
    assert http.check_url("http://127.0.0.1:9/") is None
    assert http.check_url("http://not-resolvable.test/") is None
    assert dns.lookups == []
    assert http.check_url("gopher://127.0.0.1/") == "Use an http:// or https:// URL."


# -- send time --------------------------------------------------------------------------------


def test_an_address_refused_at_send_time_fails_the_delivery_without_connecting(settings: Any):
    with WebhookReceiver() as receiver:
        endpoint = webhooks.create_endpoint(url=receiver.url)  # saved while allowed
        (delivery_id,) = webhooks.create_deliveries_for_event(make_event())
        settings.CHECKSTACK_WEBHOOK_ALLOW_PRIVATE = False
        assert webhooks.send_delivery(delivery_id) == "failed"
    assert receiver.requests == []
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None
    assert attempt.error.startswith("Refused: " + http.PRIVATE_MESSAGE)
    assert WebhookDelivery.objects.get().status == "failed"
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 1


def test_dns_answers_that_change_after_the_check_cannot_redirect_the_request(
    private_refused: None, fake_dns: Any, monkeypatch: pytest.MonkeyPatch
):
    # The check passes on a public answer; the connection must then go to that very address,
    # never to the loopback address a second lookup would give.
    dns = fake_dns({"hooks.example.com": [["93.184.216.34"], ["127.0.0.1"]]})
    connected: list[tuple[str, int]] = []

    def fake_connect(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        connected.append(address)
        raise ConnectionRefusedError("test: not connecting anywhere")

    monkeypatch.setattr(socket, "create_connection", fake_connect)
    result = http.post("http://hooks.example.com:8080/in", b"{}", {})
    assert dns.lookups == ["hooks.example.com"]
    assert connected == [("93.184.216.34", 8080)]
    assert "Connection failed" in result.error


def test_the_request_goes_to_the_resolved_address_with_the_url_host_header(fake_dns: Any):
    with WebhookReceiver(hostname="hooks.internal.test") as receiver:
        dns = fake_dns({"hooks.internal.test": [["127.0.0.1"], None]})
        result = http.post(receiver.url, b'{"a":1}', {"Content-Type": "application/json"})
        (request,) = receiver.wait_for(1)
    assert result.status_code == 200
    assert dns.lookups == ["hooks.internal.test"]
    assert request.headers["host"] == f"hooks.internal.test:{receiver.port}"
    assert request.body == b'{"a":1}'


def test_credentials_in_the_url_are_refused_when_sending():
    result = http.post("http://user:pass@127.0.0.1:9/", b"{}", {})
    assert result.refused and "Credentials" in result.error


def test_only_the_first_4_kib_of_the_response_are_kept_and_nul_characters_are_dropped():
    with WebhookReceiver(statuses=[500], body=b"\x00" + b"x" * 10_000) as receiver:
        webhooks.create_endpoint(url=receiver.url)
        (delivery_id,) = webhooks.create_deliveries_for_event(make_event())
        webhooks.send_delivery(delivery_id)
    excerpt = WebhookAttempt.objects.get().response_excerpt
    assert len(excerpt) == 4096
    assert "\x00" not in excerpt


# -- TLS --------------------------------------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A test CA and a server certificate for ``hooks.test`` signed by it."""
    try:
        subprocess.run(["openssl", "version"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("openssl is not installed")
    tmp = tmp_path_factory.mktemp("tls")
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "1", "-subj", "/CN=Checkstack test CA", cwd=tmp,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=hooks.test", cwd=tmp,
    )  # fmt: skip
    (tmp / "ext.cnf").write_text("subjectAltName=DNS:hooks.test\n")
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "ext.cnf", cwd=tmp,
    )  # fmt: skip
    return tmp


def _server_context(files: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files / "server.pem", files / "server.key")
    return context


def _client_context(files: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(files / "ca.pem"))


def test_https_connects_to_the_pinned_address_and_verifies_the_certificate_for_the_host(
    tls_files: Path, fake_dns: Any
):
    server = _server_context(tls_files)
    with WebhookReceiver(hostname="hooks.test", ssl_context=server) as receiver:
        fake_dns({"hooks.test": [["127.0.0.1"]]})
        result = http.post(receiver.url, b"{}", {}, context=_client_context(tls_files))
        (request,) = receiver.wait_for(1)
    assert result.status_code == 200
    assert request.headers["host"] == f"hooks.test:{receiver.port}"


def test_https_to_a_host_the_certificate_does_not_name_fails(tls_files: Path, fake_dns: Any):
    server = _server_context(tls_files)
    with WebhookReceiver(hostname="other.test", ssl_context=server) as receiver:
        fake_dns({"other.test": [["127.0.0.1"]]})
        result = http.post(receiver.url, b"{}", {}, context=_client_context(tls_files))
    assert result.status_code is None and not result.refused
    assert result.error.startswith("TLS error")
    assert receiver.requests == []


def test_a_non_ascii_path_is_percent_encoded_and_an_encoded_one_kept():
    with WebhookReceiver(path="/hoök/a%20b?q=ü") as receiver:
        result = http.post(receiver.url, b"{}", {})
        (request,) = receiver.wait_for(1)
    assert result.status_code == 200
    assert request.path == "/ho%C3%B6k/a%20b?q=%C3%BC"
