"""Gemini chat through the Python API against the fake Google: messages, params, finish reasons,
usage and cost, routing (fine-tuned endpoints, api_base), settings (project/location, safety,
drop_params), headers. Every test runs with ``engine.completion`` and ``engine.acompletion``."""

from __future__ import annotations

import pytest

import engine

from ._gemini_support import (
    PROJECT,
    VERTEX_HOST,
    candidate,
    complete,
    dump,
    gemini_response,
    mode,  # noqa: F401  (fixture)
    stream,
    text_response,
    usage,
    vertex_path,
)

pytestmark = pytest.mark.anyio

HI = [{"role": "user", "content": "Hi"}]


# --- messages ----------------------------------------------------------------------------


async def test_system_message_becomes_system_instruction(fake, mode):
    fake.script(":generateContent", json=text_response("Hello.", usage_metadata=usage(7, 2)))
    response = await complete(
        mode,
        model="vertex_ai/gemini-2.5-flash",
        messages=[{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}],
    )
    sent = fake.last(":generateContent")
    assert sent.host == VERTEX_HOST
    assert sent.path == vertex_path("gemini-2.5-flash")
    assert sent.json == {
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
        "systemInstruction": {"parts": [{"text": "You are terse."}]},
    }
    assert sent.bearer  # a real token from the fake token endpoint
    data = dump(response)
    assert data["id"] == "resp-1"
    assert data["object"] == "chat.completion"
    assert data["model"] == "gemini-2.5-flash"
    assert isinstance(data["created"], int)
    assert data["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "Hello."}, "finish_reason": "stop"}
    ]
    assert data["usage"]["prompt_tokens"] == 7
    assert data["usage"]["completion_tokens"] == 2
    assert data["usage"]["total_tokens"] == 9
    assert response.choices[0].message.content == "Hello."  # attribute access too


async def test_several_system_and_developer_messages_one_part_each(fake, mode):
    fake.script(":generateContent", json=text_response())
    await complete(
        mode,
        model="vertex_ai/gemini-2.0-flash",
        messages=[
            {"role": "system", "content": "Rule one."},
            {"role": "developer", "content": [{"type": "text", "text": "Rule "}, {"type": "text", "text": "two."}]},
            {"role": "user", "content": "Go"},
        ],
    )
    body = fake.last(":generateContent").json
    assert body["systemInstruction"] == {"parts": [{"text": "Rule one."}, {"text": "Rule two."}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Go"}]}]


async def test_only_a_system_message_still_sends_a_user_turn(fake, mode):
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=[{"role": "system", "content": "Be nice."}])
    body = fake.last(":generateContent").json
    assert body["systemInstruction"] == {"parts": [{"text": "Be nice."}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "."}]}]  # pitfall 2 (LiteLLM's filler)


async def test_multi_turn_history_alternates_and_merges_consecutive_turns(fake, mode):
    fake.script(":generateContent", json=text_response("Blue."))
    response = await complete(
        mode,
        model="vertex_ai/gemini-2.5-pro",
        messages=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": "Favourite colour?"},
            {"role": "user", "content": [{"type": "text", "text": "One word."}]},
        ],
    )
    assert fake.last(":generateContent").json["contents"] == [
        {"role": "user", "parts": [{"text": "Hi"}]},
        {"role": "model", "parts": [{"text": "Hello! How can I help?"}]},
        {"role": "user", "parts": [{"text": "Favourite colour?"}, {"text": "One word."}]},
    ]
    assert response.choices[0].message.content == "Blue."


async def test_default_emulator_answer_round_trip(fake, mode):
    # No script: the fake's own answer echoes the last user text and names the routed model.
    response = await complete(mode, model="vertex_ai/gemini-2.0-flash-001", messages=[{"role": "user", "content": "ping 42"}])
    assert response.choices[0].message.content.endswith("You said: ping 42")
    assert "gemini-2.0-flash-001" in response.choices[0].message.content
    assert response.choices[0].finish_reason == "stop"


