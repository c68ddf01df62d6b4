"""Gemini response hooks: candidate -> message, logprobs, blocked/empty responses, metadata, usage."""

from __future__ import annotations

import re
from typing import Any

import pytest

from engine import errors
from engine.mapping.context import Context
from engine.hooks.gemini.stream import stream_of
from engine.mapping.hooks import HOOKS
from engine.mapping.registry import get_registry

# The facts are gemini.yaml's: its tables, its declared in-body error, and the response pieces
# it declares as data (shape, replacement choices, logprobs, usage and hidden formulas), run
# here as the engine runs them: the declared shape is checked first.
_GEMINI = get_registry().formats["gemini"]
_RESPONSE = _GEMINI.operations["chat"].response
FINISH_REASONS = _GEMINI.tables["finish_reasons"]
gemini_error = _RESPONSE.raise_error


def _checked(extract):
    def run(response, ctx):
        _RESPONSE.check(response, ctx)
        return extract(response, ctx)

    return run


gemini_blocked = _checked(_RESPONSE.replace_choices[0][0])
gemini_empty_candidates = _checked(_RESPONSE.replace_choices[1][0])
gemini_grounding_hidden = _checked(_RESPONSE.hidden)
gemini_response_usage = _checked(_RESPONSE.usage)


def gemini_usage(usage_metadata, ctx):
    """The usage formulas on an answer carrying only this ``usageMetadata``."""
    return gemini_response_usage({"usageMetadata": usage_metadata} if usage_metadata is not None else {}, ctx)


def gemini_message(candidate, ctx):
    """The ``message`` the mapping's part table builds from this candidate."""
    response = {"candidates": [candidate]}
    _RESPONSE.check(response, ctx)
    return _RESPONSE.choices(response, ctx)[0]["message"]


def gemini_logprobs(candidate, ctx):
    """The ``logprobs`` of the choice the mapping builds from this candidate."""
    response = {"candidates": [candidate]}
    _RESPONSE.check(response, ctx)
    return _RESPONSE.choices(response, ctx)[0].get("logprobs")


def gemini_ctx(model: str, **request: Any) -> Context:
    """A call's context as prepare builds it: the format's options evaluated for the model."""
    info = get_registry().info(model)[1]
    return Context(request=request, model=model, host="vertex", info=info, options=_GEMINI.options_for(model, "vertex", info))


GENERATED_ID = re.compile(r"^call_[0-9a-f]{28}$")

# Reference 04 §10.
WORKED_EXAMPLE: dict[str, Any] = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "Thinking about units...", "thought": True},
                    {"functionCall": {"name": "convert", "args": {"v": 3, "to": "km"}}},
                ],
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {"promptTokenCount": 50, "candidatesTokenCount": 12, "thoughtsTokenCount": 40, "totalTokenCount": 102},
    "responseId": "r-77",
}


def make_ctx(**request: Any) -> Context:
    return gemini_ctx("gemini-2.5-flash", messages=[{"role": "user", "content": "hi"}], **request)


def candidate(*parts: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"content": {"role": "model", "parts": list(parts)}, "index": 0, **fields}


def test_the_response_side_is_declared_not_hooked() -> None:
    # Only the stream bookkeeping is code; the rest of the response side is gemini.yaml's.
    assert {"gemini.line_open", "gemini.stream_message"} <= set(HOOKS)
    assert not {"gemini.message", "gemini.logprobs", "gemini.blocked", "gemini.empty_candidates", "gemini.grounding_hidden",
                "gemini.usage", "gemini.response_usage"} & set(HOOKS)
    assert gemini_error is not None  # an error inside a 200 body is declared: response.error


# --- message ---------------------------------------------------------------------------


def test_worked_example_message() -> None:
    ctx = make_ctx(tools=[{"type": "function", "function": {"name": "convert"}}])
    message = gemini_message(WORKED_EXAMPLE["candidates"][0], ctx)
    tool_call = message["tool_calls"][0]
    assert GENERATED_ID.match(tool_call["id"])
    assert message == {
        "role": "assistant",
        "content": None,
        "reasoning_content": "Thinking about units...",
        "thinking_blocks": [{"type": "thinking", "thinking": "Thinking about units...", "signature": ""}],
        "tool_calls": [
            {"id": tool_call["id"], "type": "function", "index": 0, "function": {"name": "convert", "arguments": '{"v": 3, "to": "km"}'}}
        ],
    }
    assert stream_of(ctx).tool_call_index == 1  # the next call in this stream gets index 1


def test_worked_example_usage() -> None:
    usage = gemini_usage(WORKED_EXAMPLE["usageMetadata"], make_ctx())
    assert usage == {
        "prompt_tokens": 50,
        "completion_tokens": 52,
        "total_tokens": 102,
        # text = candidatesTokenCount (minus image/audio/video) when Google gives no TEXT detail.
        "completion_tokens_details": {"reasoning_tokens": 40, "text_tokens": 12},
        "prompt_tokens_details": {"cached_tokens": None},
        "reasoning_tokens": 40,
    }


