"""Claude's token counter on Vertex: ``publishers/anthropic/models/count-tokens:rawPredict``.

The body is a Messages request naming the counted ``model``; the answer is ``{"input_tokens": N}``
with the same N a ``rawPredict`` of that request reports as its prompt (cached or not).
"""

from __future__ import annotations

from .anthropic import _usage
from .call import ModelCall
from .reply import Reply

__all__ = ["COUNT_TOKENS_MODEL", "count_tokens"]

COUNT_TOKENS_MODEL = "count-tokens"


def count_tokens(call: ModelCall) -> Reply:
    body = call.body
    if not isinstance(body.get("model"), str) or not body["model"].startswith("claude-"):
        return Reply.error(400, "model: Field required (the Claude model whose tokens are counted)")
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return Reply.error(400, "messages: Field required")
    usage = _usage(body, [])
    return Reply(body={"input_tokens": usage["input_tokens"] + usage["cache_creation_input_tokens"]})
