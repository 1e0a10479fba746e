"""Server-side Flask sessions in the app's SQLite, findable by the OP's ``sid`` and ``sub``.

The browser holds only an opaque random id; the row is keyed by its SHA-256 so a copy of
the database does not hand out live cookies (ASVS V3.2). Back-channel and front-channel
logout delete rows by ``sid`` (or by ``sub``), which a signed cookie session cannot do.
"""
from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from contextlib import closing
from typing import Any, Iterator

from flask import Flask, Request, Response
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

SID_KEY = "_sso_sid"   # the OP session id of this local session (OIDC Front-Channel Logout §3)
SUB_KEY = "_sso_sub"   # the signed-in subject
CREATED_KEY = "_sso_created"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sso_session (
    id_hash TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    sid TEXT,
    sub TEXT,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sso_session_sid ON sso_session (sid);
CREATE INDEX IF NOT EXISTS sso_session_sub ON sso_session (sub);
CREATE TABLE IF NOT EXISTS sso_logout_jti (
    jti TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
"""


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Rows of session id hash → data, sid, sub, in one SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        with closing(self._connect()) as db, db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]] | int:
        with closing(self._connect()) as db, db:
            cur = db.execute(sql, params)
            return cur.fetchall() if sql.lstrip().upper().startswith("SELECT") else cur.rowcount

    def load(self, session_id: str) -> str | None:
        """The serialized data of a live session, or None."""
        rows = self._run(
            "SELECT data FROM sso_session WHERE id_hash = ? AND expires_at > ?",
            (_hash(session_id), time.time()),
        )
        return rows[0][0] if rows else None

    def save(self, session_id: str, data: str, sid: str | None, sub: str | None, expires_at: float) -> None:
        self._run(
            "INSERT OR REPLACE INTO sso_session (id_hash, data, sid, sub, expires_at) VALUES (?, ?, ?, ?, ?)",
            (_hash(session_id), data, sid, sub, expires_at),
        )

    def delete(self, session_id: str) -> None:
        self._run("DELETE FROM sso_session WHERE id_hash = ?", (_hash(session_id),))

    def end_sessions(self, sid: str | None = None, sub: str | None = None) -> int:
        """Delete the sessions of an OP session ``sid``, or of every session of ``sub``.

        OIDC Back-Channel Logout 1.0 §2.7: with a sid, log out that session; with only a
        sub, log out all of that End-User's sessions. Returns how many rows went.
        """
        if sid and sub:
            count = self._run("DELETE FROM sso_session WHERE sid = ? AND sub = ?", (sid, sub))
        elif sid:
            count = self._run("DELETE FROM sso_session WHERE sid = ?", (sid,))
        elif sub:
            count = self._run("DELETE FROM sso_session WHERE sub = ?", (sub,))
        else:
            return 0
        self._run("DELETE FROM sso_session WHERE expires_at <= ?", (time.time(),))
        return int(count)

    def count(self, sid: str | None = None) -> int:
        """How many live sessions (of one sid, if given) exist; for tests and monitoring."""
        if sid is None:
            rows = self._run("SELECT COUNT(*) FROM sso_session WHERE expires_at > ?", (time.time(),))
        else:
            rows = self._run(
                "SELECT COUNT(*) FROM sso_session WHERE sid = ? AND expires_at > ?", (sid, time.time())
            )
        return int(rows[0][0])

    def remember_jti(self, jti: str, expires_at: float) -> bool:
        """Record a logout token id; False when it was already seen (a replay)."""
        self._run("DELETE FROM sso_logout_jti WHERE expires_at <= ?", (time.time(),))
        try:
            self._run("INSERT INTO sso_logout_jti (jti, expires_at) VALUES (?, ?)", (jti, expires_at))
        except sqlite3.IntegrityError:
            return False
        return True


class ServerSession(CallbackDict, SessionMixin):
    """A dict-like session whose data lives in :class:`SessionStore`."""

    def __init__(self, initial: dict[str, Any] | None = None, session_id: str | None = None) -> None:
        def on_update(self: "ServerSession") -> None:
            self.modified = True

        super().__init__(initial, on_update)
        self.session_id = session_id
        self.new = session_id is None
        self.modified = False
        self.accessed = True
        self.rotate = False

    def regenerate(self) -> None:
        """Issue a new session id at the next response (no fixation across sign-in, ASVS V3.2.1)."""
        self.rotate = True
        self.modified = True


class SqliteSessionInterface(SessionInterface):
    """Flask session interface over :class:`SessionStore`."""

    serializer = TaggedJSONSerializer()

    def __init__(self, store: SessionStore, cookie_name: str, lifetime: int) -> None:
        self.store = store
        self.cookie_name = cookie_name
        self.lifetime = lifetime

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        session_id = request.cookies.get(self.cookie_name)
        if session_id:
            data = self.store.load(session_id)
            if data is not None:
                return ServerSession(self.serializer.loads(data), session_id)
        return ServerSession()

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        cookie = dict(
            domain=self.get_cookie_domain(app), path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app), httponly=True,
            samesite=self.get_cookie_samesite(app) or "Lax",
        )
        response.vary.add("Cookie")  # pages differ per session; shared caches must not mix them
        if not session.modified:
            return
        if session.session_id and (session.rotate or not session):
            self.store.delete(session.session_id)
        if not session:
            if session.session_id:
                response.delete_cookie(self.cookie_name, **cookie)
            return
        if session.session_id is None or session.rotate:
            session.session_id = secrets.token_urlsafe(32)
        created = session.setdefault(CREATED_KEY, time.time())
        self.store.save(
            session.session_id, self.serializer.dumps(dict(session)),
            session.get(SID_KEY), session.get(SUB_KEY), created + self.lifetime,
        )
        response.set_cookie(self.cookie_name, session.session_id, **cookie)
