"""The async HTTP sessions (one per event loop) are closed with their loop and never leak or warn."""

from __future__ import annotations

import asyncio
import gc
import warnings

import engine
from engine.runtime import aio

MESSAGES = [{"role": "user", "content": "hi"}]


def test_session_closed_when_asyncio_run_returns(fake):
    asyncio.run(engine.acompletion(model="vertex_ai/gemini-2.5-flash", messages=MESSAGES))
    assert aio._sessions == {}, "asyncio.run's shutdown_asyncgens closed and forgot the session"


def test_one_session_per_loop_reused_across_calls(fake):
    async def two_calls() -> tuple[object, object]:
        await engine.acompletion(model="vertex_ai/gemini-2.5-flash", messages=MESSAGES)
        first = aio._sessions[asyncio.get_running_loop()][0]
        await engine.acompletion(model="vertex_ai/gemini-2.5-flash", messages=MESSAGES)
        return first, aio._sessions[asyncio.get_running_loop()][0]

    first, second = asyncio.run(two_calls())
    assert first is second


def test_loop_closed_without_shutdown_is_forgotten_without_warnings(fake):
    loop = asyncio.new_event_loop()
    loop.run_until_complete(engine.acompletion(model="vertex_ai/gemini-2.5-flash", messages=MESSAGES))
    loop.close()  # no shutdown_asyncgens: the keeper never ran
    assert loop in aio._sessions
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(engine.acompletion(model="vertex_ai/gemini-2.5-flash", messages=MESSAGES))
        gc.collect()
    assert loop not in aio._sessions
    assert not [w for w in caught if "Unclosed" in str(w.message)], [str(w.message) for w in caught]
