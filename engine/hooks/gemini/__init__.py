"""Hooks for Gemini ``generateContent`` (Vertex AI and AI Studio share them).

Facts: shared/reference/03-gemini-request-mapping.md. Each hook turns one OpenAI param (or the
whole ``messages`` list) into the Gemini body fragment a mapping places with ``to:``:

* :mod:`.contents`: thought-signature bookkeeping for the ``messages`` construct of gemini.yaml
  (``gemini.thinking_blocks``, ``gemini.signatures``, ``gemini.function_response``)
* :mod:`.tools`: ``gemini.tools``, ``gemini.web_search_options``, ``gemini.tool_choice``
* :mod:`.config`: ``gemini.response_format``, ``gemini.thinking``, ``gemini.modalities``, ``gemini.audio``
* :mod:`.stream`: what one answer carries across stream events (tool-call numbering, open lines);
  the rest of the response side (reference 04, 05) is declared in gemini.yaml

What passes between hooks is declared in gemini.yaml: the plan fields ``schema_prompt``
(``gemini.schema_prompt`` -> the ``messages`` construct's ``after``) and ``retrieval_config`` (``gemini.retrieval_config``
-> ``toolConfig.retrievalConfig``), and the tables the response hooks ``need``.
"""

from engine.hooks.gemini import stream  # noqa: F401  (registers the stream hooks)
from engine.hooks.gemini.config import (
    gemini_audio,
    gemini_modalities,
    gemini_response_format,
    gemini_thinking,
)
from engine.hooks.gemini import contents  # noqa: F401  (registers the signature hooks)
from engine.hooks.gemini.tools import (
    BUILTIN_TOOLS,
    SEARCH_TOOLS,
    gemini_tool_choice,
    gemini_tools,
    gemini_web_search_options,
)
from engine.hooks.media import gemini_generation

__all__ = [
    "BUILTIN_TOOLS",
    "SEARCH_TOOLS",
    "gemini_tools",
    "gemini_web_search_options",
    "gemini_tool_choice",
    "gemini_response_format",
    "gemini_thinking",
    "gemini_modalities",
    "gemini_audio",
    "gemini_generation",
]
