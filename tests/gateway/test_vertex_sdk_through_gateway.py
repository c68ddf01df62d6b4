"""The official Vertex AI SDK (google-cloud-aiplatform) pointed at ``/vertex-ai``: the seeds'
"Vertex SDK through the proxy" snippet as written (only the proxy URL and key changed), plus the
other SDK model classes a user would load the same way. It runs in a child process: the SDK keeps
global state (``vertexai.init``) that must not leak into other tests."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from .passthrough_helpers import generate_key

# The seed's code, verbatim but for LITELLM_PROXY_API_KEY / LITELLM_PROXY_BASE (filled in below).
SEED_SNIPPET = '''
import vertexai
from vertexai.vision_models import Image, MultiModalEmbeddingModel, Video
from vertexai.vision_models import VideoSegmentConfig
from google.auth.credentials import Credentials
LITELLM_PROXY_API_KEY = {key!r}
LITELLM_PROXY_BASE = {base!r}
import datetime
class CredentialsWrapper(Credentials):
    def __init__(self, token=None):
        super().__init__()
        self.token = token
        self.expiry = None # or set to a future date if needed
    def refresh(self, request):
        pass
    def apply(self, headers, token=None):
        headers['Authorization'] = f'Bearer {{self.token}}'
    @property
    def expired(self):
        return False # Always consider the token as non-expired
    @property
    def valid(self):
        return True # Always consider the credentials as valid
credentials = CredentialsWrapper(token=LITELLM_PROXY_API_KEY)
vertexai.init(
    project="adroit-crow-413218",
    location="us-central1",
    api_endpoint=LITELLM_PROXY_BASE,
    credentials = credentials,
    api_transport="rest",
)
model = MultiModalEmbeddingModel.from_pretrained("multimodalembedding")
image = Image.load_from_file(
    "gs://cloud-samples-data/vertex-ai/llm/prompts/landmark1.png"
)
embeddings = model.get_embeddings(
    image=image,
    contextual_text="Colosseum",
    dimension=1408,
)
print(f"Image Embedding: {{embeddings.image_embedding}}")
print(f"Text Embedding: {{embeddings.text_embedding}}")
'''

MORE = '''
import json
from vertexai.language_models import TextEmbeddingModel
from vertexai.preview.vision_models import ImageGenerationModel
from vertexai.generative_models import GenerativeModel
text = TextEmbeddingModel.from_pretrained("text-embedding-004").get_embeddings(["hello world"], output_dimensionality=256)
images = ImageGenerationModel.from_pretrained("imagen-3.0-generate-001").generate_images(prompt="a cat", number_of_images=2)
gemini = GenerativeModel("gemini-2.5-flash")
print("RESULT " + json.dumps({
    "image_embedding": len(embeddings.image_embedding), "text_embedding": len(embeddings.text_embedding),
    "text_values": len(text[0].values), "images": len(images.images),
    "tokens": gemini.count_tokens("hello there").total_tokens,
    "answer": gemini.generate_content("what llm are you").text,
    "streamed": "".join(chunk.text for chunk in gemini.generate_content("count to three", stream=True)),
}))
'''


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_the_seeds_vertex_sdk_snippet_and_more_sdk_models_with_a_virtual_key(start_gateway, fake, sa_file):
    gw = start_gateway({"model_list": [], "default_vertex_config": {
        "vertex_project": "adroit-crow-413218", "vertex_location": "us-central1", "vertex_credentials": sa_file}})
    key = generate_key(gw, models=["multimodalembedding", "text-embedding-004", "imagen-3.0-generate-001", "gemini-2.5-flash"])
    done = _run(textwrap.dedent(SEED_SNIPPET).format(key=key, base=gw.url + "/vertex-ai") + MORE)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("Image Embedding: [")
    result = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))[7:])
    assert result["image_embedding"] == result["text_embedding"] == 1408 and result["text_values"] == 256
    assert result["images"] == 2 and result["tokens"] > 0
    assert "what llm are you" in result["answer"] and "count to three" in result["streamed"]
    predict = fake.last("multimodalembedding")
    assert predict.project == "adroit-crow-413218" and predict.headers["authorization"] != f"Bearer {key}"
    assert key not in done.stdout + done.stderr


def test_a_key_without_the_model_is_refused_by_the_sdk_call(start_gateway, fake, sa_file):
    gw = start_gateway({"model_list": [], "default_vertex_config": {
        "vertex_project": "adroit-crow-413218", "vertex_location": "us-central1", "vertex_credentials": sa_file}})
    key = generate_key(gw, models=["gemini-2.5-flash"])
    done = _run(textwrap.dedent(SEED_SNIPPET).format(key=key, base=gw.url + "/vertex-ai"))
    assert done.returncode != 0
    assert "403" in done.stderr and "may not call model 'multimodalembedding" in done.stderr
    assert not fake.calls(":predict")
