"""Built-in hooks. Importing this package registers every hook with ``engine.mapping.hooks``."""

from engine.hooks import multimodal_embeddings, ranking, tts  # noqa: F401
from engine.hooks import anthropic, gemini, media, schema, sse  # noqa: F401
