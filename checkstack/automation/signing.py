"""Standard Webhooks signing (https://www.standardwebhooks.com/): secrets, signatures, headers.

A secret is ``whsec_`` + base64 of 32 random bytes; the HMAC key is the decoded bytes. The
signature covers ``"{msg_id}.{timestamp}.{body}"``, so a receiver can verify the exact bytes it
got, and reject replays by the timestamp.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
USER_AGENT = "Checkstack-Webhooks/1.0"


def generate_secret() -> str:
    """A new endpoint secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key of ``secret``.

    ``whsec_<base64>`` (or bare base64, as the reference libraries accept) decodes to its bytes;
    any other text (a secret someone typed into a ``webhook.send`` step) is used as UTF-8.
    """
    encoded = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    return key or secret.encode("utf-8")


def secret_variants(secret: str) -> list[str]:
    """The strings that give ``secret`` away (with and without its prefix), for masking."""
    variants = {secret}
    if secret.startswith(SECRET_PREFIX) and len(secret) > len(SECRET_PREFIX) + 4:
        variants.add(secret[len(SECRET_PREFIX) :])
    return sorted(variants, key=lambda v: (-len(v), v))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "{msg_id}.{timestamp}.{body}">``."""
    signed = f"{msg_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def webhook_headers(secret: str | None, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The request headers of one attempt; unsigned (no ``webhook-signature``) without a secret."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
    }
    if secret:
        headers["webhook-signature"] = sign(secret, msg_id, timestamp, body)
    return headers
