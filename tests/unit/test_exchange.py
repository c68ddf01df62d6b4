"""The one retry loop (engine.runtime.exchange), driven by hand: it is sans-IO, so each step it
asks for (a token, a send, a body read, a pause) is answered here without any network."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from engine.errors import APIConnectionError, BadRequestError, RateLimitError, from_upstream
from engine.runtime import exchange as ex


class _Answer:
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.headers = headers or {}


def _exchange(**kw: Any) -> ex.Exchange:
    return ex.Exchange(
        method="POST", url="https://x.googleapis.com/v1/m:generateContent",
        headers=lambda token: {"Authorization": f"Bearer {token}"} if token else {},
        http_error=lambda status, text, headers: from_upstream(status, text, headers=dict(headers)),
        network_error=lambda exc: APIConnectionError(str(exc)),
        timeout=httpx.Timeout(5.0), **kw,
    )


def _drive(exchange: ex.Exchange, answers: list[Any], invalidated: list[Any]) -> tuple[Any, list[Any]]:
    """Run the loop, answering sends from ``answers``; returns (result, steps seen)."""
    steps, seen, value = ex._attempts(exchange), [], None
    while True:
        try:
            step = steps.send(value)
        except StopIteration as done:
            return done.value, seen
        if step is ex._TOKEN:
            seen.append("token")
            value = f"t{len(invalidated)}"
        elif isinstance(step, dict):
            seen.append(("send", step.get("Authorization")))
            answer = answers.pop(0)
            value = (None, answer) if isinstance(answer, Exception) else (answer, None)
        elif isinstance(step, ex._Read):
            seen.append("read")
            value = '{"error": {"code": %d, "message": "no", "status": "X"}}' % step.response.status_code
        else:
            seen.append(("sleep", step))
            value = None


def test_a_401_refreshes_the_token_once_then_succeeds(monkeypatch):
    invalidated: list[Any] = []
    monkeypatch.setattr(ex.tokens, "invalidate", lambda credentials: invalidated.append(credentials))
    ok = _Answer(200)
    result, seen = _drive(_exchange(uses_token=True, credentials="creds"), [_Answer(401), ok], invalidated)
    assert result is ok and invalidated == ["creds"]
    assert seen == ["token", ("send", "Bearer t0"), "read", "token", ("send", "Bearer t1")]


def test_a_second_401_is_raised(monkeypatch):
    monkeypatch.setattr(ex.tokens, "invalidate", lambda credentials: None)
    with pytest.raises(Exception) as err:
        _drive(_exchange(uses_token=True, retries=3), [_Answer(401), _Answer(401)], [])
    assert err.value.status_code == 401


def test_retryable_errors_wait_as_google_asks_up_to_the_retry_budget():
    answers = [_Answer(429, {"retry-after": "2"}), httpx.ConnectError("down"), _Answer(200)]
    result, seen = _drive(_exchange(retries=2), answers, [])
    assert result.status_code == 200
    assert seen[:3] == [("send", None), "read", ("sleep", 2.0)]
    assert [s for s in seen if isinstance(s, tuple) and s[0] == "send"] == [("send", None)] * 3
    with pytest.raises(RateLimitError):
        _drive(_exchange(retries=1), [_Answer(429, {"retry-after": "0"})] * 2, [])


def test_errors_that_retrying_cannot_fix_are_raised_at_once():
    with pytest.raises(BadRequestError):
        _drive(_exchange(retries=5), [_Answer(400)], [])
    with pytest.raises(APIConnectionError):
        _drive(_exchange(retries=0), [httpx.ConnectError("down")], [])
