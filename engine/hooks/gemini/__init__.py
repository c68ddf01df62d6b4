"""Hooks for Gemini ``generateContent`` (Vertex AI and AI Studio share them).

Facts: shared/reference/03-gemini-request-mapping.md. Each hook turns one OpenAI param (or the
whole ``messages`` list) into the Gemini body fragment a mapping places with ``to:``:

* :mod:`.contents`: thought-signature bookkeeping for the ``messages`` construct of gemini.yaml
  (``gemini.thinking_blocks``, ``gemini.signatures``)
* :mod:`.tools`: the googleMaps location (``gemini.retrieval_config``); the tool list is data
* :mod:`.stream`: what one answer carries across stream events (tool-call numbering, open lines);
  the rest of the response side (reference 04, 05) is declared in gemini.yaml

response_format, thinking, modalities, audio, tool_choice and web_search_options are data in
gemini.yaml (param rules and tables). What passes between hooks is declared there too: the plan
fields ``schema_prompt`` (-> the ``messages`` construct's ``after``) and ``retrieval_config``
(``gemini.retrieval_config`` -> ``toolConfig.retrievalConfig``), and the tables hooks ``need``.
"""

from engine.hooks.gemini import stream  # noqa: F401  (registers the stream hooks)
from engine.hooks.gemini import contents  # noqa: F401  (registers the signature hooks)
from engine.hooks.gemini import tools  # noqa: F401  (registers the googleMaps location hook)
from engine.hooks.media import gemini_generation

__all__ = [
    "gemini_generation",
]