def test_plain_text_is_concatenated_and_thoughts_kept_apart() -> None:
    message = gemini_message(candidate({"text": "Il fait "}, {"text": "x", "thought": True}, {"text": "4 °C."}), make_ctx())
    assert message == {"role": "assistant", "content": "Il fait 4 °C.", "reasoning_content": "x",
                       "thinking_blocks": [{"type": "thinking", "thinking": "x", "signature": ""}]}


def test_no_text_gives_content_none_and_no_optional_keys() -> None:
    assert gemini_message({"content": {"role": "model"}, "finishReason": "MAX_TOKENS"}, make_ctx()) == {"role": "assistant", "content": None}
    # Gemini 3's trailing stream event: an empty text part.
    assert gemini_message(candidate({"text": ""}, finishReason="STOP"), make_ctx()) == {"role": "assistant", "content": None}


def test_tool_call_index_is_cumulative_across_calls_candidates_and_events() -> None:
    ctx = make_ctx(tools=[{"type": "function", "function": {"name": "f"}}])
    first = gemini_message(candidate({"functionCall": {"name": "f", "args": {"city": "Oslo"}}}, {"functionCall": {"name": "g"}}), ctx)
    second = gemini_message(candidate({"functionCall": {"name": "f", "args": {"city": "Bergen"}}}, index=1), ctx)
    calls = first["tool_calls"] + second["tool_calls"]
    assert [call["index"] for call in calls] == [0, 1, 2]
    assert [call["function"]["name"] for call in calls] == ["f", "g", "f"]
    assert calls[1]["function"]["arguments"] == "{}"
    assert all(GENERATED_ID.match(call["id"]) for call in calls)
    assert len({call["id"] for call in calls}) == 3
    assert stream_of(ctx).tool_call_index == 3


def test_arguments_keep_non_ascii_and_google_ids_are_reused() -> None:
    message = gemini_message(candidate({"functionCall": {"id": "fc-1", "name": "f", "args": {"city": "Tromsø"}}}), make_ctx())
    assert message["tool_calls"][0]["id"] == "fc-1"
    assert message["tool_calls"][0]["function"]["arguments"] == '{"city": "Tromsø"}'


def test_signed_function_call_carries_the_signature_three_ways() -> None:
    part = {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}, "thoughtSignature": "CpYBAXLI2nw=="}
    message = gemini_message(candidate(part), make_ctx())
    call = message["tool_calls"][0]
    call_id, separator, signature = call["id"].partition("__thought__")
    assert GENERATED_ID.match(call_id) and separator and signature == "CpYBAXLI2nw=="
    assert call["provider_specific_fields"] == {"thought_signature": "CpYBAXLI2nw=="}
    # A signed function call is not thinking: no thinking block, the signature is listed instead.
    assert "thinking_blocks" not in message
    assert message["provider_specific_fields"] == {"thought_signatures": ["CpYBAXLI2nw=="]}


def test_signed_text_parts_record_thought_signatures() -> None:
    message = gemini_message(
        candidate({"text": "plan", "thought": True, "thoughtSignature": "S1"}, {"text": "Answer", "thoughtSignature": "S2"}, {"text": "", "thoughtSignature": "S3"}),
        make_ctx(),
    )
    assert message["content"] == "Answer"
    assert message["reasoning_content"] == "plan"
    # Thought parts become thinking blocks (text + signature); every signature is listed in order.
    assert message["thinking_blocks"] == [{"type": "thinking", "thinking": "plan", "signature": "S1"}]
    assert message["provider_specific_fields"] == {"thought_signatures": ["S1", "S2", "S3"]}


def test_legacy_functions_give_one_function_call() -> None:
    ctx = make_ctx(functions=[{"name": "convert", "parameters": {"type": "object"}}])
    message = gemini_message(
        candidate(
            {"functionCall": {"name": "convert", "args": {"v": 3}}, "thoughtSignature": "SIG"},
            {"functionCall": {"name": "other", "args": {}}},
        ),
        ctx,
    )
    assert "tool_calls" not in message
    assert message["function_call"] == {"name": "convert", "arguments": '{"v": 3}', "provider_specific_fields": {"thought_signature": "SIG"}}
    assert stream_of(ctx).tool_call_index == 0
    assert any("other" in warning for warning in ctx.warnings)


def test_functions_alongside_tools_use_tool_calls() -> None:
    ctx = make_ctx(functions=[{"name": "f"}], tools=[{"type": "function", "function": {"name": "f"}}])
    message = gemini_message(candidate({"functionCall": {"name": "f", "args": {}}}), ctx)
    assert "function_call" not in message and message["tool_calls"][0]["function"]["name"] == "f"


