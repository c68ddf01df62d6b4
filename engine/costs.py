"""Cost of a call from its usage and the model's catalog entry (USD)."""

from __future__ import annotations

from typing import Any

__all__ = ["completion_cost", "media_units_cost", "speech_characters_cost"]


def _tiered(info: dict[str, Any], name: str, prompt_tokens: int) -> float | None:
    # Google's rule: the prompt size picks the tier, for input and output prices alike.
    if prompt_tokens > 200_000 and f"{name}_above_200k_tokens" in info:
        return info[f"{name}_above_200k_tokens"]
    if prompt_tokens > 128_000 and f"{name}_above_128k_tokens" in info:
        return info[f"{name}_above_128k_tokens"]
    return info.get(name)


def completion_cost(usage: dict[str, Any] | None, info: dict[str, Any], *, images: int = 0) -> float | None:
    """Token (and per-image) cost; ``None`` when the catalog has no price for the model.

    Cached prompt tokens are priced at the cache-read price and *not* again at the input price;
    reasoning tokens at the reasoning price when the catalog has one (they are part of
    ``completion_tokens`` already).
    """
    if not info or ("input_cost_per_token" not in info and "output_cost_per_image" not in info):
        return None
    usage = usage or {}
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    pdetails = usage.get("prompt_tokens_details") or {}
    cdetails = usage.get("completion_tokens_details") or {}
    cached = int(pdetails.get("cached_tokens") or usage.get("cache_read_input_tokens") or 0)
    cache_creation = int(usage.get("cache_creation_input_tokens") or 0)
    audio_in = int(pdetails.get("audio_tokens") or 0)
    reasoning = int(cdetails.get("reasoning_tokens") or 0)

    if prompt > 128_000:
        input_price = _tiered(info, "input_cost_per_token", prompt) or 0.0
        output_price = _tiered(info, "output_cost_per_token", prompt) or 0.0
        cache_price = _tiered(info, "cache_read_input_token_cost", prompt)
        cache_write_price = _tiered(info, "cache_creation_input_token_cost", prompt)
    else:  # below every tier: the base prices (what _tiered answers there), without four calls
        input_price = info.get("input_cost_per_token") or 0.0
        output_price = info.get("output_cost_per_token") or 0.0
        cache_price = info.get("cache_read_input_token_cost")
        cache_write_price = info.get("cache_creation_input_token_cost")
    audio_price = info.get("input_cost_per_audio_token", input_price)
    reasoning_price = info.get("output_cost_per_reasoning_token", output_price)

    fresh = max(prompt - cached - audio_in - cache_creation, 0)
    cost = fresh * input_price
    cost += cached * (cache_price if cache_price is not None else input_price)
    cost += cache_creation * (cache_write_price if cache_write_price is not None else input_price)
    cost += audio_in * audio_price
    cost += max(completion - reasoning, 0) * output_price + reasoning * reasoning_price
    cost += images * float(info.get("output_cost_per_image") or 0.0)
    return round(cost, 12)


def media_units_cost(usage: dict[str, Any] | None, info: dict[str, Any]) -> float | None:
    """Cost of input billed per character, image and video second (multimodal embeddings), from
    ``usage.prompt_tokens_details``; ``None`` when the catalog prices none of them."""
    prices = ("input_cost_per_character", "input_cost_per_image", "input_cost_per_video_per_second")
    if not info or not any(p in info for p in prices):
        return None
    details = (usage or {}).get("prompt_tokens_details") or {}
    cost = float(details.get("character_count") or 0) * float(info.get("input_cost_per_character") or 0.0)
    cost += float(details.get("image_count") or 0) * float(info.get("input_cost_per_image") or 0.0)
    cost += float(details.get("video_length_seconds") or 0) * float(info.get("input_cost_per_video_per_second") or 0.0)
    return round(cost, 12)


def speech_characters_cost(usage: dict[str, Any] | None, info: dict[str, Any], voice_tier: str | None) -> float | None:
    """Cloud Text-to-Speech: the billed characters (``usage.prompt_tokens_details.character_count``)
    at the voice tier's price per character; ``None`` when the catalog has no price for the tier."""
    prices = info.get("input_cost_per_character_by_voice_tier") if info else None
    price = prices.get(voice_tier) if isinstance(prices, dict) and voice_tier else None
    if price is None:
        return None
    details = (usage or {}).get("prompt_tokens_details") or {}
    return round(float(details.get("character_count") or 0) * float(price), 12)


# Vertex AI bills Gemini batch prediction at half the online price; a catalog entry with
# ``*_cost_per_token_batches`` prices says so itself.
BATCH_PRICE_FACTOR = 0.5


def batch_cost(usage: dict[str, Any] | None, info: dict[str, Any]) -> float | None:
    """Cost of one batch-prediction answer: the catalog's batch prices when it has them, else the
    online price times :data:`BATCH_PRICE_FACTOR`; ``None`` when the model has no price."""
    if "input_cost_per_token_batches" in info or "output_cost_per_token_batches" in info:
        batch_info = {**info, "input_cost_per_token": info.get("input_cost_per_token_batches", 0.0),
                      "output_cost_per_token": info.get("output_cost_per_token_batches", 0.0)}
        for tiered in [k for k in batch_info if k.startswith(("input_cost_per_token_above", "output_cost_per_token_above"))]:
            del batch_info[tiered]
        return completion_cost(usage, batch_info)
    online = completion_cost(usage, info)
    return None if online is None else round(online * BATCH_PRICE_FACTOR, 12)
