"""The default project's built-in development ``SECRET_KEY`` and the per-checkout key file.

``scripts/run`` calls ``python -m checkstack.secret_key var/secret_key``: the first run writes a
new random key there (mode 600), later runs keep it, so sessions and signed values survive a
restart. Nothing here needs Django settings.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from pathlib import Path

# Used only when DJANGO_SECRET_KEY is unset; checkstack.checks warns about it (an error under
# `check --deploy`).
DEV_SECRET_KEY = "dev-insecure-checkstack-key-change-me-in-production-0123456789"


def ensure_key_file(path: Path) -> str:
    """The key stored in ``path``, written there once with a new random key if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Written to a private temporary file, then linked into place: a concurrent run either
        # wins the link or reads the complete key of the run that did.
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(50) + "\n")
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink()
    path.chmod(0o600)
    key = path.read_text().strip()
    if not key:
        raise SystemExit(f"{path} is empty: delete it to have a new key made.")
    return key


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m checkstack.secret_key PATH", file=sys.stderr)
        return 2
    ensure_key_file(Path(argv[0]))  # the key itself is never printed
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