# --- generation params -------------------------------------------------------------------


async def test_sampling_params_map_to_generation_config(fake, mode):
    fake.script(":generateContent", json=text_response())
    await complete(
        mode,
        model="vertex_ai/gemini-2.5-flash",
        messages=HI,
        temperature=0.2,
        top_p=0.9,
        top_k=40,
        max_tokens=64,
        stop=["END", "STOP"],
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=0.25,
        logprobs=True,
        top_logprobs=3,
    )
    assert fake.last(":generateContent").json == {
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
        "generationConfig": {
            "temperature": 0.2,
            "topP": 0.9,
            "topK": 40,
            "maxOutputTokens": 64,
            "stopSequences": ["END", "STOP"],
            "seed": 7,
            "presencePenalty": 0.5,
            "frequencyPenalty": 0.25,
            "responseLogprobs": True,
            "logprobs": 3,  # OpenAI's top_logprobs; the names are swapped
        },
    }


async def test_stop_string_becomes_a_list_and_max_completion_tokens(fake, mode):
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI, stop="END", max_completion_tokens=12)
    assert fake.last(":generateContent").json["generationConfig"] == {"stopSequences": ["END"], "maxOutputTokens": 12}


async def test_n_two_candidates_become_two_choices(fake, mode):
    fake.script(
        ":generateContent",
        json=gemini_response(candidate([{"text": "A"}], index=0), candidate([{"text": "B"}], finish="MAX_TOKENS", index=1)),
    )
    response = await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI, n=2)
    assert fake.last(":generateContent").json["generationConfig"] == {"candidateCount": 2}
    assert dump(response)["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "A"}, "finish_reason": "stop"},
        {"index": 1, "message": {"role": "assistant", "content": "B"}, "finish_reason": "length"},
    ]


async def test_penalties_are_refused_on_gemini_3_and_dropped_with_drop_params(fake, mode):
    with pytest.raises(engine.UnsupportedParamsError, match="presence_penalty"):
        await complete(mode, model="vertex_ai/gemini-3-pro-preview", messages=HI, presence_penalty=0.5)
    assert fake.calls(":generateContent") == []  # refused before any request
    fake.script(":generateContent", json=text_response())
    await complete(
        mode, model="vertex_ai/gemini-3-pro-preview", messages=HI, presence_penalty=0.5, frequency_penalty=0.1,
        temperature=0.3, drop_params=True,
    )
    sent = fake.last(":generateContent")
    assert sent.json["generationConfig"] == {"temperature": 0.3}
    assert sent.location == "global"  # Gemini 3 previews only exist in `global` (pitfall 16)
    assert sent.host == "aiplatform.googleapis.com"


async def test_logprobs_in_the_response(fake, mode):
    fake.script(
        ":generateContent",
        json=gemini_response(
            candidate(
                [{"text": "Il"}],
                logprobsResult={
                    "topCandidates": [{"candidates": [{"token": "Il", "logProbability": -0.01},
                                                      {"token": "Le", "logProbability": -4.7}]}],
                    "chosenCandidates": [{"token": "Il", "logProbability": -0.01}],
                },
                avgLogprobs=-0.01,
            )
        ),
    )
    response = await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI, logprobs=True, top_logprobs=2)
    assert dump(response)["choices"][0]["logprobs"] == {
        "content": [
            {"token": "Il", "logprob": -0.01, "top_logprobs": [{"token": "Il", "logprob": -0.01},
                                                                {"token": "Le", "logprob": -4.7}]}
        ]
    }


# --- finish reasons ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gemini_reason", "openai_reason"),
    [("STOP", "stop"), ("MAX_TOKENS", "length"), ("LANGUAGE", "content_filter"), ("OTHER", "content_filter"),
     ("MALFORMED_FUNCTION_CALL", "stop"), ("FINISH_REASON_UNSPECIFIED", "stop"), ("NO_IMAGE", "stop")],
)
async def test_finish_reason_table_keeps_the_text(fake, mode, gemini_reason, openai_reason):
    fake.script(":generateContent", json=gemini_response(candidate([{"text": "partial"}], finish=gemini_reason)))
    response = await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI)
    assert response.choices[0].finish_reason == openai_reason
    assert response.choices[0].message.content == "partial"


