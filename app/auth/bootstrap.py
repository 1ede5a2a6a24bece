"""First-start state of the web app: the signing secret and, in demo mode, the demo accounts.

Both live in `GTM_HOME` with mode 0600. Nothing here runs at import time: the server calls these
functions from `create_app()` and its start-up.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from app.auth.users import ROLES, UserError, UserStore

SECRET_FILE = "secret.key"
"""Random master secret of this installation, in `GTM_HOME`."""

DEMO_ACCOUNTS_FILE = "demo-accounts.txt"
"""Demo usernames and their generated passwords, in `GTM_HOME`."""


def _write_private(path: Path, text: str, *, exclusive: bool) -> bool:
    """Write `text` to a file created with mode 0600; with `exclusive`, return False if it already exists."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
    return True


def load_or_create_secret(home: Path) -> bytes:
    """The installation secret from `home/secret.key`, created (0600, 48 random bytes) on first use."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / SECRET_FILE
    if not path.exists():
        _write_private(path, secrets.token_urlsafe(48) + "\n", exclusive=True)  # loses a race harmlessly
    value = path.read_text(encoding="utf-8").strip()
    if len(value) < 32:
        raise RuntimeError(f"{path} is too short to be a secret; delete it to generate a new one")
    return value.encode("utf-8")


def derive_key(master: bytes, purpose: str) -> str:
    """A purpose-specific key (HMAC-SHA256 of `purpose` under `master`), as hex."""
    return hmac.new(master, purpose.encode("utf-8"), hashlib.sha256).hexdigest()


def ensure_demo_accounts(store: UserStore, home: Path) -> dict[str, str] | None:
    """Create `staff`, `reviewer` and `admin` with random passwords when there are no accounts at all.

    The passwords are written once to `home/demo-accounts.txt` (0600) and returned so the caller can
    print them; they are never stored in clear anywhere else.

    Returns:
        `{username: password}` when the accounts were created now, `None` if accounts already existed.
    """
    if store.count() > 0:
        return None
    created: dict[str, str] = {}
    for role in ROLES:
        password = secrets.token_urlsafe(12)
        try:
            store.add(role, role, password)
        except (UserError, IntegrityError):  # another process created it first
            continue
        created[role] = password
    if not created:
        return None
    lines = ["# GTM Copilot demo accounts (generated at first start; change them with `gtm users passwd`)"]
    lines += [f"{name}\t{password}\trole={name}" for name, password in created.items()]
    _write_private(home / DEMO_ACCOUNTS_FILE, "\n".join(lines) + "\n", exclusive=False)
    return created