def test_inline_data_images_audio_and_other_mime() -> None:
    message = gemini_message(
        candidate(
            {"text": "Here: "},
            {"inlineData": {"mimeType": "image/png", "data": "iVBORw0"}},
            {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4A"}},
            {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0"}},
        ),
        make_ctx(),
    )
    assert message["content"] == "Here: data:application/pdf;base64,JVBERi0"
    assert message["images"] == [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0", "detail": "auto"}, "index": 0},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4A", "detail": "auto"}, "index": 1},
    ]


def test_audio_inline_data_and_audio_data_uri_text() -> None:
    message = gemini_message(candidate({"inlineData": {"mimeType": "audio/L16;codec=pcm;rate=24000", "data": "AAEC"}}), make_ctx())
    assert message["content"] is None
    assert message["audio"]["data"] == "AAEC" and message["audio"]["transcript"] == ""
    assert isinstance(message["audio"]["expires_at"], int)
    message = gemini_message(candidate({"text": "data:audio/wav;base64,UklGR"}), make_ctx())
    assert message["content"] is None and message["audio"]["data"] == "UklGR"


def test_code_execution_is_rendered_and_kept_raw() -> None:
    code = {"executableCode": {"language": "PYTHON", "code": "print(2 + 2)\n"}}
    result = {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "4\n"}}
    message = gemini_message(candidate({"text": "Computing:"}, code, result, {"text": "The answer is 4."}), make_ctx())
    assert message["content"] == "Computing:\n```python\nprint(2 + 2)\n```\n```output\n4\n```\nThe answer is 4."
    assert message["provider_specific_fields"]["code_execution"] == [code, result]


def test_code_block_in_a_later_stream_event_starts_on_a_new_line() -> None:
    ctx = make_ctx(stream=True)
    assert gemini_message(candidate({"text": "Computing:"}), ctx)["content"] == "Computing:"
    code = {"executableCode": {"language": "PYTHON", "code": "x = 1"}}
    assert gemini_message(candidate(code), ctx)["content"] == "\n```python\nx = 1\n```\n"
    # The block ended its line, so the next block needs no extra newline.
    assert gemini_message(candidate(code), ctx)["content"] == "```python\nx = 1\n```\n"


def test_grounding_supports_become_url_citations_one_per_cited_web_chunk() -> None:
    grounding = {
        "webSearchQueries": ["weather oslo"],
        "groundingChunks": [{"web": {"uri": "https://a.example", "title": "yr.no"}}, {"retrievedContext": {"uri": "gs://x"}}, {"web": {"uri": "https://b.example", "title": "met.no"}}],
        "groundingSupports": [
            {"segment": {"endIndex": 12, "text": "Il fait 4 °C"}, "groundingChunkIndices": [0, 2]},
            {"segment": {"startIndex": 13, "endIndex": 20}, "groundingChunkIndices": [2]},
            {"segment": {"startIndex": 21, "endIndex": 30}, "groundingChunkIndices": [1]},  # not a web chunk
            {"segment": {"startIndex": 31, "endIndex": 40}, "groundingChunkIndices": []},
            {"segment": {"startIndex": 41, "endIndex": 50}, "groundingChunkIndices": [9]},  # out of range
        ],
    }
    message = gemini_message(candidate({"text": "Il fait 4 °C à Oslo."}, groundingMetadata=grounding), make_ctx())
    # The first support cites two web chunks: one annotation each (a missing startIndex is 0).
    assert message["annotations"] == [
        {"type": "url_citation", "url_citation": {"start_index": 0, "end_index": 12, "url": "https://a.example", "title": "yr.no"}},
        {"type": "url_citation", "url_citation": {"start_index": 0, "end_index": 12, "url": "https://b.example", "title": "met.no"}},
        {"type": "url_citation", "url_citation": {"start_index": 13, "end_index": 20, "url": "https://b.example", "title": "met.no"}},
    ]


# --- logprobs --------------------------------------------------------------------------


def test_logprobs_pair_chosen_and_top_candidates() -> None:
    logprobs = gemini_logprobs(
        {
            "logprobsResult": {
                "topCandidates": [
                    {"candidates": [{"token": "Il", "logProbability": -0.01}, {"token": "Le", "logProbability": -4.7}]},
                    {"candidates": [{"token": " fait"}]},
                ],
                "chosenCandidates": [{"token": "Il", "logProbability": -0.01}, {"token": " fait"}, {"token": " 4", "logProbability": -0.5}],
            },
            "avgLogprobs": -0.12,
        },
        make_ctx(),
    )
    assert logprobs == {
        "content": [
            {"token": "Il", "logprob": -0.01, "top_logprobs": [{"token": "Il", "logprob": -0.01}, {"token": "Le", "logprob": -4.7}]},
            {"token": " fait", "logprob": 0.0, "top_logprobs": [{"token": " fait", "logprob": 0.0}]},
            {"token": " 4", "logprob": -0.5, "top_logprobs": []},
        ]
    }
    assert gemini_logprobs(candidate({"text": "x"}), make_ctx()) is None


