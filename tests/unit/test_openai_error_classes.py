"""The engine's exceptions are openai's once openai is imported, without the engine importing it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap


def _run(code: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=60, env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_engine_leaves_openai_unimported_and_errors_become_openai_errors_when_it_is():
    out = _run("""
        import sys
        import engine
        from engine.errors import RateLimitError, Timeout
        assert "openai" not in sys.modules, "import engine imported openai"
        # Optional clients load when first used, not at import (import time is a product figure).
        assert "aiohttp" not in sys.modules, "import engine imported aiohttp"
        early = engine.RateLimitError("slow down", response_headers={"retry-after": "2"})
        import openai
        # An error made before openai was imported is one of its errors too.
        assert isinstance(early, openai.RateLimitError) and isinstance(early, openai.APIError)
        assert early.response.status_code == 429 and early.request.method == "POST"
        assert early.request_id is None and early.retry_after == 2.0
        try:
            raise engine.Timeout("took too long")
        except openai.APITimeoutError as caught:
            assert isinstance(caught, engine.APIError)
        for ours, theirs in [
            (engine.BadRequestError, openai.BadRequestError),
            (engine.ContextWindowExceededError, openai.BadRequestError),
            (engine.AuthenticationError, openai.AuthenticationError),
            (engine.PermissionDeniedError, openai.PermissionDeniedError),
            (engine.NotFoundError, openai.NotFoundError),
            (engine.UnprocessableEntityError, openai.UnprocessableEntityError),
            (engine.InternalServerError, openai.InternalServerError),
            (engine.ServiceUnavailableError, openai.InternalServerError),
            (engine.APIConnectionError, openai.APIConnectionError),
            (engine.JSONSchemaValidationError, openai.APIError),
            (RateLimitError, openai.RateLimitError),
            (Timeout, openai.APIConnectionError),
        ]:
            assert issubclass(ours, theirs), (ours, theirs)
        assert not issubclass(engine.RateLimitError, openai.BadRequestError)
        print(str(early))
    """)
    assert out == "engine.RateLimitError: slow down"


def test_openai_imported_first_and_opt_out():
    assert _run("""
        import openai, engine
        print(issubclass(engine.NotFoundError, openai.NotFoundError))
    """) == "True"
    assert _run("""
        import openai, engine
        e = engine.NotFoundError("gone")
        print(isinstance(e, openai.APIError), isinstance(e, engine.APIError), e.status_code)
    """, VERTEX_ENGINE_OPENAI_ERRORS="0") == "False True 404"
