"""Model Garden's ``GetPublisherModel``: ``GET /v1/publishers/{publisher}/models/{model}``.

The Vertex SDK's ``*Model.from_pretrained`` (``MultiModalEmbeddingModel``, ``TextEmbeddingModel``,
``ImageGenerationModel``, ``TextGenerationModel``...) reads this first: the instance schema URI
says which SDK class may load the model, and ``publisherModelTemplate`` is the resource its
``:predict`` calls go to.
"""

from __future__ import annotations

from .reply import Reply

__all__ = ["publisher_model", "INSTANCE_SCHEMAS"]

_SCHEMA = "gs://google-cloud-aiplatform/schema/predict/instance/{}.yaml"

# Model id prefix -> the instance schema Google publishes for that family (first match wins).
INSTANCE_SCHEMAS: tuple[tuple[str, str], ...] = (
    ("multimodalembedding", "vision_embedding_model_1.0.0"),
    ("imagen-", "vision_generative_model_1.0.0"),
    ("imagegeneration", "vision_generative_model_1.0.0"),
    ("textembedding-", "text_embedding_1.0.0"),
    ("text-embedding-", "text_embedding_1.0.0"),
    ("text-multilingual-embedding-", "text_embedding_1.0.0"),
    ("gemini-embedding-", "text_embedding_1.0.0"),
    ("text-bison", "text_generation_1.0.0"),
    ("text-unicorn", "text_generation_1.0.0"),
    ("chat-bison", "chat_generation_1.0.0"),
    ("codechat-bison", "codechat_generation_1.0.0"),
    ("code-bison", "code_generation_1.0.0"),
    ("code-gecko", "code_generation_1.0.0"),
)
_DEFAULT_VERSION = "001"


def publisher_model(publisher: str, model: str) -> Reply:
    """The PublisherModel resource of ``publishers/{publisher}/models/{model}`` (``model`` may
    carry ``@version``)."""
    model_id, _, version = model.partition("@")
    schema = next((name for prefix, name in INSTANCE_SCHEMAS if model_id.startswith(prefix)), None)
    body = {
        "name": f"publishers/{publisher}/models/{model_id}",
        "versionId": version or _DEFAULT_VERSION,
        "openSourceCategory": "PROPRIETARY" if publisher == "google" else "THIRD_PARTY_OWNED_OSS",
        "launchStage": "GA",
        # The SDK's :predict calls go here: the model as asked for, with its @version if it had one.
        "publisherModelTemplate": f"projects/{{user-project}}/locations/{{location}}/publishers/{publisher}/models/{model}",
    }
    if schema is not None:
        body["predictSchemata"] = {"instanceSchemaUri": _SCHEMA.format(schema)}
    return Reply(body=body)
