"""The worst case a call can cost before it runs, which a key reserves against its budget and tpm.

Counted prompt (characters / 3, rounded up: Google's tokenizers average about 4 characters a
token, so this errs high; an inline image or file counts a fixed 1,000) plus the output the call
may produce: its ``max_tokens`` (or ``max_completion_tokens``), else the catalog's
``max_output_tokens``, else 8,192. Priced with the catalog's prices of the most expensive
deployment of the model group. The reservation is settled to the real usage when the call ends.
"""

from __future__ import annotations

import math
from typing import Any

import engine
from engine.costs import completion_cost

from .config import Deployment

__all__ = ["worst_case", "prompt_tokens"]

DEFAULT_OUTPUT_CAP = 8192
INLINE_MEDIA_TOKENS = 1000
_MEDIA_CHARS = 2048  # a string this long with no space is inline media (base64), not text


def prompt_tokens(value: Any) -> int:
    """An upper estimate of the tokens in the text of ``value`` (messages, prompt or input)."""
    chars = 0
    media = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if item.startswith("data:") or (len(item) > _MEDIA_CHARS and " " not in item[:_MEDIA_CHARS]):
                media += 1
            else:
                chars += len(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return math.ceil(chars / 3) + media * INLINE_MEDIA_TOKENS


def _catalog(deployment: Deployment) -> dict[str, Any]:
    try:
        registry = engine.get_registry()
        return registry.info(registry.resolve(deployment.model).model)[1]
    except Exception:  # noqa: BLE001 - a model without a catalog entry reserves tokens, not money
        return {}


def _output_cap(body: dict[str, Any], info: dict[str, Any], call_type: str) -> int:
    if call_type not in ("chat", "text_completion"):
        return 0
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    cap = info.get("max_output_tokens")
    return int(cap) if isinstance(cap, (int, float)) and cap > 0 else DEFAULT_OUTPUT_CAP


def worst_case(deployments: list[Deployment], body: dict[str, Any], call_type: str) -> tuple[int, float]:
    """``(tokens, cost)``: the most this call can use, over the deployments that may serve it."""
    prompt = prompt_tokens(body.get("messages", body.get("prompt", body.get("input"))))
    tokens, cost = 0, 0.0
    for deployment in deployments[:8]:  # groups are small; bound the work anyway
        info = _catalog(deployment)
        output = _output_cap(body, info, call_type)
        tokens = max(tokens, prompt + output)
        images = int(body.get("n") or 1) if call_type == "image_generation" and isinstance(body.get("n") or 1, int) else 0
        price = completion_cost({"prompt_tokens": prompt, "completion_tokens": output}, info, images=images)
        cost = max(cost, float(price or 0.0))
    return tokens, cost
