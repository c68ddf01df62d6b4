"""Built-in hooks. Importing this package registers every hook with ``engine.spec.hooks``."""

from engine.hooks import gemini, media, schema, sse  # noqa: F401