@pytest.mark.parametrize("reason", ["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"])
async def test_blocking_finish_reason_discards_partial_text(fake, mode, reason):
    fake.script(
        ":generateContent",
        json=gemini_response(candidate([{"text": "half an ans"}], finish=reason,
                                       safetyRatings=[{"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH"}])),
    )
    response = await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI)
    assert dump(response)["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": None}, "finish_reason": "content_filter"}
    ]


async def test_blocked_prompt_is_a_content_filter_answer_not_an_exception(fake, mode):
    fake.script(
        ":generateContent",
        json={
            "promptFeedback": {"blockReason": "SAFETY",
                               "safetyRatings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}]},
            "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
            "responseId": "blocked-1",
        },
    )
    response = await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=[{"role": "user", "content": "bad"}])
    data = dump(response)
    assert data["id"] == "blocked-1"
    assert data["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": None}, "finish_reason": "content_filter"}
    ]
    assert data["usage"] == {"prompt_tokens": 9, "completion_tokens": 0, "total_tokens": 9}


async def test_candidate_without_parts_still_gives_one_choice(fake, mode):
    # All of the budget went to thoughts: MAX_TOKENS and no parts (reference 04 §11).
    fake.script(
        ":generateContent",
        json=gemini_response(candidate(None, finish="MAX_TOKENS"),
                             usage_metadata=usage(4, 0, thoughtsTokenCount=60)),
    )
    response = await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=HI, max_tokens=60)
    assert dump(response)["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": None}, "finish_reason": "length"}
    ]
    assert response.usage.completion_tokens == 60
    assert response.usage.completion_tokens_details.reasoning_tokens == 60


# --- usage and cost ----------------------------------------------------------------------


async def test_usage_with_reasoning_and_cached_tokens(fake, mode):
    fake.script(
        ":generateContent",
        json=text_response(
            "ok",
            usage_metadata={
                "promptTokenCount": 1000, "candidatesTokenCount": 100, "thoughtsTokenCount": 400,
                "cachedContentTokenCount": 600, "totalTokenCount": 1500,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1000}],
                "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 100}],
                "trafficType": "ON_DEMAND",
            },
        ),
    )
    response = await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=HI)
    assert dump(response)["usage"] == {
        "prompt_tokens": 1000,
        "completion_tokens": 500,  # 1000 + 100 != 1500: thoughts are added (pitfall 8)
        "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 600, "text_tokens": 400},
        "completion_tokens_details": {"reasoning_tokens": 400, "text_tokens": 100},
        "cache_read_input_tokens": 600,
        "reasoning_tokens": 400,
    }
    # 400 fresh input at 3e-7, 600 cached at 3e-8, 100 output + 400 reasoning at 2.5e-6 (catalog).
    cost = response._hidden_params["response_cost"]
    assert isinstance(cost, float)
    assert cost == pytest.approx(400 * 3.0e-07 + 600 * 3.0e-08 + 500 * 2.5e-06)


async def test_response_cost_from_catalog_prices(fake, mode):
    fake.script(":generateContent", json=text_response("x", usage_metadata=usage(1000, 200)))
    response = await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI)
    cost = response._hidden_params["response_cost"]
    assert isinstance(cost, float) and cost > 0
    assert cost == pytest.approx(1000 * 1.0e-07 + 200 * 4.0e-07)
    assert response._hidden_params["custom_llm_provider"] == "vertex_ai"
    assert response._hidden_params["model"] == "gemini-2.0-flash"


