"""Google host names carried as the first path segment, and which host serves which location.

The engine reaches the emulator by rewriting ``https://HOST/PATH`` to
``http://127.0.0.1:PORT/HOST/PATH``, so the host a real call would have used arrives as a path
prefix and can be checked.
"""

from __future__ import annotations

__all__ = ["GOOGLE_DOMAIN", "AI_STUDIO_HOST", "TEXTTOSPEECH_HOST", "DISCOVERY_ENGINE_HOST", "OAUTH_HOSTS", "split_host", "vertex_host_for"]

GOOGLE_DOMAIN = "googleapis.com"
AI_STUDIO_HOST = "generativelanguage.googleapis.com"
TEXTTOSPEECH_HOST = "texttospeech.googleapis.com"
DISCOVERY_ENGINE_HOST = "discoveryengine.googleapis.com"
OAUTH_HOSTS = frozenset({"oauth2.googleapis.com", "www.googleapis.com"})


def split_host(path: str) -> tuple[str | None, str]:
    """Split ``/HOST/rest`` into ``(HOST, "/rest")``; other paths give ``(None, path)``.

    Only ``*.googleapis.com`` names count as hosts, so ordinary API paths are never misread.
    """
    first, sep, rest = path.lstrip("/").partition("/")
    host = first.lower()
    if host == GOOGLE_DOMAIN or host.endswith("." + GOOGLE_DOMAIN):
        return host, "/" + rest if sep else "/"
    return None, path


def vertex_host_for(location: str) -> str:
    """Return the only host Google serves a Vertex ``locations/{location}`` path from.

    ``global`` has no regional host, multi-regions (no ``-``, e.g. ``us``, ``eu``) live on
    ``aiplatform.{loc}.rep.googleapis.com``, and regions on ``{loc}-aiplatform.googleapis.com``.
    """
    if location == "global":
        return "aiplatform.googleapis.com"
    if "-" not in location:
        return f"aiplatform.{location}.rep.googleapis.com"
    return f"{location}-aiplatform.googleapis.com"
