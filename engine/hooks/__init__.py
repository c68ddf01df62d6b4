"""Built-in hooks. Importing this package registers every hook with ``engine.spec.hooks``."""

from engine.hooks import anthropic, gemini, media, schema, sse  # noqa: F401
