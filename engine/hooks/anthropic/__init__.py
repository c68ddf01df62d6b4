"""Hooks for Anthropic's Messages API (Claude on Vertex AI, ``:rawPredict`` / ``:streamRawPredict``).

Facts: shared/reference/06-anthropic-on-vertex.md (request, response, usage), 05-streaming.md §3.

* :mod:`.messages`: ``anthropic.messages``, ``anthropic.system`` (OpenAI messages -> Messages API)
* :mod:`.params`: tools, tool_choice, parallel tool calls, JSON mode through a forced tool,
  thinking / reasoning_effort, the end-user id and betas
* :mod:`.response`: ``anthropic.message``, ``anthropic.usage``, ``anthropic.error``
* :mod:`.stream`: ``anthropic.stream_event`` (the Messages SSE state machine)

Per-call ``ctx.state`` keys: ``json_mode`` (response_format became the forced tool
``json_tool_call``), ``thinking_budget`` (thinking is on; also sizes the default ``max_tokens``),
``anthropic_stream`` (the stream state, see :mod:`.stream`).
"""

from engine.hooks.anthropic import messages, params, response, stream  # noqa: F401

JSON_TOOL_NAME = params.JSON_TOOL_NAME