async def test_cached_content_param(fake, mode):
    fake.script(":generateContent", json=text_response())
    name = f"projects/{PROJECT}/locations/us-central1/cachedContents/4242"
    await complete(mode, model="vertex_ai/gemini-2.0-flash-001", messages=HI, cached_content=name)
    assert fake.last(":generateContent").json["cachedContent"] == name


# --- safety settings ----------------------------------------------------------------------

SAFETY = [
    {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"},
    {"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_ONLY_HIGH"},
]


async def test_safety_settings_per_call(fake, mode):
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI, safety_settings=SAFETY)
    assert fake.last(":generateContent").json["safetySettings"] == SAFETY


async def test_global_safety_settings_and_per_call_override(fake, mode, monkeypatch):
    monkeypatch.setattr(engine, "vertex_ai_safety_settings", SAFETY)
    fake.script(":generateContent", json=text_response(), times=2)
    await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI)
    assert fake.last(":generateContent").json["safetySettings"] == SAFETY
    override = [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "OFF"}]
    await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI, safety_settings=override)
    assert fake.last(":generateContent").json["safetySettings"] == override


async def test_no_safety_settings_by_default(fake, mode):
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI)
    assert "safetySettings" not in fake.last(":generateContent").json


# --- drop_params --------------------------------------------------------------------------


async def test_unsupported_param_refused_then_dropped_per_call(fake, mode):
    with pytest.raises(engine.UnsupportedParamsError, match="logit_bias"):
        await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI, logit_bias={"1": -100})
    assert fake.calls(":generateContent") == []
    fake.script(":generateContent", json=text_response())
    response = await complete(
        mode, model="vertex_ai/gemini-2.0-flash", messages=HI, logit_bias={"1": -100}, user="u-1", temperature=0.1,
        drop_params=True,
    )
    assert fake.last(":generateContent").json == {
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
        "generationConfig": {"temperature": 0.1},
    }
    assert any("logit_bias" in warning for warning in response._hidden_params["warnings"])


async def test_drop_params_module_setting(fake, mode, monkeypatch):
    monkeypatch.setattr(engine, "drop_params", True)
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI, logit_bias={"1": -100})
    assert fake.last(":generateContent").json == {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
    # A per-call drop_params=False wins over the module setting.
    with pytest.raises(engine.UnsupportedParamsError, match="logit_bias"):
        await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI, logit_bias={"1": -100}, drop_params=False)


async def test_parallel_tool_calls_false_is_refused_true_is_not_sent(fake, mode):
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI, parallel_tool_calls=True)
    assert fake.last(":generateContent").json == {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
    with pytest.raises(engine.UnsupportedParamsError, match="parallel_tool_calls"):
        await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI, parallel_tool_calls=False)


# --- routing: project / location / endpoints / api_base ---------------------------------------


async def test_per_call_project_and_location(fake, mode):
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI,
                   vertex_project="my-special-project", vertex_location="europe-west4")
    sent = fake.last(":generateContent")
    assert sent.host == "europe-west4-aiplatform.googleapis.com"
    assert sent.path == vertex_path("gemini-2.0-flash", project="my-special-project", location="europe-west4")


async def test_module_project_and_location(fake, mode, monkeypatch):
    monkeypatch.setattr(engine, "vertex_project", "hardy-device-38811")
    monkeypatch.setattr(engine, "vertex_location", "asia-southeast1")
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="gemini-pro", messages=HI)  # bare gemini-* routes to Vertex
    sent = fake.last(":generateContent")
    assert sent.host == "asia-southeast1-aiplatform.googleapis.com"
    assert sent.path == vertex_path("gemini-pro", project="hardy-device-38811", location="asia-southeast1")


async def test_env_project_and_location(fake, mode, monkeypatch):
    monkeypatch.setenv("VERTEXAI_PROJECT", "env-project")
    monkeypatch.setenv("VERTEXAI_LOCATION", "us-east4")
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-1.5-pro", messages=HI)
    assert fake.last(":generateContent").path == vertex_path("gemini-1.5-pro", project="env-project", location="us-east4")