# --- blocked and empty -----------------------------------------------------------------

CONTENT_FILTER_CHOICES = [{"index": 0, "message": {"role": "assistant", "content": None}, "finish_reason": "content_filter"}]


def test_blocked_prompt_is_a_content_filter_choice_not_an_error() -> None:
    ctx = make_ctx()
    response = {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}}
    assert gemini_blocked(response, ctx) == CONTENT_FILTER_CHOICES
    # Blocked responses report only the three counts.
    assert gemini_response_usage(response, ctx) == {"prompt_tokens": 9, "completion_tokens": 0, "total_tokens": 9}


@pytest.mark.parametrize("finish", ["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"])
def test_safety_finish_discards_partial_content(finish: str) -> None:
    ctx = make_ctx()
    response = {"candidates": [candidate({"text": "partial answer"}, finishReason=finish)],
                "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6}}
    assert gemini_blocked(response, ctx) == CONTENT_FILTER_CHOICES
    assert gemini_response_usage(response, ctx) == {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}


@pytest.mark.parametrize("finish", ["STOP", "MAX_TOKENS", "OTHER", None])
def test_unblocked_responses_are_left_alone(finish: str | None) -> None:
    ctx = make_ctx()
    fields = {"finishReason": finish} if finish else {}
    assert gemini_blocked({"candidates": [candidate({"text": "ok"}, **fields)]}, ctx) is None
    assert gemini_blocked({}, ctx) is None
    usage_metadata = {"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6}
    assert "prompt_tokens_details" in gemini_response_usage({"candidates": [candidate({"text": "ok"}, **fields)], "usageMetadata": usage_metadata}, ctx)


@pytest.mark.parametrize(
    ("response", "finish_reason"),
    [
        ({}, "stop"),
        ({"candidates": []}, "stop"),
        ({"candidates": [{"finishReason": "MAX_TOKENS", "index": 0}]}, "length"),
        ({"candidates": [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS"}]}, "length"),
        ({"candidates": [{"content": {"role": "model", "parts": []}, "finishReason": "STOP"}]}, "stop"),
        ({"candidates": [{"finishReason": "LANGUAGE"}]}, "content_filter"),
        ({"candidates": [{"finishReason": "NO_IMAGE"}]}, "stop"),
    ],
)
def test_empty_candidates_give_one_choice(response: dict[str, Any], finish_reason: str) -> None:
    assert gemini_empty_candidates(response, make_ctx()) == [
        {"index": 0, "message": {"role": "assistant", "content": None}, "finish_reason": finish_reason}
    ]


def test_candidates_with_parts_are_not_empty() -> None:
    response = {"candidates": [{"finishReason": "MAX_TOKENS"}, candidate({"text": "hi"}, index=1)]}
    assert gemini_empty_candidates(response, make_ctx()) is None


def test_empty_stream_events_are_not_replaced_and_a_trailing_stop_after_a_call_ends_with_tool_calls() -> None:
    # In a stream an empty event is normal: the replacement is declared `stream: false`.
    assert _RESPONSE.replace_choices[1][1] is False
    from engine.runtime.assemble import StreamAssembler
    from engine.runtime.prepare import prepare

    call = {"model": "gemini/gemini-3-flash-preview", "messages": [{"role": "user", "content": "Hi"}], "api_key": "k-123456",
            "tools": [{"type": "function", "function": {"name": "f"}}], "stream": True}
    stream = StreamAssembler(prepare("chat", call, resolve_credentials=False))
    stream.feed({"usageMetadata": {"trafficType": "ON_DEMAND"}})
    stream.feed({"candidates": [candidate({"functionCall": {"name": "f", "args": {}}})]})
    chunks = stream.feed({"candidates": [{"content": {"role": "model"}, "finishReason": "STOP"}]})
    assert [c["choices"][0]["finish_reason"] for c in chunks if c.get("choices")][-1] == "tool_calls"


def test_finish_reason_table_matches_reference() -> None:
    assert FINISH_REASONS["MAX_TOKENS"] == "length"
    assert FINISH_REASONS["MALFORMED_FUNCTION_CALL"] == "stop"
    assert {key for key, value in FINISH_REASONS.items() if value == "content_filter"} == {
        "SAFETY", "RECITATION", "LANGUAGE", "OTHER", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
    }


# --- hidden metadata -------------------------------------------------------------------


def test_grounding_hidden_lists_metadata_per_candidate() -> None:
    grounded = {"webSearchQueries": ["weather oslo", "oslo forecast"], "groundingChunks": []}
    ratings = [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}]
    citations = {"citations": [{"startIndex": 0, "endIndex": 40, "uri": "https://c.example"}]}
    url_context = {"urlMetadata": [{"retrievedUrl": "https://u.example", "urlRetrievalStatus": "URL_RETRIEVAL_STATUS_SUCCESS"}]}
    response = {
        "candidates": [
            candidate({"text": "a"}, groundingMetadata=grounded, safetyRatings=ratings, citationMetadata=citations, urlContextMetadata=url_context),
            candidate({"text": "b"}, index=1, safetyRatings=ratings, groundingMetadata={"groundingChunks": []}),
        ]
    }
    assert gemini_grounding_hidden(response, make_ctx()) == {
        "vertex_ai_grounding_metadata": [grounded, {"groundingChunks": []}],
        "vertex_ai_url_context_metadata": [url_context],
        "vertex_ai_safety_results": [ratings, ratings],
        "vertex_ai_citation_metadata": [citations],
        "web_search_requests": 1,  # one grounded candidate, not two queries
    }


def test_grounding_hidden_omits_empty_lists() -> None:
    assert gemini_grounding_hidden({"candidates": [candidate({"text": "a"})]}, make_ctx()) == {}
    assert gemini_grounding_hidden({}, make_ctx()) == {}


# --- usage -----------------------------------------------------------------------------


def test_usage_thoughts_not_added_when_candidates_already_include_them() -> None:
    usage = gemini_usage({"promptTokenCount": 50, "candidatesTokenCount": 52, "thoughtsTokenCount": 40, "totalTokenCount": 102}, make_ctx())
    assert (usage["completion_tokens"], usage["total_tokens"]) == (52, 102)
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 40


def test_usage_without_thoughts() -> None:
    usage = gemini_usage({"promptTokenCount": 7, "candidatesTokenCount": 2, "totalTokenCount": 9}, make_ctx())
    assert usage == {
        "prompt_tokens": 7,
        "completion_tokens": 2,
        "total_tokens": 9,
        "prompt_tokens_details": {"cached_tokens": None},
        "completion_tokens_details": {"reasoning_tokens": None, "text_tokens": 2},
    }


def test_usage_cached_tokens_and_modality_details() -> None:
    usage = gemini_usage(
        {
            "promptTokenCount": 120,
            "candidatesTokenCount": 30,
            "thoughtsTokenCount": 210,
            "cachedContentTokenCount": 64,
            "totalTokenCount": 360,
            "toolUsePromptTokenCount": 0,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 100}, {"modality": "IMAGE", "tokenCount": 20}],
            "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 30}],
            "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 64}],
            "trafficType": "ON_DEMAND",
        },
        make_ctx(),
    )
    assert usage == {
        "prompt_tokens": 120,
        "completion_tokens": 240,
        "total_tokens": 360,
        # cacheTokensDetails says the 64 cached tokens are text: text_tokens are the fresh ones.
        "prompt_tokens_details": {
            "cached_tokens": 64,
            "text_tokens": 36,
            "image_tokens": 20,
            "cached_tokens_details": {"text_tokens": 64},
        },
        "completion_tokens_details": {"reasoning_tokens": 210, "text_tokens": 30},
        "cache_read_input_tokens": 64,
        "reasoning_tokens": 210,
    }


def test_usage_prompt_text_not_reduced_by_cache_when_audio_present() -> None:
    usage = gemini_usage(
        {
            "promptTokenCount": 100,
            "candidatesTokenCount": 10,
            "totalTokenCount": 110,
            "cachedContentTokenCount": 30,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 60}, {"modality": "AUDIO", "tokenCount": 40}],
        },
        make_ctx(),
    )
    assert usage["prompt_tokens_details"] == {"cached_tokens": 30, "text_tokens": 60, "audio_tokens": 40}


