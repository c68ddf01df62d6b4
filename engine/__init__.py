"""vertex-engine: every Vertex AI and AI Studio model through the OpenAI request/response format.

Module-level settings (read on every call, LiteLLM's names):

``vertex_project``, ``vertex_location``, ``vertex_credentials``, ``api_base``,
``vertex_ai_safety_settings`` (default Gemini safety settings), ``drop_params``,
``num_retries``, ``request_timeout``, ``set_verbose`` (log raw upstream traffic, redacted),
``emulator_url`` (send Google traffic to ``vertex-engine emulate``), ``gemini_api_key``,
``callbacks`` (``["otel"]``: OpenTelemetry traces, see :mod:`engine.telemetry`).
"""

from __future__ import annotations

from typing import Any

from engine.api import (
    acompletion,
    aembedding,
    aimage_generation,
    aspeech,
    completion,
    embedding,
    image_generation,
    speech,
    atext_completion,
    text_completion,
)
from engine.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ContentPolicyViolationError,
    ContextWindowExceededError,
    InternalServerError,
    JSONSchemaValidationError,
    MappingError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    Timeout,
    UnprocessableEntityError,
    UnsupportedParamsError,
)
from engine.resources import (
    create_cached_content,
    acreate_cached_content,
    retrieve_cached_content,
    aretrieve_cached_content,
    list_cached_contents,
    alist_cached_contents,
    update_cached_content,
    aupdate_cached_content,
    delete_cached_content,
    adelete_cached_content,
    create_file,
    acreate_file,
    retrieve_file,
    aretrieve_file,
    file_content,
    afile_content,
    delete_file,
    adelete_file,
    create_batch,
    acreate_batch,
    retrieve_batch,
    aretrieve_batch,
    list_batches,
    alist_batches,
    cancel_batch,
    acancel_batch,
    create_fine_tuning_job,
    acreate_fine_tuning_job,
    retrieve_fine_tuning_job,
    aretrieve_fine_tuning_job,
    list_fine_tuning_jobs,
    alist_fine_tuning_jobs,
    cancel_fine_tuning_job,
    acancel_fine_tuning_job,
)
from engine.rerank import arerank, rerank
from engine.transcription import atranscription, transcription
from engine.token_counter import atoken_counter, token_counter
from engine.mapping.registry import add_mappings, get_registry
from engine.responses_api import aresponses, responses
from engine import anthropic  # engine.anthropic.messages.create / acreate (LiteLLM's name)
from engine.types import EmbeddingResponse, ImageResponse, ModelResponse, ModelResponseChunk, SpeechResponse

__version__ = "0.1.0"

vertex_project: str | None = None
vertex_location: str | None = None
vertex_credentials: Any = None
api_base: str | None = None
gemini_api_key: str | None = None
vertex_ai_safety_settings: list[dict[str, Any]] | None = None
drop_params: bool = False
num_retries: int | None = None
request_timeout: float | None = None
set_verbose: bool = False
emulator_url: str | None = None
callbacks: list[Any] = []  # ["otel"]: an OpenTelemetry span per call (see engine.telemetry)

# Each call gets a span when tracing is on (one truth test when it is off).
from engine import telemetry as _telemetry  # noqa: E402 - reads the settings above

completion = _telemetry.instrument("chat", completion)
acompletion = _telemetry.instrument("chat", acompletion)
text_completion = _telemetry.instrument("text_completion", text_completion)
atext_completion = _telemetry.instrument("text_completion", atext_completion)
embedding = _telemetry.instrument("embedding", embedding)
aembedding = _telemetry.instrument("embedding", aembedding)
image_generation = _telemetry.instrument("image_generation", image_generation)
aimage_generation = _telemetry.instrument("image_generation", aimage_generation)
speech = _telemetry.instrument("speech", speech)
aspeech = _telemetry.instrument("speech", aspeech)

__all__ = [
    "completion",
    "acompletion",
    "responses",
    "aresponses",
    "anthropic",
    "embedding",
    "aembedding",
    "image_generation",
    "aimage_generation",
    "speech",
    "aspeech",
    "text_completion",
    "atext_completion",
    "rerank",
    "arerank",
    "transcription",
    "atranscription",
    "token_counter",
    "atoken_counter",
    "create_file",
    "acreate_file",
    "retrieve_file",
    "aretrieve_file",
    "file_content",
    "afile_content",
    "delete_file",
    "adelete_file",
    "create_batch",
    "acreate_batch",
    "retrieve_batch",
    "aretrieve_batch",
    "list_batches",
    "alist_batches",
    "cancel_batch",
    "acancel_batch",
    "create_fine_tuning_job",
    "acreate_fine_tuning_job",
    "retrieve_fine_tuning_job",
    "aretrieve_fine_tuning_job",
    "list_fine_tuning_jobs",
    "alist_fine_tuning_jobs",
    "cancel_fine_tuning_job",
    "acancel_fine_tuning_job",
    "create_cached_content",
    "acreate_cached_content",
    "retrieve_cached_content",
    "aretrieve_cached_content",
    "list_cached_contents",
    "alist_cached_contents",
    "update_cached_content",
    "aupdate_cached_content",
    "delete_cached_content",
    "adelete_cached_content",
    "EmbeddingResponse",
    "ImageResponse",
    "SpeechResponse",
    "add_mappings",
    "get_registry",
    "ModelResponse",
    "ModelResponseChunk",
    "APIError",
    "APIConnectionError",
    "AuthenticationError",
    "BadRequestError",
    "ContentPolicyViolationError",
    "ContextWindowExceededError",
    "InternalServerError",
    "JSONSchemaValidationError",
    "MappingError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServiceUnavailableError",
    "Timeout",
    "UnprocessableEntityError",
    "UnsupportedParamsError",
]
