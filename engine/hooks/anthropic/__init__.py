"""Hooks for Anthropic's Messages API (Claude on Vertex AI, ``:rawPredict`` / ``:streamRawPredict``).

Facts: shared/reference/06-anthropic-on-vertex.md (request, response, usage), 05-streaming.md §3.

* :mod:`.media`: ``anthropic.media`` (image / PDF parts); :mod:`.signatures`: ``anthropic.thinking_blocks``
  (signed thinking sent back). Messages themselves are data: ``request.messages`` in anthropic.yaml.
* the params (tools, tool_choice, parallel tool calls, JSON mode, thinking, web search, the
  end-user id, betas) are formulas in anthropic.yaml
* :mod:`.stream`: ``anthropic.stream_event`` (the Messages SSE state machine); the whole answer's
  message and usage are declared in anthropic.yaml (part table, usage formulas), and the stream
  machine hands Claude's usage object to the same formulas

What passes between them is declared in anthropic.yaml: the ``plan`` fields ``json_mode`` and
``thinking_budget`` and the ``finish_reasons`` table reach a hook only through its ``needs``.
The stream state machine keeps its own state in ``ctx.state["anthropic_stream"]``.
"""

from engine.hooks.anthropic import media, signatures, stream  # noqa: F401
