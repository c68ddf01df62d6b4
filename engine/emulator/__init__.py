"""A fake Google (OAuth token endpoint, Vertex AI, Google AI Studio) for tests and offline work.

Use :class:`FakeGoogle` from tests; ``vertex-engine emulate`` runs it from the command line
(:func:`engine.emulator.cli.run`).
"""

from __future__ import annotations

from .fake import FakeGoogle
from .recording import NoMatchingRequest, Recorded

__all__ = ["FakeGoogle", "Recorded", "NoMatchingRequest"]
