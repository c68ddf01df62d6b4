"""Every Python snippet of the seed docs (LiteLLM's Vertex AI page, Chinese edition:
shared/seeds/vertex_ai_provider.zh.txt) that calls a Gemini model, run against the fake Google.

Each test holds the snippet as published with ``litellm`` renamed to ``engine``; the only edits
are the ones it needs to run, each marked ``# SEED FIX:``:

* syntax slips (missing comma, ``true``, unterminated strings, a stray ``)``, ``"audio_input {``);
* names used but never imported/assigned (``json``, ``litellm``, ``messages``, ``response_schema``);
* the result of ``completion(...)`` read as ``completion.choices`` (the function, not the response);
* placeholders that cannot run (credential paths point at generated service-account files, written
  where the snippet looks for them; ``".."`` env values get concrete ones);
* ``requests.get(url)`` of a real URL replaced by local bytes.

After each snippet the test asserts the exact upstream request the fake recorded and the
OpenAI-shaped result. Proxy-only snippets (config.yaml, curl, the OpenAI SDK against the LiteLLM
proxy, batches, fine-tuning jobs) are not Python API calls and are not here.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

import engine
from engine.emulator import FakeGoogle

from ._gemini_support import candidate, gemini_response, text_response, usage, vertex_path

SEED_SA_PROJECT = "seed-sa-project"
VERTEX = "us-central1-aiplatform.googleapis.com"
CALL_ID = re.compile(r"^call_[0-9a-f]{28}$")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00 fake jpeg bytes \xff\xd9"
PDF_BYTES = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture()
def seed_dir(fake: FakeGoogle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding what the snippets open (the service-account file at
    ``path/to/vertex_ai_service_account.json``, ``cached_logo.jpg``); environment variables the
    snippets set with ``os.environ[...] = ...`` are undone after the test."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "path" / "to").mkdir(parents=True)
    fake.write_service_account(tmp_path / "path" / "to" / "vertex_ai_service_account.json", project_id=SEED_SA_PROJECT)
    (tmp_path / "cached_logo.jpg").write_bytes(JPEG)
    saved = dict(os.environ)
    yield tmp_path
    os.environ.clear()
    os.environ.update(saved)


def _user(text):
    return {"role": "user", "parts": [{"text": text}]}


# --- vertex_ai/ route ------------------------------------------------------------------------


def test_seed_vertex_ai_route_with_credentials_json_string(fake, seed_dir, capsys):
    from engine import completion
    import json
    ## GET CREDENTIALS
    ## RUN ##
    # !gcloud auth application-default login - run this to add vertex credentials to your env
    ## OR ##
    file_path = 'path/to/vertex_ai_service_account.json'
    # Load the JSON file
    with open(file_path, 'r') as file:
        vertex_credentials = json.load(file)
    # Convert to JSON string
    vertex_credentials_json = json.dumps(vertex_credentials)
    ## COMPLETION CALL
    response = completion(
        model="vertex_ai/gemini-pro",
        messages=[{ "content": "Hello, how are you?","role": "user"}],
        vertex_credentials=vertex_credentials_json
    )

    sent = fake.last(":generateContent")
    assert sent.host == VERTEX
    assert sent.path == vertex_path("gemini-pro", project=SEED_SA_PROJECT)  # project from the credentials
    assert sent.json == {"contents": [_user("Hello, how are you?")]}
    assert sent.bearer and fake.last("/token").form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert response.object == "chat.completion"
    assert response.model == "gemini-pro"
    assert response.choices[0].message.role == "assistant"
    assert response.choices[0].message.content.endswith("You said: Hello, how are you?")
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens


def test_seed_system_message(fake, seed_dir):
    from engine import completion
    import json
    ## GET CREDENTIALS
    file_path = 'path/to/vertex_ai_service_account.json'
    # Load the JSON file
    with open(file_path, 'r') as file:
        vertex_credentials = json.load(file)
    # Convert to JSON string
    vertex_credentials_json = json.dumps(vertex_credentials)
    response = completion(
        model="vertex_ai/gemini-pro",
        messages=[{"content": "You are a good bot.","role": "system"}, {"content": "Hello, how are you?","role": "user"}],
        vertex_credentials=vertex_credentials_json
    )

    sent = fake.last(":generateContent")
    assert sent.path == vertex_path("gemini-pro", project=SEED_SA_PROJECT)
    assert sent.json == {
        "contents": [_user("Hello, how are you?")],
        "systemInstruction": {"parts": [{"text": "You are a good bot."}]},
    }
    assert response.choices[0].message.content.endswith("You said: Hello, how are you?")


def test_seed_function_calling_tool_choice_required(fake, seed_dir, capsys):
    from engine import completion
    import json
    ## GET CREDENTIALS
    file_path = 'path/to/vertex_ai_service_account.json'
    # Load the JSON file
    with open(file_path, 'r') as file:
        vertex_credentials = json.load(file)
    # Convert to JSON string
    vertex_credentials_json = json.dumps(vertex_credentials)
    messages = [
        {
            "role": "system",
            "content": "Your name is Litellm Bot, you are a helpful assistant",
        },
        # User asks for their name and weather in San Francisco
        {
            "role": "user",
            "content": "Hello, what is your name and can you tell me the weather?",
        },
    ]
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Get the current weather in a given location",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "location": {
                            "type": "string",
                            "description": "The city and state, e.g. San Francisco, CA",
                        }
                    },
                    "required": ["location"],
                },
            },
        }
    ]
    data = {
        "model": "vertex_ai/gemini-1.5-pro-preview-0514",  # SEED FIX: stray ")" after the string
        "messages": messages,
        "tools": tools,
        "tool_choice": "required",
        "vertex_credentials": vertex_credentials_json
    }
    ## COMPLETION CALL
    print(completion(**data))

    sent = fake.last(":generateContent")
    assert sent.path == vertex_path("gemini-1.5-pro-preview-0514", project=SEED_SA_PROJECT)
    assert sent.json == {
        "contents": [_user("Hello, what is your name and can you tell me the weather?")],
        "systemInstruction": {"parts": [{"text": "Your name is Litellm Bot, you are a helpful assistant"}]},
        "tools": [{"functionDeclarations": [{
            "name": "get_weather",
            "description": "Get the current weather in a given location",
            "parameters": {"type": "object", "properties": {"location": {
                "type": "string", "description": "The city and state, e.g. San Francisco, CA"}}, "required": ["location"]},
        }]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
    }
    printed = capsys.readouterr().out
    assert "'finish_reason': 'tool_calls'" in printed and "'name': 'get_weather'" in printed
    # The same call once more, looking at the result object.
    response = completion(**data)
    call = response.choices[0].message.tool_calls[0]
    assert response.choices[0].finish_reason == "tool_calls"
    assert CALL_ID.match(call.id) and call.type == "function" and call.index == 0
    assert call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments)["location"], str)


# --- JSON schema ---------------------------------------------------------------------------------

RECIPE_SCHEMA_SENT = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"recipe_name": {"type": "string"}},
        "required": ["recipe_name"],
        "propertyOrdering": ["recipe_name"],
    },
}


def test_seed_response_schema(fake, seed_dir, capsys):
    from engine import completion
    import json
    ## SETUP ENVIRONMENT
    # !gcloud auth application-default login - run this to add vertex credentials to your env
    messages = [
        {
            "role": "user",
            "content": "List 5 popular cookie recipes."
        }
    ]
    response_schema = {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "recipe_name": {
                    "type": "string",
                },
            },
            "required": ["recipe_name"],
        },
    }
    completion = completion(  # SEED FIX: the snippet reads `completion.choices` below; keep the result under that name
        model="vertex_ai/gemini-1.5-pro",
        messages=messages,
        response_format={"type": "json_object", "response_schema": response_schema} # 👈 KEY CHANGE
    )
    print(json.loads(completion.choices[0].message.content))

    sent = fake.last(":generateContent")
    assert sent.path == vertex_path("gemini-1.5-pro")  # ADC: GOOGLE_APPLICATION_CREDENTIALS' project
    assert sent.json == {
        "contents": [_user("List 5 popular cookie recipes.")],
        "generationConfig": {"responseMimeType": "application/json", "responseSchema": RECIPE_SCHEMA_SENT},
    }
    recipes = json.loads(completion.choices[0].message.content)  # the fake samples an answer from the schema
    assert isinstance(recipes, list) and recipes and all(isinstance(r["recipe_name"], str) for r in recipes)
    assert capsys.readouterr().out.startswith("[{'recipe_name': ")


def test_seed_enforce_validation(fake, seed_dir, capsys):
    # SEED FIX: the snippet uses `messages` and `response_schema` from the previous snippet.
    messages = [{"role": "user", "content": "List 5 popular cookie recipes."}]
    response_schema = {"type": "array", "items": {"type": "object", "properties": {"recipe_name": {"type": "string"}},
                                                  "required": ["recipe_name"]}}
    fake.script(":generateContent", json=text_response('[{"name": "Chocolate chip"}]'))

    with pytest.raises(engine.JSONSchemaValidationError) as caught:
        from engine import completion, JSONSchemaValidationError
        try:
            completion(
                model="vertex_ai/gemini-1.5-pro",
                messages=messages,
                response_format={
                    "type": "json_object",
                    "response_schema": response_schema,
                    "enforce_validation": True # 👈 KEY CHANGE  # SEED FIX: `true`
                }
            )
        except JSONSchemaValidationError as e:
            print("Raw Response: {}".format(e.raw_response))
            raise e

    assert caught.value.raw_response == '[{"name": "Chocolate chip"}]'
    assert capsys.readouterr().out == 'Raw Response: [{"name": "Chocolate chip"}]\n'
    body = fake.last(":generateContent").json
    assert body["generationConfig"] == {"responseMimeType": "application/json", "responseSchema": RECIPE_SCHEMA_SENT}
    assert "enforce_validation" not in json.dumps(body)


def test_seed_json_schema_validation_error_is_an_openai_api_error(fake):
    # Seed: "JSONSchemaValidationError 继承自 openai.APIError" (openai is installed with the test extra).
    import openai

    assert issubclass(engine.JSONSchemaValidationError, openai.APIError)
    fake.script(":generateContent", json=text_response("[1]"))
    with pytest.raises(openai.APIError) as caught:
        engine.completion(model="vertex_ai/gemini-1.5-pro", messages=[{"role": "user", "content": "x"}],
                          response_format={"type": "json_object", "enforce_validation": True,
                                           "response_schema": {"type": "array", "items": {"type": "string"}}})
    assert caught.value.raw_response == "[1]"


def test_seed_add_schema_to_prompt_yourself(fake, seed_dir):
    from engine import completion
    import json  # SEED FIX: the snippet uses json without importing it
    ## GET CREDENTIALS
    file_path = 'path/to/vertex_ai_service_account.json'
    # Load the JSON file
    with open(file_path, 'r') as file:
        vertex_credentials = json.load(file)
    # Convert to JSON string
    vertex_credentials_json = json.dumps(vertex_credentials)
    messages = [
        {
            "role": "user",
            "content": """