def test_usage_completion_text_derived_from_image_and_audio_when_missing() -> None:
    usage = gemini_usage(
        {
            "promptTokenCount": 10,
            "candidatesTokenCount": 1300,
            "totalTokenCount": 1310,
            "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1290}],
        },
        make_ctx(),
    )
    assert usage["completion_tokens_details"] == {"reasoning_tokens": None, "text_tokens": 10, "image_tokens": 1290}


def test_usage_cached_larger_than_prompt_is_added_back() -> None:
    # Pitfall 11: explicit caching on Vertex sometimes reports only the fresh prompt tokens.
    usage = gemini_usage(
        {
            "promptTokenCount": 20,
            "candidatesTokenCount": 5,
            "cachedContentTokenCount": 4096,
            "totalTokenCount": 25,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 20}],
        },
        make_ctx(),
    )
    assert (usage["prompt_tokens"], usage["total_tokens"], usage["completion_tokens"]) == (4116, 4121, 5)
    assert usage["prompt_tokens_details"] == {"cached_tokens": 4096, "text_tokens": 20}


def test_usage_live_api_response_token_count() -> None:
    usage = gemini_usage({"promptTokenCount": 3, "responseTokenCount": 4, "totalTokenCount": 7}, make_ctx())
    assert usage["completion_tokens"] == 4


