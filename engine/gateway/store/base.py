"""What the gateway stores and the interface every database backend implements.

Field names follow LiteLLM's key and spend APIs (``key_alias``, ``max_budget``, ``budget_duration``,
``budget_reset_at``, ``rpm_limit``, ``tpm_limit``, ``spend``; spend logs with ``request_id``,
``model_group``, ``call_type``, ``tags``...). Only the sha256 of a virtual key is stored, never the key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

__all__ = [
    "KeyRecord", "SpendRow", "Store", "hash_key", "preview_key", "parse_duration", "redact_url", "SCHEMA_VERSION",
]

SCHEMA_VERSION = 1
_KEYS = "vertex_engine_keys"
_LOGS = "vertex_engine_spend_logs"
_VERSION = "vertex_engine_schema_version"
_OWNERS = "vertex_engine_resource_owners"


@dataclass
class KeyRecord:
    """One virtual key as stored; ``token_hash`` identifies it (see :func:`hash_key`)."""

    token_hash: str
    key_alias: str | None = None
    key_preview: str = ""
    models: list[str] = field(default_factory=list)  # empty = all models
    max_budget: float | None = None
    budget_duration: str | None = None
    budget_reset_at: float | None = None  # epoch seconds
    expires: float | None = None  # epoch seconds
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    spend: float = 0.0  # spend in the current budget period
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass
class SpendRow:
    """One finished call, as written to the spend log."""

    request_id: str
    token_hash: str | None  # None for master-key / unauthenticated calls
    key_alias: str | None
    model_group: str
    deployment: str
    model: str
    call_type: str
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    spend: float
    tags: list[str]
    start_time: float
    end_time: float
    status: str  # "success" | "failure"


_KEY_FIELDS = tuple(f.name for f in dataclasses.fields(KeyRecord))
_ROW_FIELDS = tuple(f.name for f in dataclasses.fields(SpendRow))
_JSON_KEY_FIELDS = {"models", "metadata"}


class Store(Protocol):
    """What the gateway needs from a database. All methods are safe to call concurrently."""

    async def open(self) -> None:
        """Connect and create the schema if missing (idempotent)."""

    async def close(self) -> None:
        """Release connections; the store can be opened again."""

    async def insert_key(self, record: KeyRecord) -> None:
        """Insert a key; ``ValueError`` if its hash or its alias already exists."""

    async def get_key(self, token_hash: str) -> KeyRecord | None:
        """The key with this hash, or None."""

    async def get_key_by_alias(self, alias: str) -> KeyRecord | None:
        """The key with this alias, or None."""

    async def update_key(self, token_hash: str, fields: dict[str, Any]) -> KeyRecord | None:
        """Set ``fields`` (KeyRecord names, not ``token_hash``; else ValueError); the new record or None."""

    async def delete_keys(self, token_hashes: list[str]) -> int:
        """Delete these keys; how many existed."""

    async def list_keys(self) -> list[KeyRecord]:
        """Every key, oldest first."""

    async def write_spend(self, rows: list[SpendRow]) -> None:
        """In one transaction, log the rows and add each row's spend to its key's ``spend``.

        A ``request_id`` already logged is skipped (and not counted twice), so retrying a batch
        whose commit outcome was unknown is safe.
        """

    async def reset_spend(self, token_hash: str, next_reset_at: float | None, period_start: float | None = None) -> bool:
        """Start the budget period that began at ``period_start`` (default: now): ``spend`` = the
        spend logged since then (0 when applied at once; the calls served meanwhile when applied
        late, after a database outage), ``budget_reset_at = next_reset_at``. Only if the key's
        period was due by ``period_start`` (another instance may have started it already);
        whether it was applied."""

    async def spend_logs(
        self, *, token_hash: str | None = None, start: float | None = None, end: float | None = None, limit: int = 1000
    ) -> list[SpendRow]:
        """Logged rows, newest ``start_time`` first; ``start <= start_time <= end`` when given."""

    async def spend_by_tag(self, *, start: float | None = None, end: float | None = None) -> list[dict[str, Any]]:
        """``[{"tag", "spend", "requests", "total_tokens"}]`` by spend, highest first; untagged rows excluded."""

    async def spend_by_key(self, token_hash: str) -> dict[str, Any]:
        """Lifetime totals from the log: ``{"spend", "requests", "total_tokens", "by_model": {model_group: spend}}``."""

    async def spend_report(
        self, group_by: str, *, start: float | None = None, end: float | None = None, token_hash: str | None = None
    ) -> list[dict[str, Any]]:
        """Spend per UTC day and per ``group_by`` (``"key"``, ``"model"``, ``"deployment"`` or ``"tag"``):
        ``[{"day": "YYYY-MM-DD", "group", "key_alias", "spend", "requests", "prompt_tokens",
        "completion_tokens"}]``, days ascending, spend descending within a day."""

    async def rekey(self, old_hash: str, new_hash: str, preview: str) -> KeyRecord | None:
        """Give a key a new value (``/key/regenerate``): in one transaction its record, spend log
        rows and owned resources move to ``new_hash``; the new record, or None if there was none."""

    async def add_owner(self, kind: str, resource_id: str, token_hash: str) -> bool:
        """Record that the key with ``token_hash`` made resource ``resource_id`` (a file, batch,
        fine-tuning job or cache); the first owner stays. Whether this call recorded it (so the
        record doubles as a once-only marker across gateway instances)."""

    async def remove_owner(self, kind: str, resource_id: str) -> bool:
        """Forget who made the resource (or release a once-only marker whose work failed, so it can
        be claimed again); whether there was a record."""

    async def owner_of(self, kind: str, resource_id: str) -> str | None:
        """The token hash of the key that made the resource, or None (made by the master key or elsewhere)."""

    async def owned(self, kind: str, token_hash: str) -> set[str]:
        """The ids of the resources of ``kind`` this key made."""


# ---------------------------------------------------------------------------------------------
# small helpers


def hash_key(raw: str) -> str:
    """sha256 hex of a raw virtual key: what is stored and looked up."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def preview_key(raw: str) -> str:
    """A display form that cannot be used as the key: ``"sk-...Ab3d"`` (its last 4 characters)."""
    return f"sk-...{raw[-4:]}" if len(raw) > 8 else "sk-..."