async def test_project_defaults_to_the_credentials_project(fake, mode):
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI)
    assert fake.last(":generateContent").project == PROJECT


async def test_fine_tuned_gemini_endpoint(fake, mode):
    fake.script(":generateContent", json=text_response("tuned"))
    response = await complete(mode, model="vertex_ai/gemini/4965075652664360960", messages=HI)
    sent = fake.last(":generateContent")
    assert sent.path == f"/v1/projects/{PROJECT}/locations/us-central1/endpoints/4965075652664360960:generateContent"
    assert sent.endpoint == "4965075652664360960"
    assert sent.json == {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
    assert response.choices[0].message.content == "tuned"


async def test_fine_tuned_gemini_endpoint_streams(fake, mode):
    chunks = await stream(mode, model="vertex_ai/gemini/4965075652664360960", messages=HI)
    sent = fake.last(":streamGenerateContent")
    assert sent.path == f"/v1/projects/{PROJECT}/locations/us-central1/endpoints/4965075652664360960:streamGenerateContent"
    assert sent.query == {"alt": "sse"}
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]).endswith("You said: Hi")


async def test_api_base_bare_host_keeps_googles_path(fake, mode, monkeypatch):
    monkeypatch.delenv("VERTEX_ENGINE_EMULATOR")
    fake.script(":generateContent", json=text_response("via base"))
    response = await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI, api_base=fake.url)
    sent = fake.last(":generateContent")
    assert sent.host is None  # reached the fake directly, not through the emulator's host prefix
    assert sent.path == vertex_path("gemini-2.0-flash")
    assert sent.bearer
    assert response.choices[0].message.content == "via base"
    assert response._hidden_params["api_base"] == fake.url + vertex_path("gemini-2.0-flash")


async def test_api_base_with_a_path_is_the_model_url_prefix(fake, mode, monkeypatch):
    monkeypatch.delenv("VERTEX_ENGINE_EMULATOR")
    base = fake.url + "/v1/projects/gw-project/locations/global/publishers/google/models/gemini-2.0-flash-001"
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI, api_base=base)
    assert fake.last(":generateContent").path == vertex_path("gemini-2.0-flash-001", project="gw-project", location="global")
    await stream(mode, model="vertex_ai/gemini-2.0-flash", messages=HI, api_base=base)
    sent = fake.last(":streamGenerateContent")
    assert sent.path == vertex_path("gemini-2.0-flash-001", "streamGenerateContent", project="gw-project",
                                    location="global")
    assert sent.query == {"alt": "sse"}


async def test_module_api_base(fake, mode, monkeypatch):
    monkeypatch.delenv("VERTEX_ENGINE_EMULATOR")
    monkeypatch.setattr(engine, "api_base", fake.url)
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI)
    assert fake.last(":generateContent").path == vertex_path("gemini-2.0-flash")


# --- headers and labels -------------------------------------------------------------------


async def test_extra_headers_reach_upstream(fake, mode):
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI,
                   extra_headers={"X-Team": "search", "x-goog-user-project": "billing-project"})
    headers = fake.last(":generateContent").headers
    assert headers["x-team"] == "search"
    assert headers["x-goog-user-project"] == "billing-project"
    assert headers["content-type"] == "application/json"
    assert headers["authorization"].startswith("Bearer ")


async def test_extra_body_is_merged_into_the_request(fake, mode):
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI, temperature=0.5,
                   extra_body={"generationConfig": {"mediaResolution": "MEDIA_RESOLUTION_LOW"}})
    assert fake.last(":generateContent").json["generationConfig"] == {
        "temperature": 0.5, "mediaResolution": "MEDIA_RESOLUTION_LOW"
    }


async def test_labels_reach_vertex(fake, mode):
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI, labels={"team": "search"})
    assert fake.last(":generateContent").json["labels"] == {"team": "search"}


