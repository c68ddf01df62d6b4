"""``FakeGoogle``: the emulator as a context manager with a scripting API for tests."""

from __future__ import annotations

import os
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from .app import build_app
from .credentials import authorized_user_info, service_account_info, write_json_secret
from .recording import Recorded
from .reply import StreamEvent
from .scripting import Fault, Script
from .server import BackgroundServer
from .state import EmulatorState

__all__ = ["FakeGoogle"]


class FakeGoogle:
    """A fake Google (OAuth, Vertex AI, AI Studio, Cloud Storage) on 127.0.0.1, served from a daemon thread.

    ::

        with FakeGoogle() as fg:
            fg.script(":generateContent", json={...})
            ...  # point the engine at fg.url
            assert fg.last(":generateContent").json["contents"]

    Every method is thread-safe; the server runs its own event loop, so sync and async clients
    in the test thread both work.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token_lifetime: int = 3600,
        valid_api_keys: Iterable[str] = (),
        access_log: bool = False,
    ) -> None:
        self._state = EmulatorState()
        self._state.tokens.lifetime = token_lifetime
        self._state.valid_api_keys = set(valid_api_keys)
        self._server = BackgroundServer(build_app(self._state), host, port, access_log=access_log)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeGoogle:
        """Start serving (idempotent) and return ``self``."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving. Recorded requests stay readable."""
        self._server.stop()

    def __enter__(self) -> FakeGoogle:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (0 before :meth:`start` when constructed with ``port=0``)."""
        return self._server.port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        host = self._server.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"  # a wildcard bind is reachable on loopback
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._server.port}"

    @property
    def token_uri(self) -> str:
        """The token endpoint credential files point at."""
        return self.url + "/token"

    # -- credentials -----------------------------------------------------------------------

    def service_account_info(self, project_id: str = "fake-project") -> dict[str, Any]:
        """A service-account key (real RSA key) whose ``token_uri`` is this emulator."""
        return service_account_info(self._state.keys.key(), self.token_uri, project_id)

    def write_service_account(
        self, path: str | os.PathLike[str], project_id: str = "fake-project"
    ) -> str:
        """Write :meth:`service_account_info` to ``path`` (mode 0600); return the path."""
        return write_json_secret(path, self.service_account_info(project_id))

    def authorized_user_info(self, quota_project_id: str = "fake-project") -> dict[str, Any]:
        """An ADC ``authorized_user`` document whose ``token_uri`` is this emulator."""
        return authorized_user_info(self.token_uri, quota_project_id)

    def write_authorized_user(
        self, path: str | os.PathLike[str], quota_project_id: str = "fake-project"
    ) -> str:
        """Write :meth:`authorized_user_info` to ``path`` (mode 0600); return the path."""
        return write_json_secret(path, self.authorized_user_info(quota_project_id))

    # -- tokens and keys -------------------------------------------------------------------

    @property
    def token_lifetime(self) -> int:
        """Seconds tokens issued from now on stay valid (``expires_in``)."""
        return self._state.tokens.lifetime

    @token_lifetime.setter
    def token_lifetime(self, seconds: int) -> None:
        self._state.tokens.lifetime = seconds

    @property
    def tokens_issued(self) -> int:
        """How many tokens the token endpoint issued."""
        return self._state.tokens.issued_count

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far; the next model call with one gets a 401."""
        self._state.tokens.revoke_all()

    @property
    def valid_api_keys(self) -> set[str]:
        """AI Studio keys accepted; empty means any non-empty key. Mutating the set works."""
        return self._state.valid_api_keys

    @valid_api_keys.setter
    def valid_api_keys(self, keys: Iterable[str]) -> None:
        self._state.valid_api_keys = set(keys)

    # -- recorded requests -----------------------------------------------------------------

    @property
    def requests(self) -> list[Recorded]:
        """Every request received (token requests included), oldest first."""
        return self._state.log.all()

    def last(self, match: str | None = None) -> Recorded:
        """The newest request whose path contains ``match``; token requests only if ``match``
        mentions ``token``. Raises :class:`~engine.emulator.recording.NoMatchingRequest`
        (an ``AssertionError``) when there is none."""
        return self._state.log.last(match)

    def calls(self, match: str | None = None) -> list[Recorded]:
        """Requests selected as in :meth:`last`, oldest first."""
        return self._state.log.calls(match)

    def clear(self) -> None:
        """Forget recorded requests, drop pending scripts and faults, and delete stored objects,
        jobs and caches (tokens and keys stay)."""
        self._state.log.clear()
        self._state.playbook.clear()
        self._state.resources.clear()

    # -- scripting -------------------------------------------------------------------------

    def script(
        self,
        match: str | None = None,
        *,
        json: Any = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
        sse: list[StreamEvent] | None = None,
        text: str | bytes | None = None,
        delay: float = 0.0,
        event_delay: float = 0.0,
        times: int | None = 1,
    ) -> None:
        """Queue a response for the next ``times`` requests whose path contains ``match``
        (``None``: any model call; ``times=None``: forever).

        ``json`` is sent as the body (for an ``alt=sse`` call with ``status < 400``, as one SSE
        event); ``sse`` items are sent as ``data: <json>\\r\\n\\r\\n`` events (str/bytes items
        verbatim); ``text`` is a raw body. With none of the three, the default answer is sent
        with ``status``/``headers`` (or a Google error body if ``status >= 400``).
        """
        if sum(x is not None for x in (json, sse, text)) > 1:
            raise ValueError("pass at most one of json=, sse=, text=")
        self._state.playbook.scripts.add(
            Script(match=match, json=json, status=status, headers=headers, sse=sse, text=text,
                   delay=delay, event_delay=event_delay, times=times)
        )

    def fault(
        self,
        kind: str,
        *,
        match: str | None = None,
        times: int | None = 1,
        retry_after: float | str | None = None,
        delay: float | None = None,
        after_events: int | None = None,
    ) -> None:
        """Inject a fault into the next ``times`` matching requests (faults win over scripts).

        Kinds: ``"429"`` (``RESOURCE_EXHAUSTED``; ``Retry-After`` header when ``retry_after``),
        ``"500"``, ``"503"``, ``"401"`` (even with a valid token), ``"slow"`` (sleep ``delay``
        seconds, default 1, then answer normally), ``"cut_stream"`` (send ``after_events`` events,
        default 1, then drop the connection mid-body; unary calls get half their body), and
        ``"malformed_json"`` (status 200; unary: truncated JSON body; streams: ``after_events``
        intact events, default 1, then one truncated event). ``delay`` also postpones other kinds.
        """
        self._state.playbook.faults.add(
            Fault(kind=kind, match=match, times=times, retry_after=retry_after, delay=delay,
                  after_events=after_events)
        )

    def pending(self) -> list[Script | Fault]:
        """Scripts and faults not yet used up (faults first), to assert a test consumed them."""
        return [*self._state.playbook.faults.pending(), *self._state.playbook.scripts.pending()]

    # -- stored resources: Cloud Storage objects, Vertex jobs ------------------------------------

    def gcs_object(self, uri: str) -> bytes | None:
        """The bytes stored at ``gs://bucket/name``, or ``None``."""
        return self._state.resources.storage.read_uri(uri)

    def put_gcs_object(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Store ``data`` at ``gs://bucket/name`` (as if uploaded)."""
        from .storage import split_gs_uri

        bucket, name = split_gs_uri(uri)
        self._state.resources.storage.put(bucket, name, data, content_type)

    def gcs_names(self, bucket: str, prefix: str = "") -> list[str]:
        """Object names in ``bucket`` under ``prefix``, sorted."""
        return self._state.resources.storage.names(bucket, prefix)

    @property
    def jobs_advance_on_get(self) -> bool:
        """Whether reading a batch or tuning job moves it one state forward (default on)."""
        return self._state.resources.jobs.advance_on_get

    @jobs_advance_on_get.setter
    def jobs_advance_on_get(self, value: bool) -> None:
        self._state.resources.jobs.advance_on_get = bool(value)

    def job_names(self, kind: str | None = None) -> list[str]:
        """Full names of emulated jobs (``kind``: ``batchPredictionJobs`` or ``tuningJobs``)."""
        return self._state.resources.jobs.names(kind)

    def job(self, name: str) -> dict[str, Any] | None:
        """A job's current resource (full name), without advancing it."""
        return self._state.resources.jobs.resource(name)

    def advance_jobs(self, name: str | None = None) -> None:
        """Move one job (full name or id) or every unfinished job one state forward."""
        self._state.resources.jobs.advance(name)

    def finish_jobs(self, name: str | None = None, state: str = "JOB_STATE_SUCCEEDED") -> None:
        """Run one job (full name or id) or every unfinished job to ``state``; a batch job that
        succeeds writes its predictions to its output prefix first."""
        self._state.resources.jobs.finish(name, state)