List 5 popular cookie recipes.
Using this JSON schema:
Recipe = {"recipe_name": str}
Return a `list[Recipe]`
"""
        }
    ]
    response = completion(model="vertex_ai/gemini-1.5-flash-preview-0514", messages=messages, response_format={ "type": "json_object" })

    sent = fake.last(":generateContent")
    assert sent.path == vertex_path("gemini-1.5-flash-preview-0514")  # the snippet never passes its credentials
    assert sent.json == {
        "contents": [_user(messages[0]["content"])],
        "generationConfig": {"responseMimeType": "application/json"},
    }
    assert json.loads(response.choices[0].message.content) == {}  # the fake's JSON-mode answer without a schema


# --- grounding -----------------------------------------------------------------------------------

GROUNDING = {
    "webSearchQueries": ["who won the world cup"],
    "groundingChunks": [{"web": {"uri": "https://vertexaisearch.cloud.google.com/grounding/1", "title": "fifa.com"}}],
    "groundingSupports": [{"segment": {"endIndex": 35, "text": "Argentina won the 2022 FIFA World Cup"},
                           "groundingChunkIndices": [0], "confidenceScores": [0.97]}],
    "retrievalMetadata": {},
    "searchEntryPoint": {"renderedContent": "<style>...</style><div>...</div>"},
}
GROUNDED = gemini_response(candidate([{"text": "Argentina won the 2022 FIFA World Cup."}], groundingMetadata=GROUNDING),
                           usage_metadata=usage(7, 9))


def _assert_grounded(fake, resp, tool, project="fake-project"):
    sent = fake.last(":generateContent")
    assert sent.path == vertex_path("gemini-1.0-pro-001", project=project)
    assert sent.json == {"contents": [_user("Who won the world cup?")], "tools": [tool]}
    assert resp._hidden_params["vertex_ai_grounding_metadata"] == [GROUNDING]
    assert resp.choices[0].message.content == "Argentina won the 2022 FIFA World Cup."
    assert resp.choices[0].message.annotations[0].url_citation.url == "https://vertexaisearch.cloud.google.com/grounding/1"
    assert resp.choices[0].finish_reason == "stop"


def test_seed_grounding_google_search(fake, seed_dir):
    fake.script(":generateContent", json=GROUNDED)
    import engine  # SEED FIX: the snippet calls litellm.completion after `from litellm import completion`
    from engine import completion
    ## SETUP ENVIRONMENT
    # !gcloud auth application-default login - run this to add vertex credentials to your env
    tools = [{"googleSearch": {}}] # 👈 ADD GOOGLE SEARCH
    resp = engine.completion(
        model="vertex_ai/gemini-1.0-pro-001",
        messages=[{"role": "user", "content": "Who won the world cup?"}],
        tools=tools,
    )
    print(resp)

    _assert_grounded(fake, resp, {"googleSearch": {}})


def test_seed_grounding_enterprise_web_search(fake, seed_dir):
    fake.script(":generateContent", json=GROUNDED)
    import engine  # SEED FIX: litellm was never imported
    from engine import completion
    ## SETUP ENVIRONMENT
    # !gcloud auth application-default login - run this to add vertex credentials to your env
    tools = [{"enterpriseWebSearch": {}}] # 👈 ADD GOOGLE ENTERPRISE SEARCH
    resp = engine.completion(
        model="vertex_ai/gemini-1.0-pro-001",
        messages=[{"role": "user", "content": "Who won the world cup?"}],
        tools=tools,
    )
    print(resp)

    _assert_grounded(fake, resp, {"enterpriseWebSearch": {}})


def test_seed_grounding_migrated_from_the_vertex_sdk(fake, seed_dir):
    fake.script(":generateContent", json=GROUNDED)
    import engine  # SEED FIX: litellm was never imported
    from engine import completion
    # !gcloud auth application-default login - run this to add vertex credentials to your env
    tools = [{"googleSearch": {"disable_attributon": False}}] # 👈 ADD GOOGLE SEARCH
    resp = engine.completion(
        model="vertex_ai/gemini-1.0-pro-001",
        messages=[{"role": "user", "content": "Who won the world cup?"}],
        tools=tools,
        vertex_project="project-id"
    )
    print(resp)

    _assert_grounded(fake, resp, {"googleSearch": {"disable_attributon": False}}, project="project-id")


# --- thinking / reasoning_content ----------------------------------------------------------------

# The seed's expected response: content, reasoning_content and 42 + 68 = 110 tokens.
THOUGHTFUL = gemini_response(
    candidate([{"text": "The capital of France is Paris. This is a very straightforward factual question.", "thought": True},
               {"text": "The capital of France is Paris."}]),
    usage_metadata={"promptTokenCount": 42, "candidatesTokenCount": 8, "thoughtsTokenCount": 60, "totalTokenCount": 110},
)


def _assert_thoughtful(fake, resp, thinking_config):
    sent = fake.last(":generateContent")
    assert sent.path == vertex_path("gemini-2.5-flash-preview-04-17", project="project-id")
    assert sent.json == {
        "contents": [_user("What is the capital of France?")],
        "generationConfig": {"thinkingConfig": thinking_config},
    }
    data = json.loads(json.dumps(resp))
    assert data["model"] == "gemini-2.5-flash-preview-04-17"
    assert data["choices"] == [{
        "index": 0,
        "finish_reason": "stop",
        "message": {
            "role": "assistant",
            "content": "The capital of France is Paris.",
            "reasoning_content": "The capital of France is Paris. This is a very straightforward factual question.",
            # Beyond the seed (issue 12): the thought also comes as a thinking block, the shape
            # Claude's reasoning has; Gemini sent no signature for it.
            "thinking_blocks": [{"type": "thinking", "signature": "",
                                 "thinking": "The capital of France is Paris. This is a very straightforward factual question."}],
        },
    }]
    assert (data["usage"]["prompt_tokens"], data["usage"]["completion_tokens"], data["usage"]["total_tokens"]) == (42, 68, 110)
    assert data["usage"]["completion_tokens_details"]["reasoning_tokens"] == 60
    # Priced as gemini-2.5-flash (longest catalog prefix).
    assert resp._hidden_params["catalog_key"] == "gemini-2.5-flash"
    assert resp._hidden_params["response_cost"] == pytest.approx(42 * 3.0e-07 + 68 * 2.5e-06)


def test_seed_reasoning_effort(fake, seed_dir):
    fake.script(":generateContent", json=THOUGHTFUL)
    from engine import completion
    # !gcloud auth application-default login - run this to add vertex credentials to your env
    resp = completion(
        model="vertex_ai/gemini-2.5-flash-preview-04-17",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        reasoning_effort="low",
        vertex_project="project-id",
        vertex_location="us-central1"
    )

    _assert_thoughtful(fake, resp, {"thinkingBudget": 1024, "includeThoughts": True})


@pytest.mark.parametrize(("effort", "budget"), [("low", 1024), ("medium", 2048), ("high", 4096)])
def test_seed_reasoning_effort_table(fake, seed_dir, effort, budget):
    # The seed's table: reasoning_effort low / medium / high -> budget_tokens 1024 / 2048 / 4096.
    fake.script(":generateContent", json=THOUGHTFUL)
    from engine import completion
    resp = completion(
        model="vertex_ai/gemini-2.5-flash-preview-04-17",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        reasoning_effort=effort,
        vertex_project="project-id",
        vertex_location="us-central1"
    )
    _assert_thoughtful(fake, resp, {"thinkingBudget": budget, "includeThoughts": True})


def test_seed_thinking_param(fake, seed_dir):
    fake.script(":generateContent", json=THOUGHTFUL)
    import engine  # SEED FIX: litellm was never imported
    from engine import completion
    # !gcloud auth application-default login - run this to add vertex credentials to your env
    response = engine.completion(
        model="vertex_ai/gemini-2.5-flash-preview-04-17",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        thinking={"type": "enabled", "budget_tokens": 1024},
        vertex_project="project-id",
        vertex_location="us-central1"
    )

    _assert_thoughtful(fake, response, {"thinkingBudget": 1024, "includeThoughts": True})


# --- project, location, credentials ----------------------------------------------------------------


def test_seed_context_caching_section_module_project_and_location(fake, seed_dir):
    import engine
    engine.vertex_project = "hardy-device-38811" # Your Project ID
    engine.vertex_location = "us-central1" # proj location
    response = engine.completion(model="gemini-pro", messages=[{"role": "user", "content": "write code for saying hi from LiteLLM"}])

    sent = fake.last(":generateContent")
    assert sent.host == VERTEX
    assert sent.path == vertex_path("gemini-pro", project="hardy-device-38811")
    assert sent.json == {"contents": [_user("write code for saying hi from LiteLLM")]}
    assert response.choices[0].message.content.endswith("You said: write code for saying hi from LiteLLM")


def test_seed_dynamic_params(fake, seed_dir):
    from engine import completion
    import json
    ## GET CREDENTIALS
    file_path = 'path/to/vertex_ai_service_account.json'
    # Load the JSON file
    with open(file_path, 'r') as file:
        vertex_credentials = json.load(file)
    # Convert to JSON string
    vertex_credentials_json = json.dumps(vertex_credentials)
    response = completion(
        model="vertex_ai/gemini-pro",
        messages=[{"content": "You are a good bot.","role": "system"}, {"content": "Hello, how are you?","role": "user"}],
        vertex_credentials=vertex_credentials_json,
        vertex_project="my-special-project",
        vertex_location="my-special-location"
    )

    sent = fake.last(":generateContent")
    assert sent.host == "my-special-location-aiplatform.googleapis.com"
    assert sent.path == vertex_path("gemini-pro", project="my-special-project", location="my-special-location")
    assert sent.json == {"contents": [_user("Hello, how are you?")],
                         "systemInstruction": {"parts": [{"text": "You are a good bot."}]}}
    assert response.choices[0].message.content.endswith("You said: Hello, how are you?")


def test_seed_env_project_and_location(fake, seed_dir):
    import os, engine
    # set via env var
    os.environ["VERTEXAI_PROJECT"] = "hardy-device-38811" # Your Project ID`
    # set via env var
    os.environ["VERTEXAI_LOCATION"] = "us-central1" # Your Location  # SEED FIX: unterminated string
    engine.completion(model="vertex_ai/gemini-pro", messages=[{"role": "user", "content": "hi"}])  # not in the seed

    assert fake.last(":generateContent").path == vertex_path("gemini-pro", project="hardy-device-38811")
    os.environ["VERTEXAI_LOCATION"] = "asia-southeast1"
    engine.completion(model="vertex_ai/gemini-pro", messages=[{"role": "user", "content": "hi"}])
    sent = fake.last(":generateContent")
    assert sent.host == "asia-southeast1-aiplatform.googleapis.com"
    assert sent.path == vertex_path("gemini-pro", project="hardy-device-38811", location="asia-southeast1")


def test_seed_module_project_and_location(fake, seed_dir):
    import os, engine
    ### OR ###
    # set directly on module
    engine.vertex_project = "hardy-device-38811" # Your Project ID`
    ### OR ###
    # set directly on module
    engine.vertex_location = "us-central1" # Your Location  # SEED FIX: unterminated string
    engine.completion(model="vertex_ai/gemini-pro", messages=[{"role": "user", "content": "hi"}])  # not in the seed

    assert fake.last(":generateContent").path == vertex_path("gemini-pro", project="hardy-device-38811")


# --- safety settings -----------------------------------------------------------------------------

BLOCK_NONE_ALL = [
    {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"},
    {"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"},
    {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "threshold": "BLOCK_NONE"},
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "BLOCK_NONE"},
]


def test_seed_safety_settings_per_call(fake, seed_dir):
    from engine import completion  # SEED FIX: the snippet has no import
    response = completion(
        model="vertex_ai/gemini-pro",
        messages=[{"role": "user", "content": "write code for saying hi from LiteLLM"}],  # SEED FIX: missing comma
        safety_settings=[
            {
                "category": "HARM_CATEGORY_HARASSMENT",
                "threshold": "BLOCK_NONE",
            },
            {
                "category": "HARM_CATEGORY_HATE_SPEECH",
                "threshold": "BLOCK_NONE",
            },
            {
                "category": "HARM_CATEGORY_SEXUALLY_EXPLICIT",
                "threshold": "BLOCK_NONE",
            },
            {
                "category": "HARM_CATEGORY_DANGEROUS_CONTENT",
                "threshold": "BLOCK_NONE",
            },
        ]
    )

    assert fake.last(":generateContent").json == {
        "contents": [_user("write code for saying hi from LiteLLM")],
        "safetySettings": BLOCK_NONE_ALL,
    }
    assert response.choices[0].finish_reason == "stop"


def test_seed_safety_settings_global(fake, seed_dir, capsys):
    import engine
    engine.set_verbose = True # 👈 See RAW REQUEST/RESPONSE  # SEED FIX: the comment marker was missing
    engine.vertex_ai_safety_settings = [
        {
            "category": "HARM_CATEGORY_HARASSMENT",
            "threshold": "BLOCK_NONE",
        },
        {
            "category": "HARM_CATEGORY_HATE_SPEECH",
            "threshold": "BLOCK_NONE",
        },
        {
            "category": "HARM_CATEGORY_SEXUALLY_EXPLICIT",
            "threshold": "BLOCK_NONE",
        },
        {
            "category": "HARM_CATEGORY_DANGEROUS_CONTENT",
            "threshold": "BLOCK_NONE",
        },
    ]
    from engine import completion  # SEED FIX: the snippet has no import
    response = completion(
        model="vertex_ai/gemini-pro",
        messages=[{"role": "user", "content": "write code for saying hi from LiteLLM"}]
    )

    assert fake.last(":generateContent").json == {
        "contents": [_user("write code for saying hi from LiteLLM")],
        "safetySettings": BLOCK_NONE_ALL,
    }
    assert response.choices[0].message.content.endswith("You said: write code for saying hi from LiteLLM")
    logged = capsys.readouterr().err
    assert "HARM_CATEGORY_DANGEROUS_CONTENT" in logged  # the raw request was logged...
    assert fake.last(":generateContent").bearer not in logged  # ...without the token


# --- fine-tuned models ---------------------------------------------------------------------------


def test_seed_fine_tuned_gemini(fake, seed_dir):
    import engine
    import os
    ## set ENV variables
    os.environ["VERTEXAI_PROJECT"] = "hardy-device-38811"
    os.environ["VERTEXAI_LOCATION"] = "us-central1"
    response = engine.completion(
        model="vertex_ai/gemini/4965075652664360960", # e.g. vertex_ai/gemini/4965075652664360960  # SEED FIX: placeholder <your-finetuned-model>
        messages=[{ "content": "Hello, how are you?","role": "user"}],
    )

    sent = fake.last(":generateContent")
    assert sent.host == VERTEX
    assert sent.path == "/v1/projects/hardy-device-38811/locations/us-central1/endpoints/4965075652664360960:generateContent"
    assert sent.json == {"contents": [_user("Hello, how are you?")]}
    assert response.choices[0].message.content.endswith("You said: Hello, how are you?")
    assert response.model == "4965075652664360960"


# --- model tables: completion('gemini-pro', messages), completion('vertex_ai/gemini-pro', messages), ... ----


@pytest.mark.parametrize(
    "name", ["gemini-pro", "gemini-pro-vision", "gemini-1.5-pro", "gemini-1.5-flash-preview-0514", "gemini-1.5-pro-preview-0514"]
)
@pytest.mark.parametrize("prefix", ["", "vertex_ai/"])
def test_seed_model_tables(fake, seed_dir, name, prefix):
    from engine import completion
    messages = [{"role": "user", "content": "hi"}]
    response = completion(prefix + name, messages)

    sent = fake.last(":generateContent")
    assert (sent.host, sent.path) == (VERTEX, vertex_path(name))
    assert response.model == name
    assert response.choices[0].message.content.endswith("You said: hi")
    assert isinstance(response._hidden_params["response_cost"], float) and response._hidden_params["response_cost"] > 0


# --- vision --------------------------------------------------------------------------------------


def test_seed_vision_image_url(fake, seed_dir):
    import engine
    response = engine.completion(
        model = "vertex_ai/gemini-pro-vision",
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "text",
                        "text": "Whats in this image?"
                    },
                    {
                        "type": "image_url",
                        "image_url": {
                            "url": "https://upload.wikimedia.org/wikipedia/commons/thumb/d/dd/Gfp-wisconsin-madison-the-nature-boardwalk.jpg/2560px-Gfp-wisconsin-madison-the-nature-boardwalk.jpg"
                        }
                    }
                ]
            }
        ],
    )
    print(response)

    assert fake.last(":generateContent").json == {"contents": [{"role": "user", "parts": [
        {"text": "Whats in this image?"},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://upload.wikimedia.org/wikipedia/commons/thumb/d/dd/"
                      "Gfp-wisconsin-madison-the-nature-boardwalk.jpg/2560px-Gfp-wisconsin-madison-the-nature-boardwalk.jpg"}},
    ]}]}
    assert response.choices[0].message.content.endswith("You said: Whats in this image?")


def test_seed_vision_local_base64_image(fake, seed_dir):
    import engine
    def encode_image(image_path):
        import base64
        with open(image_path, "rb") as image_file:
            return base64.b64encode(image_file.read()).decode("utf-8")
    image_path = "cached_logo.jpg"
    # Getting the base64 string
    base64_image = encode_image(image_path)
    response = engine.completion(
        model="vertex_ai/gemini-pro-vision",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Whats in this image?"},
                    {
                        "type": "image_url",
                        "image_url": {
                            "url": "data:image/jpeg;base64," + base64_image
                        },
                    },
                ],
            }
        ],
    )
    print(response)

    import base64
    assert fake.last(":generateContent").json == {"contents": [{"role": "user", "parts": [
        {"text": "Whats in this image?"},
        {"inlineData": {"mimeType": "image/jpeg", "data": base64.b64encode(JPEG).decode()}},
    ]}]}
    assert response.choices[0].finish_reason == "stop"


# --- function calling ----------------------------------------------------------------------------


def test_seed_function_calling(fake, seed_dir):
    fake.script(":generateContent", json=gemini_response(candidate([
        {"functionCall": {"name": "get_current_weather", "args": {"location": "Boston, MA", "unit": "fahrenheit"}}}])))
    sa_path = str(seed_dir / "path" / "to" / "vertex_ai_service_account.json")
    from engine import completion
    import os
    # set env
    os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = sa_path  # SEED FIX: ".." placeholder
    os.environ["VERTEX_AI_PROJECT"] = "seed-env-project"  # SEED FIX: ".." placeholder
    os.environ["VERTEX_AI_LOCATION"] = "europe-west1"  # SEED FIX: ".." placeholder
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_current_weather",
                "description": "Get the current weather in a given location",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "location": {
                            "type": "string",
                            "description": "The city and state, e.g. San Francisco, CA",
                        },
                        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    },
                    "required": ["location"],
                },
            },
        }
    ]
    messages = [{"role": "user", "content": "What's the weather like in Boston today?"}]
    response = completion(
        model="vertex_ai/gemini-pro-vision",
        messages=messages,
        tools=tools,
    )
    # Add any assertions, here to check response args
    print(response)
    assert isinstance(response.choices[0].message.tool_calls[0].function.name, str)
    assert isinstance(
        response.choices[0].message.tool_calls[0].function.arguments, str
    )

    sent = fake.last(":generateContent")
    assert sent.json == {
        "contents": [_user("What's the weather like in Boston today?")],
        "tools": [{"functionDeclarations": [tools[0]["function"]]}],
    }
    call = response.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "get_current_weather", {"location": "Boston, MA", "unit": "fahrenheit"})
    assert response.choices[0].finish_reason == "tool_calls"
    assert sent.model == "gemini-pro-vision" and sent.method == "generateContent"
    # Which project/location the VERTEX_AI_* variables select: the test below.


def test_seed_function_calling_env_names_pick_project_and_location(fake, seed_dir, monkeypatch):
    monkeypatch.setenv("VERTEX_AI_PROJECT", "seed-env-project")
    monkeypatch.setenv("VERTEX_AI_LOCATION", "europe-west1")
    engine.completion(model="vertex_ai/gemini-pro-vision", messages=[{"role": "user", "content": "hi"}])
    sent = fake.last(":generateContent")
    assert (sent.host, sent.path) == ("europe-west1-aiplatform.googleapis.com",
                                      vertex_path("gemini-pro-vision", project="seed-env-project", location="europe-west1"))


# --- PDF / video / audio files -------------------------------------------------------------------


def test_seed_file_gs_uri(fake, seed_dir, capsys):
    from engine import completion
    response = completion(
        model="vertex_ai/gemini-1.5-flash",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "You are a very professional document summarization specialist. Please summarize the given document."},
                    {
                        "type": "file",
                        "file": {
                            "file_id": "gs://cloud-samples-data/generative-ai/pdf/2403.05530.pdf",
                            "format": "application/pdf" # OPTIONAL - specify mime-type
                        }
                    },
                ],
            }
        ],
        max_tokens=300,
    )
    print(response.choices[0])

    assert fake.last(":generateContent").json == {
        "contents": [{"role": "user", "parts": [
            {"text": "You are a very professional document summarization specialist. Please summarize the given document."},
            {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://cloud-samples-data/generative-ai/pdf/2403.05530.pdf"}},
        ]}],
        "generationConfig": {"maxOutputTokens": 300},
    }
    assert "'finish_reason': 'stop'" in capsys.readouterr().out


def test_seed_file_base64_pdf_and_audio(fake, seed_dir):
    from engine import completion
    import base64
    # SEED FIX: `import requests` / `requests.get(url)` of the real PDF replaced by local bytes
    # URL of the file
    url = "https://storage.googleapis.com/cloud-samples-data/generative-ai/pdf/2403.05530.pdf"
    # Download the file
    file_data = PDF_BYTES
    encoded_file = base64.b64encode(file_data).decode("utf-8")
    response = completion(
        model="vertex_ai/gemini-1.5-flash",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "You are a very professional document summarization specialist. Please summarize the given document."},
                    {
                        "type": "file",
                        "file": {
                            "file_data": f"data:application/pdf;base64,{encoded_file}", # 👈 PDF
                        }
                    },
                    {
                        "type": "audio_input",
                        "audio_input": {  # SEED FIX: `"audio_input {` (unterminated key)
                            "audio_input": f"data:audio/mp3;base64,{encoded_file}", # 👈 AUDIO File ('file' message works as too)
                        }
                    },
                ],
            }
        ],
        max_tokens=300,
    )
    print(response.choices[0])

    assert fake.last(":generateContent").json == {
        "contents": [{"role": "user", "parts": [
            {"text": "You are a very professional document summarization specialist. Please summarize the given document."},
            {"inlineData": {"mimeType": "application/pdf", "data": encoded_file}},
            {"inlineData": {"mimeType": "audio/mp3", "data": encoded_file}},
        ]}],
        "generationConfig": {"maxOutputTokens": 300},
    }
    assert response.choices[0].finish_reason == "stop"
    assert response.choices[0].message.content.endswith("Please summarize the given document.")
