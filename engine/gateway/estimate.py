"""The worst case a call can cost before it runs, which a key reserves against its budget and tpm.

Counted prompt (characters / 3, rounded up: Google's tokenizers average about 4 characters a
token, so this errs high; an inline image or file counts a fixed 1,000) plus the output the call
may produce: its ``max_tokens`` (or ``max_completion_tokens``), else the catalog's
``max_output_tokens``, else 8,192. Priced with the catalog's prices of the most expensive
deployment of the model group. The reservation is settled to the real usage when the call ends.
"""

from __future__ import annotations

import json
import math
from typing import Any

import engine
from engine.costs import completion_cost

from .config import Deployment

__all__ = ["worst_case", "native_worst_case", "prompt_tokens", "billed_prompt"]

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


def billed_prompt(deployment: Deployment | None, body: dict[str, Any]) -> tuple[int, float]:
    """``(tokens, cost)`` of the prompt as Google bills it, for a stream the client dropped before
    Google reported usage: characters / 4 (the tokenizers' average) priced at the input price."""
    text = body.get("messages", body.get("prompt", body.get("input")))
    tokens = max(1, math.ceil(prompt_tokens(text) * 3 / 4))
    info = _catalog(deployment) if deployment is not None else {}
    return tokens, float(completion_cost({"prompt_tokens": tokens, "completion_tokens": 0}, info) or 0.0)


def native_worst_case(deployment: Deployment, raw: bytes) -> tuple[int, float]:
    """``(tokens, cost)`` at most for a Google-native generation sent through pass-through: its
    ``contents`` (or Claude's ``messages``) plus ``generationConfig.maxOutputTokens`` (or
    ``max_tokens``), else the catalog's output cap."""
    try:
        body = json.loads(raw) if raw else {}
    except (ValueError, RecursionError):
        return 0, 0.0  # Google refuses it: nothing is billed
    if not isinstance(body, dict):
        return 0, 0.0
    config = body.get("generationConfig") if isinstance(body.get("generationConfig"), dict) else {}
    wanted = config.get("maxOutputTokens", body.get("max_tokens"))
    prompt = prompt_tokens([body.get("contents"), body.get("messages"), body.get("systemInstruction"), body.get("system")])
    info = _catalog(deployment)
    if isinstance(wanted, int) and not isinstance(wanted, bool) and wanted > 0:
        output = wanted
    else:
        cap = info.get("max_output_tokens")
        output = int(cap) if isinstance(cap, (int, float)) and cap > 0 else DEFAULT_OUTPUT_CAP
    cost = completion_cost({"prompt_tokens": prompt, "completion_tokens": output}, info)
    return prompt + output, float(cost or 0.0)
