"""Which handler answers which ``(api, Google method)`` when nothing is scripted.

One module per method family supplies the handlers (:mod:`.gemini`, :mod:`.embeddings`,
:mod:`.anthropic`, :mod:`.openai_compat`, :mod:`.texttospeech`); ``rawPredict`` is dispatched by
publisher below, ``:predict`` by model id / body shape in :mod:`.predict` (where :mod:`.palm` and
the embedding and Imagen modules register).
"""

from __future__ import annotations

from collections.abc import Callable

from . import anthropic, embeddings, gemini, openai_compat, palm, predict, ranking, texttospeech
from .call import ModelCall
from .known_models import unknown_model_reply
from .google_errors import error_body
from .reply import Reply

__all__ = ["Handler", "HANDLERS", "default_reply", "validate"]

Handler = Callable[[ModelCall], Reply]

_GEMINI: dict[str, Handler] = {
    "generateContent": gemini.generate_content,
    "streamGenerateContent": gemini.stream_generate_content,
    "countTokens": gemini.count_tokens,
}

HANDLERS: dict[tuple[str, str], Handler] = {
    **{("vertex", method): handler for method, handler in _GEMINI.items()},
    **{("ai_studio", method): handler for method, handler in _GEMINI.items()},
    ("ai_studio", "embedContent"): embeddings.embed_content,
    ("ai_studio", "batchEmbedContents"): embeddings.batch_embed_contents,
    # Shared by embeddings, Imagen and other :predict families: see predict.register.
    ("vertex", "predict"): predict.predict,
    ("texttospeech", "synthesize"): texttospeech.synthesize,
    ("discoveryengine", "rank"): ranking.rank,
    ("vertex", "embeddings"): embeddings.openai_embeddings,
    ("vertex", "chat/completions"): openai_compat.chat_completions,
}

# rawPredict / streamRawPredict: the publisher says which wire format the body is in.
_RAW_PREDICT: dict[tuple[str, str], Handler] = {
    ("anthropic", "rawPredict"): anthropic.raw_predict,
    ("anthropic", "streamRawPredict"): anthropic.stream_raw_predict,
    **{(publisher, method): openai_compat.raw_predict
       for publisher in ("mistralai", "ai21") for method in ("rawPredict", "streamRawPredict")},
}


def _raw_predict(call: ModelCall) -> Reply:
    if call.route.publisher == "anthropic" and call.route.target == "count-tokens" and call.route.method == "rawPredict":
        return anthropic.count_tokens(call)
    handler = _RAW_PREDICT.get((call.route.publisher or "", call.route.method))
    if handler is None:
        return Reply.error(400, f"{call.route.method} is not emulated for publisher {call.route.publisher!r} "
                                "(vertex-engine emulator: anthropic, mistralai, ai21).")
    return handler(call)


HANDLERS[("vertex", "rawPredict")] = _raw_predict
HANDLERS[("vertex", "streamRawPredict")] = _raw_predict

_NEEDS_CONTENTS = {"generateContent", "streamGenerateContent"}


def validate(call: ModelCall) -> Reply | None:
    """The 400 Google returns for a request it cannot use, else ``None``."""
    if call.route.method in _NEEDS_CONTENTS and not call.body.get("contents"):
        return Reply.error(
            400, "Unable to submit request because at least one contents field is required."
        )
    return None


def default_reply(call: ModelCall) -> Reply:
    """Answer ``call`` with its registered handler, or a 404 if the method is not emulated."""
    handler = HANDLERS.get((call.route.api, call.route.method))
    if handler is None:
        return Reply(
            status=404,
            body=error_body(
                404,
                f"Method '{call.route.method}' is not emulated for {call.route.api} "
                f"(vertex-engine emulator); script a response with FakeGoogle.script().",
            ),
        )
    return unknown_model_reply(call) or validate(call) or handler(call)
