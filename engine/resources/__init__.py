"""Files, batches and fine-tuning on Vertex AI, in OpenAI's shapes (the Python API).

Each function takes the same settings as a model call (``vertex_project``, ``vertex_location``,
``vertex_credentials``; module settings and ``VERTEXAI_*`` variables) plus, for files,
``bucket_name`` (else ``GCS_BUCKET_NAME``) and ``gcs_credentials`` (else
``GCS_PATH_SERVICE_ACCOUNT``, else the Vertex credentials). Every function has an ``a``-prefixed
async twin.
"""

from __future__ import annotations

from typing import Any

from engine.errors import BadRequestError
from engine.google_rest import Progress
from engine.types import OpenAIObject

from .batches import cancel_batch_op, create_batch_op, list_batches_op, retrieve_batch_op
from .caching import (
    cache_control_op,
    create_cache_op,
    delete_cache_op,
    forget_cache,
    list_caches_op,
    retrieve_cache_op,
    update_cache_op,
    wants_cache,
)
from .driver import Op, arun, run
from .listing import Keep
from .files import create_file_op, delete_file_op, file_content_op, retrieve_file_op
from .fine_tuning import (
    cancel_fine_tuning_job_op,
    create_fine_tuning_job_op,
    list_fine_tuning_jobs_op,
    retrieve_fine_tuning_job_op,
)

__all__ = [
    "create_file", "acreate_file", "retrieve_file", "aretrieve_file", "file_content", "afile_content",
    "delete_file", "adelete_file",
    "create_batch", "acreate_batch", "retrieve_batch", "aretrieve_batch", "list_batches", "alist_batches",
    "cancel_batch", "acancel_batch",
    "create_fine_tuning_job", "acreate_fine_tuning_job", "retrieve_fine_tuning_job", "aretrieve_fine_tuning_job",
    "list_fine_tuning_jobs", "alist_fine_tuning_jobs", "cancel_fine_tuning_job", "acancel_fine_tuning_job",
    "create_cached_content", "acreate_cached_content", "retrieve_cached_content", "aretrieve_cached_content",
    "list_cached_contents", "alist_cached_contents", "update_cached_content", "aupdate_cached_content",
    "delete_cached_content", "adelete_cached_content", "apply_cache_control", "aapply_cache_control",
    "forget_cache",
]

_PROVIDERS = (None, "", "vertex_ai", "vertex_ai_beta")


def _call(kwargs: dict[str, Any]) -> dict[str, Any]:
    provider = kwargs.get("custom_llm_provider")
    if provider not in _PROVIDERS:
        raise BadRequestError(
            f"custom_llm_provider: files, batches and fine-tuning run on vertex_ai here, got {provider!r}",
            param="custom_llm_provider",
        )
    extra = kwargs.get("extra_body")
    if isinstance(extra, dict):  # openai-client spelling of provider settings
        kwargs = {**extra, **{k: v for k, v in kwargs.items() if k != "extra_body"}}
    return kwargs


def _obj(value: dict[str, Any]) -> OpenAIObject:
    return OpenAIObject(value)


# --- files ------------------------------------------------------------------------------------------


def _create_file(file: Any, purpose: str, progress: Progress | None, kwargs: dict[str, Any]) -> Op[dict[str, Any]]:
    return create_file_op(file, purpose, _call(kwargs), progress)


def create_file(file: Any, purpose: str = "batch", *, progress: Progress | None = None, **kwargs: Any) -> OpenAIObject:
    """Upload ``file`` (bytes, a path or a binary file) to Cloud Storage; the id is its ``gs://`` URI.

    ``purpose="batch"``: an OpenAI batch JSONL, converted to Vertex batch input (a bad line is a
    ``BadRequestError`` naming it; ``model=`` replaces every line's model). Other purposes are
    stored as is, named ``filename=`` or the file's name. ``progress(sent, total)`` is called as
    the upload proceeds.
    """
    return _obj(run(_create_file(file, purpose, progress, kwargs)))


async def acreate_file(file: Any, purpose: str = "batch", *, progress: Progress | None = None, **kwargs: Any) -> OpenAIObject:
    """Async :func:`create_file`."""
    return _obj(await arun(_create_file(file, purpose, progress, kwargs)))


def retrieve_file(file_id: str, **kwargs: Any) -> OpenAIObject:
    """The FileObject of a ``gs://`` file."""
    return _obj(run(retrieve_file_op(file_id, _call(kwargs))))


async def aretrieve_file(file_id: str, **kwargs: Any) -> OpenAIObject:
    """Async :func:`retrieve_file`."""
    return _obj(await arun(retrieve_file_op(file_id, _call(kwargs))))


def file_content(file_id: str, **kwargs: Any) -> bytes:
    """A file's bytes; a batch's ``output_file_id`` gives OpenAI batch output JSONL in input order."""
    return run(file_content_op(file_id, _call(kwargs)))