@pytest.mark.parametrize("metadata", [None, {}, {"trafficType": "ON_DEMAND"}, {"candidatesTokenCount": 3}])
def test_usage_without_counts_is_none(metadata: dict[str, Any] | None) -> None:
    assert gemini_usage(metadata, make_ctx()) is None


def test_finish_message_is_kept_in_provider_fields() -> None:
    message = gemini_message({"finishReason": "MALFORMED_FUNCTION_CALL", "finishMessage": "Malformed function call: f(x="}, make_ctx())
    assert message == {"role": "assistant", "content": None, "provider_specific_fields": {"finish_message": "Malformed function call: f(x="}}


# --- error objects sent with HTTP 200 ------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "exception", "status"),
    [
        ({"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}, errors.ServiceUnavailableError, 503),
        ({"code": 429, "message": "Resource exhausted.", "status": "RESOURCE_EXHAUSTED"}, errors.RateLimitError, 429),
        ({"code": 500, "message": "Internal error.", "status": "INTERNAL"}, errors.InternalServerError, 500),
        ({"message": "no code at all"}, errors.InternalServerError, 500),
    ],
)
def test_error_object_raises_the_typed_error(error: dict[str, Any], exception: type, status: int) -> None:
    with pytest.raises(exception) as caught:
        gemini_error({"error": error}, make_ctx())
    assert caught.value.status_code == status
    assert caught.value.llm_provider == "vertex_ai"
    assert error["message"] in str(caught.value)


def test_error_hook_names_ai_studio_and_ignores_responses() -> None:
    ctx = Context(request={}, model="gemini-2.5-flash", model_string="gemini/gemini-2.5-flash", host="ai_studio",
                  provider="gemini")  # the ai_studio host's provider, as prepare sets it
    with pytest.raises(errors.APIError) as caught:
        gemini_error({"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}, ctx)
    assert caught.value.llm_provider == "gemini" and caught.value.model == "gemini/gemini-2.5-flash"
    assert gemini_error(WORKED_EXAMPLE, make_ctx()) is None
    assert gemini_error({"candidates": [], "error": "text, not an object"}, make_ctx()) is None


# --- found by bench/diff_litellm.py (differential check against LiteLLM) ----------------


def test_tool_use_prompt_tokens_are_input_unless_search_grounding_ran() -> None:
    usage_metadata = {"promptTokenCount": 10, "candidatesTokenCount": 5, "toolUsePromptTokenCount": 50, "totalTokenCount": 65}
    # URL context / code execution: the fetched content is billed as input.
    usage = gemini_response_usage({"candidates": [candidate({"text": "x"})], "usageMetadata": usage_metadata}, make_ctx())
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (60, 5, 65)
    assert usage["prompt_tokens_details"] == {"cached_tokens": None, "tool_use_tokens": 50}
    # Candidates + tool use + prompt == total: thoughts (none here) are not inside candidates.
    assert usage["completion_tokens_details"]["text_tokens"] == 5
    # Search grounding is billed per request, its retrieved tokens are not input.
    grounded = candidate({"text": "x"}, groundingMetadata={"webSearchQueries": ["q"]})
    usage = gemini_response_usage({"candidates": [grounded], "usageMetadata": usage_metadata}, make_ctx())
    assert usage["prompt_tokens"] == 10
    assert usage["prompt_tokens_details"] == {"cached_tokens": None, "tool_use_tokens": 50, "web_search_requests": 1}


def test_web_search_requests_per_grounded_prompt_before_gemini_3_per_query_after() -> None:
    grounding = {"webSearchQueries": ["a", "b", "a", ""]}
    response = {
        "candidates": [candidate({"text": "x"}, groundingMetadata=grounding)],
        "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2},
    }
    assert gemini_response_usage(response, make_ctx())["prompt_tokens_details"]["web_search_requests"] == 1
    gemini_3 = gemini_ctx("gemini-3-pro-preview")
    assert gemini_response_usage(response, gemini_3)["prompt_tokens_details"]["web_search_requests"] == 2
    assert gemini_grounding_hidden(response, gemini_3)["web_search_requests"] == 2


def test_response_usage_without_usage_metadata_is_none() -> None:
    assert gemini_response_usage({"candidates": [candidate({"text": "x"})]}, make_ctx()) is None
    assert gemini_response_usage({"usageMetadata": {"trafficType": "ON_DEMAND"}}, make_ctx()) is None


def test_usage_document_video_image_modalities_and_cache_without_details() -> None:
    usage = gemini_usage(
        {
            "promptTokenCount": 900,
            "candidatesTokenCount": 2,
            "totalTokenCount": 902,
            "cachedContentTokenCount": 50,
            "promptTokensDetails": [
                {"modality": "TEXT", "tokenCount": 10},
                {"modality": "DOCUMENT", "tokenCount": 90},  # a PDF's text counts as text
                {"modality": "VIDEO", "tokenCount": 700},
                {"modality": "IMAGE", "tokenCount": 100},
            ],
        },
        make_ctx(),
    )
    # No cacheTokensDetails and no audio: the cached tokens are taken out of the text count.
    assert usage["prompt_tokens_details"] == {
        "cached_tokens": 50,
        "text_tokens": 50,
        "image_tokens": 100,
        "video_tokens": 700,
    }
    assert usage["completion_tokens_details"] == {"reasoning_tokens": None, "text_tokens": 2}


def test_usage_text_tokens_exclude_thoughts_counted_inside_candidates() -> None:
    # prompt + candidates == total: candidatesTokenCount already contains the 20 thought tokens.
    usage = gemini_usage({"promptTokenCount": 10, "candidatesTokenCount": 30, "thoughtsTokenCount": 20, "totalTokenCount": 40}, make_ctx())
    assert usage["completion_tokens"] == 30
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 20, "text_tokens": 10}


def test_thought_parts_are_thinking_blocks_signed_calls_are_not() -> None:
    message = gemini_message(
        candidate(
            {"text": "first", "thought": True},
            {"text": "second", "thought": True, "thoughtSignature": "T2"},
            {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "F1"},
        ),
        make_ctx(tools=[{"type": "function", "function": {"name": "f"}}]),
    )
    assert message["reasoning_content"] == "firstsecond"
    # Every thought is a block, as Claude's are (signature "" when Gemini sent none); a signed
    # function call is not thinking.
    assert message["thinking_blocks"] == [
        {"type": "thinking", "thinking": "first", "signature": ""},
        {"type": "thinking", "thinking": "second", "signature": "T2"},
    ]
    assert message["provider_specific_fields"] == {"thought_signatures": ["T2", "F1"]}
    assert message["tool_calls"][0]["provider_specific_fields"] == {"thought_signature": "F1"}


# --- found by tests/unit/test_fuzz_inputs.py: malformed upstream JSON ---------------------------


def _with_part(part: Any) -> dict[str, Any]:
    return {"candidates": [{"content": {"role": "model", "parts": [part]}}]}


@pytest.mark.parametrize(
    "response, where",
    [
        ([], "the response: expected an object, got array"),
        (None, "the response: expected an object, got null"),
        ({"candidates": {"0": {}}}, "candidates: expected an array, got object"),
        ({"candidates": ["text"]}, "candidates[0]: expected an object, got string"),
        ({"candidates": [None]}, "candidates[0]: expected an object, got null"),
        ({"candidates": [{"index": "0"}]}, "candidates[0].index: expected an integer, got string"),
        ({"candidates": [{"finishReason": ["STOP"]}]}, "candidates[0].finishReason: expected a string, got array"),
        ({"candidates": [{"content": "hi"}]}, "candidates[0].content: expected an object, got string"),
        ({"candidates": [{"content": {"parts": "hi"}}]}, "candidates[0].content.parts: expected an array"),
        (_with_part(7), "candidates[0].content.parts[0]: expected an object, got number"),
        (_with_part({"text": 5}), "candidates[0].content.parts[0].text: expected a string, got number"),
        (_with_part({"text": "t", "thought": "yes"}), "parts[0].thought: expected a boolean, got string"),
        (_with_part({"functionCall": {"name": "f", "args": [1]}}), "parts[0].functionCall.args: expected an object, got array"),
        (_with_part({"functionCall": {"args": {}}}), "parts[0].functionCall.name: expected a non-empty string, got null"),
        (_with_part({"functionCall": "f()"}), "parts[0].functionCall: expected an object, got string"),
        (_with_part({"inlineData": {"mimeType": 5}}), "parts[0].inlineData.mimeType: expected a string"),
        (_with_part({"executableCode": {"code": ["x"]}}), "parts[0].executableCode.code: expected a string"),
        (_with_part({"codeExecutionResult": {"output": 1}}), "parts[0].codeExecutionResult.output: expected a string"),
        ({"usageMetadata": [1]}, "usageMetadata: expected an object, got array"),
        ({"usageMetadata": {"promptTokenCount": "12"}}, "usageMetadata.promptTokenCount: expected an integer, got string"),
        ({"usageMetadata": {"totalTokenCount": True}}, "usageMetadata.totalTokenCount: expected an integer, got boolean"),
        ({"usageMetadata": {"promptTokensDetails": 3.5}}, "usageMetadata.promptTokensDetails: expected an array"),
        (
            {"usageMetadata": {"candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": "3"}]}},
            "usageMetadata.candidatesTokensDetails[0].tokenCount: expected an integer",
        ),
        ({"promptFeedback": "blocked"}, "promptFeedback: expected an object, got string"),
        ({"promptFeedback": {"blockReason": {}}}, "promptFeedback.blockReason: expected a string, got object"),
        ({"responseId": 42}, "responseId: expected a string, got number"),
        (
            {"candidates": [{"groundingMetadata": {"webSearchQueries": [["q"]]}}]},
            "candidates[0].groundingMetadata.webSearchQueries[0]: expected a string, got array",
        ),
        (
            {"candidates": [{"groundingMetadata": {"groundingChunks": [{"web": "https://x"}]}}]},
            "groundingChunks[0].web: expected an object, got string",
        ),
        (
            {"candidates": [{"groundingMetadata": {"groundingSupports": [{"segment": {"endIndex": "3"}}]}}]},
            "groundingSupports[0].segment.endIndex: expected an integer",
        ),
        (
            {"candidates": [{"logprobsResult": {"chosenCandidates": [None]}}]},
            "candidates[0].logprobsResult.chosenCandidates[0]: expected an object, got null",
        ),
        (
            {"candidates": [{"logprobsResult": {"topCandidates": [{"candidates": [{"logProbability": "low"}]}]}}]},
            "topCandidates[0].candidates[0].logProbability: expected a number, got string",
        ),
    ],
)
def test_a_malformed_response_is_unprocessable_naming_the_field(response, where):
    for hook in (gemini_blocked, gemini_empty_candidates, gemini_grounding_hidden, gemini_response_usage):
        with pytest.raises(errors.UnprocessableEntityError) as caught:
            hook(response, make_ctx())
        assert caught.value.message.startswith("vertex_ai returned a response the engine cannot read: ")
        assert where in caught.value.message
        assert caught.value.status_code == 422


