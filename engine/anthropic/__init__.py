"""Anthropic's Messages API over every model, as LiteLLM names it: ``engine.anthropic.messages.create``
/ ``acreate`` (and ``count_tokens`` / ``acount_tokens``)."""

from __future__ import annotations

from . import messages

__all__ = ["messages"]
