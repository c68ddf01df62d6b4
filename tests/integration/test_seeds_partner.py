"""Every Python snippet of the seed docs (shared/seeds/vertex_ai_provider.zh.txt) for the partner
and legacy families (Claude, Llama MaaS, Mistral, Codestral FIM, AI21 Jamba, Model Garden, PaLM),
run against the fake Google, plus every row of their model tables (non-streaming and streaming,
sync and async).

Snippets are as published with ``litellm`` renamed to ``engine``; edits needed to run are marked
``# SEED FIX:`` (placeholders such as "your-vertex-location" or "<your-endpoint-id>" get concrete
values; ``GOOGLE_APPLICATION_CREDENTIALS = ""`` points at a generated service-account file; a wrong
import or model prefix is corrected). After each snippet the upstream request and the result are
asserted. Proxy-only snippets (config.yaml, curl) are not Python API calls and are not here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ._gemini_support import mode  # noqa: F401  (mode is a fixture)
from ._partner_support import check_pair

SEED_PROJECT = "your-vertex-project"
SA_PROJECT = "seed-sa-project"


@pytest.fixture()
def sa_path(fake, tmp_path: Path) -> str:
    """A service-account file for the snippets that set GOOGLE_APPLICATION_CREDENTIALS; the
    environment they change is restored afterwards."""
    path = fake.write_service_account(tmp_path / "sa.json", project_id=SA_PROJECT)
    saved = dict(os.environ)
    yield str(path)
    os.environ.clear()
    os.environ.update(saved)


def test_seed_claude_usage(fake, sa_path):
    from engine import completion
    import os
    os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = sa_path  # SEED FIX: "" placeholder
    model = "claude-3-sonnet@20240229"
    vertex_ai_project = "your-vertex-project" # can also set this as os.environ["VERTEXAI_PROJECT"]
    vertex_ai_location = "us-east5" # can also set this as os.environ["VERTEXAI_LOCATION"]  # SEED FIX: "your-vertex-location" placeholder
    response = completion(
    model="vertex_ai/" + model,
    messages=[{"role": "user", "content": "hi"}],
    temperature=0.7,
    vertex_ai_project=vertex_ai_project,
    vertex_ai_location=vertex_ai_location,
    )
    print("\nModel Response", response)

    sent = fake.last(":rawPredict")
    assert sent.host == "us-east5-aiplatform.googleapis.com"
    assert sent.path == f"/v1/projects/{SEED_PROJECT}/locations/us-east5/publishers/anthropic/models/claude-3-sonnet@20240229:rawPredict"
    assert sent.json == {"anthropic_version": "vertex-2023-10-16", "max_tokens": 4096, "temperature": 0.7, "stream": False,
                         "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    assert response.choices[0].message.content.endswith("You said: hi")
    assert response._hidden_params["response_cost"] > 0


def test_seed_claude_thinking(fake):
    from engine import completion
    resp = completion(
    model="vertex_ai/claude-3-7-sonnet-20250219",
    messages=[{"role": "user", "content": "What is the capital of France?"}],
    thinking={"type": "enabled", "budget_tokens": 1024},
    )

    sent = fake.last(":rawPredict")
    assert sent.path == "/v1/projects/fake-project/locations/us-central1/publishers/anthropic/models/claude-3-7-sonnet-20250219:rawPredict"
    assert sent.json["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert sent.json["max_tokens"] == 5120
    # The shape of the seed's expected response.
    message = resp.choices[0].message
    assert resp.object == "chat.completion" and resp.choices[0].finish_reason == "stop"
    assert message.content and message.tool_calls is None and message.function_call is None
    assert message.reasoning_content == "Thinking about the request: What is the capital of France?"
    assert message.thinking_blocks == [{"type": "thinking", "thinking": message.reasoning_content, "signature": message.thinking_blocks[0]["signature"]}]
    assert message.provider_specific_fields == {"citations": None, "thinking_blocks": message.thinking_blocks}
    assert resp.usage.prompt_tokens_details.cached_tokens == 0
    assert resp.usage.cache_creation_input_tokens == 0 and resp.usage.cache_read_input_tokens == 0


def test_seed_llama_usage(fake, sa_path):
    from engine import completion
    import os
    os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = sa_path  # SEED FIX: "" placeholder
    model = "meta/llama3-405b-instruct-maas"
    vertex_ai_project = "your-vertex-project" # can also set this as os.environ["VERTEXAI_PROJECT"]
    vertex_ai_location = "us-east5" # can also set this as os.environ["VERTEXAI_LOCATION"]  # SEED FIX: "your-vertex-location" placeholder
    response = completion(
    model="vertex_ai/" + model,
    messages=[{"role": "user", "content": "hi"}],
    vertex_ai_project=vertex_ai_project,
    vertex_ai_location=vertex_ai_location,
    )
    print("\nModel Response", response)

    sent = fake.last("/chat/completions")
    assert sent.path == f"/v1/projects/{SEED_PROJECT}/locations/us-east5/endpoints/openapi/chat/completions"
    assert sent.json == {"model": "meta/llama3-405b-instruct-maas", "messages": [{"role": "user", "content": "hi"}], "stream": False}
    assert response.choices[0].message.content.endswith("You said: hi")


def test_seed_mistral_usage(fake, sa_path):
    from engine import completion
    import os
    os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = sa_path  # SEED FIX: "" placeholder
    model = "mistral-large@2407"
    vertex_ai_project = "your-vertex-project" # can also set this as os.environ["VERTEXAI_PROJECT"]
    vertex_ai_location = "europe-west4" # can also set this as os.environ["VERTEXAI_LOCATION"]  # SEED FIX: "your-vertex-location" placeholder
    response = completion(
    model="vertex_ai/" + model,
    messages=[{"role": "user", "content": "hi"}],
    vertex_ai_project=vertex_ai_project,
    vertex_ai_location=vertex_ai_location,
    )
    print("\nModel Response", response)

    sent = fake.last(":rawPredict")
    assert sent.path == f"/v1/projects/{SEED_PROJECT}/locations/europe-west4/publishers/mistralai/models/mistral-large@2407:rawPredict"
    assert sent.json == {"model": "mistral-large", "messages": [{"role": "user", "content": "hi"}], "stream": False}
    assert response.choices[0].message.content.endswith("You said: hi")


def test_seed_codestral_fim(fake, sa_path):
    from engine import text_completion  # SEED FIX: the snippet imports completion but calls text_completion
    import os
    os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = sa_path  # SEED FIX: the commented-out line, pointed at a key file
    # OR run `!gcloud auth print-access-token` in your terminal
    model = "codestral@2405"
    vertex_ai_project = "your-vertex-project" # can also set this as os.environ["VERTEXAI_PROJECT"]
    vertex_ai_location = "us-central1" # can also set this as os.environ["VERTEXAI_LOCATION"]  # SEED FIX: "your-vertex-location" placeholder
    response = text_completion(
    model="vertex_ai/" + model,
    vertex_ai_project=vertex_ai_project,
    vertex_ai_location=vertex_ai_location,
    prompt="def is_odd(n): \n return n % 2 == 1 \ndef test_is_odd():",
    suffix="return True", # optional
    temperature=0, # optional
    top_p=1, # optional
    max_tokens=10, # optional
    min_tokens=10, # optional
    seed=10, # optional
    stop=["return"], # optional
    )
    print("\nModel Response", response)

    sent = fake.last(":rawPredict")
    assert sent.path == f"/v1/projects/{SEED_PROJECT}/locations/us-central1/publishers/mistralai/models/codestral@2405:rawPredict"
    assert sent.json == {"model": "codestral", "prompt": "def is_odd(n): \n return n % 2 == 1 \ndef test_is_odd():",
                         "suffix": "return True", "temperature": 0, "top_p": 1, "max_tokens": 10, "min_tokens": 10,
                         "random_seed": 10, "stop": ["return"], "stream": False}
    assert response.object == "text_completion"
    assert response.choices[0].text and response.choices[0].finish_reason == "stop"


def test_seed_ai21_usage(fake, sa_path):
    from engine import completion
    import os
    os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = sa_path  # SEED FIX: "" placeholder
    model = "jamba-1.5-mini@001"  # SEED FIX: the snippet says "meta/jamba-1.5-mini@001"; Jamba is AI21's, as the table above it says
    vertex_ai_project = "your-vertex-project" # can also set this as os.environ["VERTEXAI_PROJECT"]
    vertex_ai_location = "us-central1" # can also set this as os.environ["VERTEXAI_LOCATION"]  # SEED FIX: "your-vertex-location" placeholder
    response = completion(
    model="vertex_ai/" + model,
    messages=[{"role": "user", "content": "hi"}],
    vertex_ai_project=vertex_ai_project,
    vertex_ai_location=vertex_ai_location,
    )
    print("\nModel Response", response)

    sent = fake.last(":rawPredict")
    assert sent.path == f"/v1beta1/projects/{SEED_PROJECT}/locations/us-central1/publishers/ai21/models/jamba-1.5-mini@001:rawPredict"
    assert sent.json == {"model": "jamba-1.5-mini@001", "messages": [{"role": "user", "content": "hi"}], "stream": False}
    assert response.choices[0].message.content.endswith("You said: hi")


def test_seed_model_garden_openai_compatible(fake, sa_path):
    from engine import completion
    import os
    ## set ENV variables
    os.environ["VERTEXAI_PROJECT"] = "hardy-device-38811"
    os.environ["VERTEXAI_LOCATION"] = "us-central1"
    response = completion(
    model="vertex_ai/openai/5464397967697903616",  # SEED FIX: placeholder <your-endpoint-id>
    messages=[{ "content": "Hello, how are you?","role": "user"}]
    )

    sent = fake.last("/chat/completions")
    assert sent.path == "/v1beta1/projects/hardy-device-38811/locations/us-central1/endpoints/5464397967697903616/chat/completions"
    assert sent.json == {"model": "", "messages": [{"content": "Hello, how are you?", "role": "user"}], "stream": False}
    assert response.choices[0].message.content.endswith("You said: Hello, how are you?")


def test_seed_model_garden_non_openai(fake, sa_path):
    from engine import completion
    import os
    ## set ENV variables
    os.environ["VERTEXAI_PROJECT"] = "hardy-device-38811"
    os.environ["VERTEXAI_LOCATION"] = "us-central1"
    response = completion(
    model="vertex_ai/5464397967697903616",  # SEED FIX: placeholder <your-endpoint-id>
    messages=[{ "content": "Hello, how are you?","role": "user"}]
    )

    sent = fake.last(":predict")
    assert sent.path == "/v1/projects/hardy-device-38811/locations/us-central1/endpoints/5464397967697903616:predict"
    assert sent.json == {"instances": [{"prompt": "Hello, how are you?"}]}
    assert response.choices[0].message.content == "Hello from endpoint 5464397967697903616."


# --- every row of the seeds' model tables for these families ---------------------------------

CLAUDE_TABLE = ["claude-3-opus@20240229", "claude-3-5-sonnet@20240620", "claude-3-sonnet@20240229",
                "claude-3-haiku@20240307", "claude-3-7-sonnet@20250219"]
LLAMA_TABLE = ["meta/llama-3.2-90b-vision-instruct-maas", "meta/llama3-8b-instruct-maas", "meta/llama3-70b-instruct-maas",
               "meta/llama3-405b-instruct-maas", "meta/llama-4-scout-17b-16e-instruct-maas",
               "meta/llama-4-scout-128b-16e-instruct-maas", "meta/llama-4-maverick-17b-128e-instruct-maas",
               "meta/llama-4-maverick-17b-16e-instruct-maas"]
MISTRAL_TABLE = ["mistral-large@latest", "mistral-large@2407", "mistral-nemo@latest", "codestral@latest", "codestral@2405"]
AI21_TABLE = ["jamba-1.5-mini@001", "jamba-1.5-large@001"]
PALM_TABLE = ["chat-bison-32k", "chat-bison", "chat-bison@001", "codechat-bison", "codechat-bison-32k", "codechat-bison@001",
              "text-bison", "text-bison@001"]
UPSTREAM = {"claude": (":rawPredict", ":streamRawPredict"), "meta/": ("/chat/completions", None),
            "mistral": (":rawPredict", ":streamRawPredict"), "codestral": (":rawPredict", ":streamRawPredict"),
            "jamba": (":rawPredict", ":streamRawPredict"), "bison": (":predict", None)}
ROWS = ([f"vertex_ai/{m}" for m in CLAUDE_TABLE + LLAMA_TABLE + MISTRAL_TABLE + AI21_TABLE] + PALM_TABLE)


@pytest.mark.anyio
@pytest.mark.parametrize("model", ROWS)
async def test_every_table_row_completes_and_streams(fake, mode, model):
    match, stream_match = next(v for k, v in UPSTREAM.items() if k in model)
    response, _ = await check_pair(fake, mode, model, match, stream_match, vertex_project="p1")
    assert response._hidden_params["catalog_key"] is not None  # a priced catalog entry
    assert response._hidden_params["response_cost"] is not None
