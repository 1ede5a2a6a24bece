"""The `users` table and the account store: bcrypt password hashes, roles and a disabled flag.

Accounts live in the business database (SQLite by default, any SQLAlchemy URL), next to the review
index. Everything here blocks (bcrypt is deliberately slow, SQL is synchronous): async callers use the
`a*` wrappers, which run in a worker thread.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast, get_args

import bcrypt
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app.data.db import add_missing_columns

Role = Literal["staff", "reviewer", "admin"]
"""What an account may do: chat (staff); chat and review escalations (reviewer); everything (admin)."""

ROLES: tuple[Role, ...] = get_args(Role)
"""Every role, least privileged first."""

REVIEW_ROLES: frozenset[str] = frozenset({"reviewer", "admin"})
"""Roles allowed into the reviewer console."""

MIN_PASSWORD_CHARS = 8
"""Shortest password accepted."""

MAX_PASSWORD_BYTES = 72
"""bcrypt only reads the first 72 bytes; longer passwords are refused rather than silently cut."""

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,63}$")
"""Lower-case letters, digits and `._@+-`, starting with a letter or digit, at most 64 characters."""

BCRYPT_ROUNDS = 12
"""bcrypt work factor (about 0.2 s per hash on this class of machine)."""

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("password_hash", sa.String(100), nullable=False, comment="bcrypt hash"),
    sa.Column("role", sa.String(16), nullable=False, comment="staff | reviewer | admin"),
    sa.Column("created_at", sa.DateTime, nullable=False, comment="Naive UTC"),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("sessions_after", sa.DateTime, nullable=True, comment="Naive UTC: sessions begun earlier are ended"),
)
"""Web accounts."""

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True, comment="sha256 hex of the token"),
    sa.Column("username", sa.String(64), sa.ForeignKey("users.username"), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime, nullable=False, comment="Naive UTC"),
)
"""Bearer tokens of the HTTP API (`gtm users token NAME`); only their hashes are stored."""

API_TOKEN_PREFIX = "gtm_"
"""Start of every API token (recognisable in logs and secret scanners)."""


def token_hash(token: str) -> str:
    """The stored form of an API token: sha256 (enough for 32 random bytes; no salt or slow hash needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class UserError(ValueError):
    """Invalid account input (bad username, role or password; duplicate account): a user-facing message."""


class UnknownUser(LookupError):
    """No account with that username."""


@dataclass(frozen=True, slots=True)
class User:
    """An account as the app sees it (never the password hash)."""

    username: str
    role: Role
    created_at: datetime
    disabled: bool = False
    sessions_after: datetime | None = None
    """Web sessions begun before this (naive UTC) are ended: set by signing out and by a new password."""

    def session_valid(self, issued_at: datetime | None) -> bool:
        """Whether a web session begun at `issued_at` (naive UTC; `None`: unknown) may still act as this account."""
        if self.disabled:
            return False
        return self.sessions_after is None or (issued_at is not None and issued_at >= self.sessions_after)

    @property
    def can_review(self) -> bool:
        """Whether this account may open the reviewer console."""
        return self.role in REVIEW_ROLES and not self.disabled

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (for `gtm users list --json`)."""
        return {
            "username": self.username,
            "role": self.role,
            "created_at": self.created_at.isoformat(timespec="seconds"),
            "disabled": self.disabled,
        }


def normalize_username(username: str) -> str:
    """Trim and lower-case a username; raise `UserError` when it is not acceptable."""
    name = username.strip().lower()
    if not USERNAME_RE.match(name):
        raise UserError(
            f"invalid username {username.strip()[:70]!r}: use 1-64 lower-case letters, digits or . _ @ + -, "
            "starting with a letter or digit"
        )
    return name


def check_role(role: str) -> Role:
    """Validate a role name."""
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    return cast(Role, role)


def check_password(password: str) -> bytes:
    """Validate a new password and return its UTF-8 bytes."""
    raw = password.encode("utf-8")
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"the password is too short: use at least {MIN_PASSWORD_CHARS} characters")
    if len(raw) > MAX_PASSWORD_BYTES:
        raise UserError(f"the password is too long: bcrypt reads at most {MAX_PASSWORD_BYTES} bytes")
    return raw


def hash_password(password: str) -> str:
    """A bcrypt hash of a (validated) password."""
    return bcrypt.hashpw(check_password(password), bcrypt.gensalt(BCRYPT_ROUNDS)).decode("ascii")


_DUMMY_HASH: bytes | None = None
_dummy_lock = threading.Lock()


def _dummy_hash() -> bytes:
    """A hash to check against for unknown users, so a wrong username takes as long as a wrong password."""
    global _DUMMY_HASH
    with _dummy_lock:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(BCRYPT_ROUNDS))
        return _DUMMY_HASH


def _row_user(row: Any) -> User:
    return User(
        username=row.username,
        role=cast(Role, row.role),
        created_at=row.created_at,
        disabled=bool(row.disabled),
        sessions_after=row.sessions_after,
    )


def _session_clock() -> datetime:
    """Now, naive UTC (compared with a session's start, `app.web.session.token_claims`)."""
    return datetime.now(UTC).replace(tzinfo=None)


class UserStore:
    """Accounts in the business database (tables are created on first use)."""

    def __init__(self, engine: Engine) -> None:
        """Use `engine` (usually `app.services.business_engine(settings)`)."""
        self.engine = engine
        self._ready = False

    @classmethod
    def for_settings(cls, settings: Any) -> UserStore:
        """The store in the business database named by `settings` (blocking: opens the engine)."""
        from app.services import business_engine

        return cls(business_engine(settings))

    def _ensure(self) -> None:
        if not self._ready:
            metadata.create_all(self.engine, checkfirst=True)
            add_missing_columns(self.engine, users)  # a table made by an earlier version
            self._ready = True

    # -- writes --------------------------------------------------------------------------------
    def add(self, username: str, role: str, password: str) -> User:
        """Create an account.

        Raises:
            UserError: invalid username, role or password, or the username is taken.
        """
        name = normalize_username(username)
        checked_role = check_role(role)
        password_hash = hash_password(password)
        self._ensure()
        created = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    users.insert().values(
                        username=name,
                        password_hash=password_hash,
                        role=checked_role,
                        created_at=created,
                        disabled=False,
                    )
                )
        except IntegrityError as exc:
            raise UserError(f"user {name!r} already exists") from exc
        return User(username=name, role=checked_role, created_at=created)

    def _update(self, username: str, **values: Any) -> User:
        name = normalize_username(username)
        self._ensure()
        with self.engine.begin() as conn:
            if conn.execute(users.update().where(users.c.username == name).values(**values)).rowcount != 1:
                raise UnknownUser(f"no user {name!r}")
        user = self.get(name)
        assert user is not None
        return user

    def set_password(self, username: str, password: str) -> User:
        """Replace an account's password; its web sessions end (API tokens stay: revoke them on their own)."""
        return self._update(username, password_hash=hash_password(password), sessions_after=_session_clock())

    def end_sessions(self, username: str) -> User:
        """End every web session of an account (signing out ends them all, on every browser)."""
        return self._update(username, sessions_after=_session_clock())

    def set_role(self, username: str, role: str) -> User:
        """Change an account's role."""
        return self._update(username, role=check_role(role))

    def set_disabled(self, username: str, disabled: bool) -> User:
        """Disable (no login; its sessions end, and stay ended when it is enabled again) or re-enable an account."""
        if disabled:
            return self._update(username, disabled=True, sessions_after=_session_clock())
        return self._update(username, disabled=False)

    def create_token(self, username: str) -> str:
        """A new API token for an account (returned once; only its hash is kept).

        Raises:
            UnknownUser: no such account.
        """
        user = self.get(username)
        if user is None:
            raise UnknownUser(f"no user {username.strip().lower()!r}")
        token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(
                api_tokens.insert().values(
                    token_hash=token_hash(token),
                    username=user.username,
                    created_at=datetime.now(UTC).replace(tzinfo=None, microsecond=0),
                )
            )
        return token

    def revoke_tokens(self, username: str) -> int:
        """Delete every API token of an account; returns how many there were."""
        name = normalize_username(username)
        self._ensure()
        with self.engine.begin() as conn:
            return int(conn.execute(api_tokens.delete().where(api_tokens.c.username == name)).rowcount)

    # -- reads ---------------------------------------------------------------------------------
    def by_token(self, token: str) -> User | None:
        """The enabled account an API token belongs to, or `None`."""
        if not token.startswith(API_TOKEN_PREFIX) or len(token) > 200:
            return None
        self._ensure()
        query = (
            sa.select(users)
            .join(api_tokens, api_tokens.c.username == users.c.username)
            .where(api_tokens.c.token_hash == token_hash(token))
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _row_user(row) if row is not None and not row.disabled else None

    def get(self, username: str) -> User | None:
        """One account, or `None` (also for a malformed username)."""
        try:
            name = normalize_username(username)
        except UserError:
            return None
        self._ensure()
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.username == name)).first()
        return _row_user(row) if row else None

    def list(self) -> builtins.list[User]:
        """Every account, by username."""
        self._ensure()
        with self.engine.connect() as conn:
            return [_row_user(r) for r in conn.execute(sa.select(users).order_by(users.c.username))]

    def count(self) -> int:
        """How many accounts exist."""
        self._ensure()
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one())

    def authenticate(self, username: str, password: str) -> User | None:
        """The account if the password matches and it is enabled, else `None` (same cost either way)."""
        try:
            name = normalize_username(username)
        except UserError:
            name = ""
        self._ensure()
        row = None
        if name:
            with self.engine.connect() as conn:
                row = conn.execute(sa.select(users).where(users.c.username == name)).first()
        raw = password.encode("utf-8")
        if row is None or len(raw) > MAX_PASSWORD_BYTES:
            bcrypt.checkpw(b"wrong", _dummy_hash())
            return None
        if not bcrypt.checkpw(raw, row.password_hash.encode("ascii")) or row.disabled:
            return None
        return _row_user(row)

    # -- async wrappers (worker thread) --------------------------------------------------------
    async def aget(self, username: str) -> User | None:
        """`get` off the event loop."""
        return await asyncio.to_thread(self.get, username)

    async def aby_token(self, token: str) -> User | None:
        """`by_token` off the event loop."""
        return await asyncio.to_thread(self.by_token, token)

    async def aauthenticate(self, username: str, password: str) -> User | None:
        """`authenticate` off the event loop (bcrypt takes a fraction of a second)."""
        return await asyncio.to_thread(self.authenticate, username, password)