async def afile_content(file_id: str, **kwargs: Any) -> bytes:
    """Async :func:`file_content`."""
    return await arun(file_content_op(file_id, _call(kwargs)))


def delete_file(file_id: str, **kwargs: Any) -> OpenAIObject:
    """Delete a ``gs://`` file (and the custom-id table of a batch input)."""
    return _obj(run(delete_file_op(file_id, _call(kwargs))))


async def adelete_file(file_id: str, **kwargs: Any) -> OpenAIObject:
    """Async :func:`delete_file`."""
    return _obj(await arun(delete_file_op(file_id, _call(kwargs))))


# --- batches ----------------------------------------------------------------------------------------


def create_batch(input_file_id: str, endpoint: str | None = "/v1/chat/completions", completion_window: str = "24h",
                 **kwargs: Any) -> OpenAIObject:
    """Start a Vertex batch prediction job over a file from :func:`create_file` (purpose batch)."""
    kwargs.pop("metadata", None)  # Vertex has nowhere to keep it
    return _obj(run(create_batch_op(input_file_id, _call(kwargs), endpoint)))


async def acreate_batch(input_file_id: str, endpoint: str | None = "/v1/chat/completions", completion_window: str = "24h",
                        **kwargs: Any) -> OpenAIObject:
    """Async :func:`create_batch`."""
    kwargs.pop("metadata", None)
    return _obj(await arun(create_batch_op(input_file_id, _call(kwargs), endpoint)))


def retrieve_batch(batch_id: str, **kwargs: Any) -> OpenAIObject:
    """The batch now: status, request counts, ``output_file_id`` (for :func:`file_content`)."""
    return _obj(run(retrieve_batch_op(batch_id, _call(kwargs))))


async def aretrieve_batch(batch_id: str, **kwargs: Any) -> OpenAIObject:
    """Async :func:`retrieve_batch`."""
    return _obj(await arun(retrieve_batch_op(batch_id, _call(kwargs))))


def list_batches(after: str | None = None, limit: int | None = None, *, keep: Keep | None = None,
                 **kwargs: Any) -> OpenAIObject:
    """Batches of the project/location, newest first; ``keep(batch)`` (when given) picks those listed
    and counted toward ``limit``."""
    return _obj(run(list_batches_op(_call(kwargs), after, limit, keep)))


async def alist_batches(after: str | None = None, limit: int | None = None, *, keep: Keep | None = None,
                       **kwargs: Any) -> OpenAIObject:
    """Async :func:`list_batches`."""
    return _obj(await arun(list_batches_op(_call(kwargs), after, limit, keep)))


def cancel_batch(batch_id: str, **kwargs: Any) -> OpenAIObject:
    """Ask Vertex to cancel a batch; answers the batch (usually ``cancelling``)."""
    return _obj(run(cancel_batch_op(batch_id, _call(kwargs))))


async def acancel_batch(batch_id: str, **kwargs: Any) -> OpenAIObject:
    """Async :func:`cancel_batch`."""
    return _obj(await arun(cancel_batch_op(batch_id, _call(kwargs))))


# --- fine-tuning ------------------------------------------------------------------------------------

_TUNING_ARGS = ("hyperparameters", "suffix", "validation_file")


