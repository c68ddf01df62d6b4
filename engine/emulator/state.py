"""Everything one emulator instance remembers, shared by the server thread and the test thread."""

from __future__ import annotations

from dataclasses import dataclass, field

from .credentials import KeyRing
from .recording import RequestLog
from .resources import Resources
from .scripting import Playbook
from .tokens import TokenStore

__all__ = ["EmulatorState"]


@dataclass
class EmulatorState:
    """Tokens, API keys, signing keys, the request log, the playbook and stored resources.

    ``valid_api_keys`` is read by the server thread and replaced or mutated by tests; set
    membership and attribute assignment are atomic under the GIL, so no lock is needed.
    """

    tokens: TokenStore = field(default_factory=TokenStore)
    log: RequestLog = field(default_factory=RequestLog)
    playbook: Playbook = field(default_factory=Playbook)
    keys: KeyRing = field(default_factory=KeyRing)
    valid_api_keys: set[str] = field(default_factory=set)
    resources: Resources = field(default_factory=Resources)  # GCS objects, Vertex jobs, caches