async def test_engine_settings_never_reach_google(fake, mode):
    fake.script(":generateContent", json=text_response())
    await complete(
        mode, model="vertex_ai/gemini-2.0-flash", messages=HI, vertex_project=PROJECT, vertex_location="us-central1",
        num_retries=0, timeout=30, metadata={"trace": "t-1"},
    )
    assert fake.last(":generateContent").json == {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}


async def test_error_object_with_http_200_raises(fake, mode):
    fake.script(":generateContent", json={"error": {"code": 429, "message": "Resource exhausted.", "status": "RESOURCE_EXHAUSTED"}})
    with pytest.raises(engine.RateLimitError, match="Resource exhausted"):
        await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI, num_retries=0)


async def test_vertex_ai_project_and_location_aliases(fake, mode):
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.0-flash", messages=HI,
                   vertex_ai_project="alias-project", vertex_ai_location="us-east5")
    assert fake.last(":generateContent").path == vertex_path("gemini-2.0-flash", project="alias-project", location="us-east5")


async def test_implicit_and_explicit_cache_usage(fake, mode):
    # Implicit cache hit: cached tokens are reported whatever the request (pitfall 10).
    fake.script(":generateContent", json=text_response("a", usage_metadata={
        "promptTokenCount": 3000, "cachedContentTokenCount": 2048, "candidatesTokenCount": 10, "totalTokenCount": 3010}))
    response = await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=HI)
    assert response.usage.prompt_tokens == 3000
    assert response.usage.prompt_tokens_details.cached_tokens == 2048
    assert response._hidden_params["response_cost"] == pytest.approx(952 * 3.0e-07 + 2048 * 3.0e-08 + 10 * 2.5e-06)
    # Explicit cache where Vertex left the cached part out of promptTokenCount (pitfall 11).
    fake.script(":generateContent", json=text_response("a", usage_metadata={
        "promptTokenCount": 100, "cachedContentTokenCount": 4000, "candidatesTokenCount": 10, "totalTokenCount": 110}))
    response = await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=HI,
                              cached_content="projects/p/locations/us-central1/cachedContents/1")
    assert (response.usage.prompt_tokens, response.usage.total_tokens) == (4100, 4110)
    assert response.usage.prompt_tokens_details.cached_tokens == 4000


@pytest.mark.parametrize(
    ("location", "host"),
    [("global", "aiplatform.googleapis.com"), ("us", "aiplatform.us.rep.googleapis.com"),
     ("eu", "aiplatform.eu.rep.googleapis.com"), ("asia-northeast1", "asia-northeast1-aiplatform.googleapis.com")],
)
async def test_location_picks_the_host(fake, mode, location, host):
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=HI, vertex_location=location)
    sent = fake.last(":generateContent")
    assert (sent.host, sent.path) == (host, vertex_path("gemini-2.5-flash", location=location))


def test_extra_body_declared_params_are_translated_and_others_sent_raw(fake):
    engine.vertex_ai_safety_settings = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}]
    settings = [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}]
    engine.completion(
        model="vertex_ai/gemini-2.5-flash",
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"safety_settings": settings, "generationConfig": {"audioTimestamp": True}},
        temperature=0.5,
    )
    body = fake.last(":generateContent").json
    assert body["safetySettings"] == settings  # translated, and it wins over the module default
    assert "safety_settings" not in body
    assert body["generationConfig"] == {"temperature": 0.5, "audioTimestamp": True}  # raw, shallow-merged


def test_custom_llm_provider_acts_as_the_model_prefix(fake, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "studio-key")
    engine.completion(model="gemini-2.5-flash", custom_llm_provider="gemini", messages=[{"role": "user", "content": "hi"}])
    sent = fake.last(":generateContent")
    assert sent.host == "generativelanguage.googleapis.com" and sent.headers["x-goog-api-key"] == "studio-key"
    engine.completion(model="gemini-2.5-flash", custom_llm_provider="vertex_ai", messages=[{"role": "user", "content": "hi"}])
    assert fake.last(":generateContent").host == "us-central1-aiplatform.googleapis.com"