MAX_DURATION = 100 * 365 * 86400.0
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w|mo)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "mo": 30 * 86400}


def parse_duration(text: str) -> float:
    """LiteLLM duration text to seconds: ``"30s"``, ``"10m"``, ``"1h"``, ``"1d"``, ``"30d"`` (also ``"2w"``;
    ``"1mo"`` counts as 30 days)."""
    match = _DURATION.match(text) if isinstance(text, str) and len(text) <= 32 else None
    if not match or int(match.group(1)) == 0:
        raise ValueError(
            f"invalid duration {text!r}: expected a positive whole number and a unit s, m, h, d, w or mo "
            f"(e.g. '30s', '10m', '1h', '30d')"
        )
    seconds = float(int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    if seconds > MAX_DURATION:
        raise ValueError(f"duration {text!r} is longer than 100 years")
    return seconds


# Greedy up to the last "@" of the authority: an unescaped "@" inside a password is common enough.
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^\s/?#]*@")


def redact_url(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` URL in it replaced by ``***``."""
    return _URL_PASSWORD.sub(lambda m: m.group("head") + "***@", text)


def _scrub(message: str, secret: str | None) -> str:
    # Driver messages rarely quote the DSN, but a leaked password in a log is expensive: belt and braces.
    message = redact_url(message)
    return message.replace(secret, "***") if secret else message


def _validate_key_fields(fields: dict[str, Any]) -> None:
    for name in fields:
        if name == "token_hash":
            raise ValueError("field 'token_hash' cannot be updated; create a new key instead")
        if name not in _KEY_FIELDS:
            raise ValueError(f"unknown key field {name!r}; expected one of: {', '.join(_KEY_FIELDS[1:])}")


def _dedupe(tags: list[str]) -> list[str]:
    # A tag listed twice on one request must not count that request twice in spend_by_tag.
    return list(dict.fromkeys(str(t) for t in tags or ()))


def _key_from_row(row: Any) -> KeyRecord:
    values = dict(row)
    for name in _JSON_KEY_FIELDS:
        if isinstance(values[name], str):
            values[name] = json.loads(values[name])
    values["models"] = list(values["models"] or [])
    values["metadata"] = dict(values["metadata"] or {})
    return KeyRecord(**values)


def _spend_from_row(row: Any) -> SpendRow:
    values = dict(row)
    if isinstance(values["tags"], str):
        values["tags"] = json.loads(values["tags"])
    values["tags"] = list(values["tags"] or [])
    return SpendRow(**values)


def _totals(spend: Any, requests: Any, tokens: Any, by_model: dict[str, float]) -> dict[str, Any]:
    return {"spend": float(spend or 0.0), "requests": int(requests or 0), "total_tokens": int(tokens or 0), "by_model": by_model}


# Spend report grouping: the column (or tag expansion) each group_by reads.
REPORT_GROUPS = ("key", "model", "deployment", "tag")
_REPORT_COLUMN = {"key": "COALESCE(s.token_hash, '')", "model": "s.model_group", "deployment": "s.deployment"}


def _report_rows(rows: Any) -> list[dict[str, Any]]:
    return [
        {"day": r["day"], "group": r["grp"], "key_alias": r["key_alias"], "spend": float(r["spend"] or 0.0),
         "requests": int(r["requests"]), "prompt_tokens": int(r["prompt_tokens"] or 0),
         "completion_tokens": int(r["completion_tokens"] or 0)}
        for r in rows
    ]


def _report_sql(group_by: str, day: str, tag_join: str, tag_column: str, where: str) -> str:
    if group_by not in REPORT_GROUPS:
        raise ValueError(f"group_by: expected one of {', '.join(REPORT_GROUPS)}, got {group_by!r}")
    column = tag_column if group_by == "tag" else _REPORT_COLUMN[group_by]
    join = tag_join if group_by == "tag" else ""
    return (
        f"SELECT {day} AS day, {column} AS grp, MAX(s.key_alias) AS key_alias, SUM(s.spend) AS spend, "
        "COUNT(*) AS requests, SUM(s.prompt_tokens) AS prompt_tokens, SUM(s.completion_tokens) AS completion_tokens "
        f"FROM {_LOGS} AS s {join} {where} GROUP BY 1, 2 ORDER BY 1, 4 DESC, 2"
    )


def _time_filter(start: float | None, end: float | None, placeholder: Callable[[], str]) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if start is not None:
        clauses.append(f"start_time >= {placeholder()}")
        args.append(float(start))
    if end is not None:
        clauses.append(f"start_time <= {placeholder()}")
        args.append(float(end))
    return clauses, args




def _duplicate_error(message: str, record: KeyRecord) -> ValueError:
    if "key_alias" in message:
        return ValueError(f"key_alias {record.key_alias!r} is already used by another key")
    return ValueError("a key with this token hash already exists")