def _tuning_args(model: Any, training_file: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    for ignored in ("seed", "integrations", "method", "metadata"):
        kwargs.pop(ignored, None)
    return {"model": model, "training_file": training_file, **{k: kwargs.pop(k) for k in _TUNING_ARGS if k in kwargs}}


def create_fine_tuning_job(model: str, training_file: str, **kwargs: Any) -> OpenAIObject:
    """Start supervised tuning of a Gemini model (``hyperparameters``: ``n_epochs``,
    ``learning_rate_multiplier``, ``adapter_size``); ``suffix`` names the tuned model."""
    arguments = _tuning_args(model, training_file, kwargs)
    return _obj(run(create_fine_tuning_job_op(_call(kwargs), **arguments)))


async def acreate_fine_tuning_job(model: str, training_file: str, **kwargs: Any) -> OpenAIObject:
    """Async :func:`create_fine_tuning_job`."""
    arguments = _tuning_args(model, training_file, kwargs)
    return _obj(await arun(create_fine_tuning_job_op(_call(kwargs), **arguments)))


def retrieve_fine_tuning_job(fine_tuning_job_id: str, **kwargs: Any) -> OpenAIObject:
    """The job now; once ``succeeded``, ``fine_tuned_model`` is a model string for :func:`engine.completion`."""
    return _obj(run(retrieve_fine_tuning_job_op(fine_tuning_job_id, _call(kwargs))))


async def aretrieve_fine_tuning_job(fine_tuning_job_id: str, **kwargs: Any) -> OpenAIObject:
    """Async :func:`retrieve_fine_tuning_job`."""
    return _obj(await arun(retrieve_fine_tuning_job_op(fine_tuning_job_id, _call(kwargs))))


def list_fine_tuning_jobs(after: str | None = None, limit: int | None = None, *, keep: Keep | None = None,
                          **kwargs: Any) -> OpenAIObject:
    """Tuning jobs of the project/location, newest first; ``keep(job)`` (when given) picks those
    listed and counted toward ``limit``."""
    return _obj(run(list_fine_tuning_jobs_op(_call(kwargs), after, limit, keep)))


async def alist_fine_tuning_jobs(after: str | None = None, limit: int | None = None, *, keep: Keep | None = None,
                                **kwargs: Any) -> OpenAIObject:
    """Async :func:`list_fine_tuning_jobs`."""
    return _obj(await arun(list_fine_tuning_jobs_op(_call(kwargs), after, limit, keep)))


def cancel_fine_tuning_job(fine_tuning_job_id: str, **kwargs: Any) -> OpenAIObject:
    """Ask Vertex to cancel a tuning job; answers the job as it is then."""
    return _obj(run(cancel_fine_tuning_job_op(fine_tuning_job_id, _call(kwargs))))


async def acancel_fine_tuning_job(fine_tuning_job_id: str, **kwargs: Any) -> OpenAIObject:
    """Async :func:`cancel_fine_tuning_job`."""
    return _obj(await arun(cancel_fine_tuning_job_op(fine_tuning_job_id, _call(kwargs))))


# --- context caching ---------------------------------------------------------------------------------


def create_cached_content(model: str, messages: list[dict[str, Any]], *, ttl: Any = None, display_name: str | None = None,
                          **kwargs: Any) -> OpenAIObject:
    """Create a Gemini cache holding ``messages`` (and ``tools``); pass its ``name`` as
    ``cached_content=`` to later calls. ``model`` routes as for a chat call (``vertex_ai/…``: Vertex,
    ``gemini/…``: AI Studio); ``ttl`` like ``"3600s"``."""
    return _obj(run(create_cache_op(model, messages, kwargs, ttl, display_name)))


async def acreate_cached_content(model: str, messages: list[dict[str, Any]], *, ttl: Any = None,
                                 display_name: str | None = None, **kwargs: Any) -> OpenAIObject:
    """Async :func:`create_cached_content`."""
    return _obj(await arun(create_cache_op(model, messages, kwargs, ttl, display_name)))


def retrieve_cached_content(name: str, **kwargs: Any) -> OpenAIObject:
    """A cache by name (``projects/…/cachedContents/…`` on Vertex, ``cachedContents/…`` on AI Studio)."""
    return _obj(run(retrieve_cache_op(name, kwargs)))


async def aretrieve_cached_content(name: str, **kwargs: Any) -> OpenAIObject:
    """Async :func:`retrieve_cached_content`."""
    return _obj(await arun(retrieve_cache_op(name, kwargs)))


def list_cached_contents(model: str, **kwargs: Any) -> OpenAIObject:
    """The caches where ``model`` would cache (its project/location, or its AI Studio key)."""
    return _obj(run(list_caches_op(model, kwargs)))


async def alist_cached_contents(model: str, **kwargs: Any) -> OpenAIObject:
    """Async :func:`list_cached_contents`."""
    return _obj(await arun(list_caches_op(model, kwargs)))


def update_cached_content(name: str, *, ttl: Any = None, expire_time: str | None = None, **kwargs: Any) -> OpenAIObject:
    """Extend or shorten a cache's life."""
    return _obj(run(update_cache_op(name, kwargs, ttl, expire_time)))


async def aupdate_cached_content(name: str, *, ttl: Any = None, expire_time: str | None = None, **kwargs: Any) -> OpenAIObject:
    """Async :func:`update_cached_content`."""
    return _obj(await arun(update_cache_op(name, kwargs, ttl, expire_time)))


def delete_cached_content(name: str, **kwargs: Any) -> OpenAIObject:
    """Delete a cache."""
    return _obj(run(delete_cache_op(name, kwargs)))


async def adelete_cached_content(name: str, **kwargs: Any) -> OpenAIObject:
    """Async :func:`delete_cached_content`."""
    return _obj(await arun(delete_cache_op(name, kwargs)))


def apply_cache_control(call: dict[str, Any]) -> dict[str, Any]:
    """A chat call's kwargs with its ``cache_control`` prefix moved into a Gemini cache (created
    or reused); unchanged for other models or prefixes too small to cache."""
    return run(cache_control_op(call)) if wants_cache(call) else call


async def aapply_cache_control(call: dict[str, Any]) -> dict[str, Any]:
    """Async :func:`apply_cache_control`."""
    return await arun(cache_control_op(call)) if wants_cache(call) else call