def test_null_fields_read_as_absent():
    response = {
        "candidates": [
            {
                "content": {"role": None, "parts": [{"text": None, "functionCall": None, "inlineData": None}, {"text": "hi"}]},
                "finishReason": None,
                "index": None,
                "groundingMetadata": {"groundingChunks": [None], "groundingSupports": [{"segment": {"endIndex": None}}]},
                "logprobsResult": {"chosenCandidates": [{"token": None, "logProbability": None}]},
            }
        ],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": None, "totalTokenCount": None},
        "promptFeedback": {"blockReason": None},
        "responseId": None,
    }
    ctx = make_ctx()
    assert gemini_error(response, ctx) is None
    assert gemini_blocked(response, ctx) is None
    assert gemini_message(response["candidates"][0], ctx) == {"role": "assistant", "content": "hi"}
    assert gemini_logprobs(response["candidates"][0], ctx) == {"content": [{"token": "", "logprob": 0.0, "top_logprobs": []}]}
    usage = gemini_response_usage(response, ctx)
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (3, 0, 3)


def test_the_engine_reports_a_malformed_response_for_the_call():
    from engine.runtime.assemble import StreamAssembler, assemble_response
    from engine.runtime.prepare import prepare

    call = {"model": "gemini/gemini-2.5-flash", "messages": [{"role": "user", "content": "Hi"}], "api_key": "k-123456"}
    body = _with_part({"functionCall": {"name": "f", "args": "{}"}})
    with pytest.raises(errors.UnprocessableEntityError) as caught:
        assemble_response(prepare("chat", call, resolve_credentials=False), body)
    assert caught.value.llm_provider == "gemini" and caught.value.model == "gemini/gemini-2.5-flash"
    assert "candidates[0].content.parts[0].functionCall.args: expected an object, got string" in caught.value.message
    stream = StreamAssembler(prepare("chat", {**call, "stream": True}, resolve_credentials=False))
    assert stream.feed({"candidates": [{"content": {"parts": [{"text": "Hel"}]}}]})
    with pytest.raises(errors.UnprocessableEntityError, match=r"usageMetadata\.totalTokenCount"):
        stream.feed({"usageMetadata": {"totalTokenCount": "9"}})


def test_usage_on_its_own_refuses_malformed_usage_metadata():
    with pytest.raises(errors.UnprocessableEntityError, match=r"usageMetadata\.promptTokensDetails\[0\]: expected an object"):
        gemini_usage({"promptTokenCount": 1, "promptTokensDetails": ["TEXT"]}, make_ctx())
    assert gemini_usage(None, make_ctx()) is None
