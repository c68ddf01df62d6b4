"""OpenAI batch JSONL <-> Vertex batch JSONL, and Vertex job states -> OpenAI statuses (no I/O)."""

from __future__ import annotations

import json

import pytest

from engine.errors import BadRequestError
from engine.resources.batch_jsonl import LABEL_FILE, LABEL_LINE, is_model_id, model_id, to_openai, to_vertex
from engine.resources.batches import BATCH_STATUS, batch_object
from engine.resources.fine_tuning import TUNING_STATUS, fine_tuning_job, tuning_body


def _line(custom_id: str, content: str = "hi", **body: object) -> str:
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
                       "body": {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": content}], **body}})


def _convert(*lines: str):
    return to_vertex("\n".join(lines).encode(), "key-1", project="p", location="us-central1")


def test_each_line_becomes_the_gemini_request_the_chat_mapping_builds():
    converted = _convert(_line("a", "first", max_tokens=5, temperature=0.5), _line("b", "second", stop=["x"]))
    requests = [json.loads(line)["request"] for line in converted.jsonl.decode().splitlines()]
    assert converted.model == "gemini-2.5-flash" and converted.count == 2
    assert requests[0]["contents"] == [{"role": "user", "parts": [{"text": "first"}]}]
    assert requests[0]["generationConfig"] == {"maxOutputTokens": 5, "temperature": 0.5}
    assert requests[1]["generationConfig"] == {"stopSequences": ["x"]}
    assert requests[0]["labels"] == {LABEL_FILE: "key-1", LABEL_LINE: "1"}
    assert requests[1]["labels"][LABEL_LINE] == "2"
    assert converted.custom_ids == {"1": "a", "2": "b"}


@pytest.mark.parametrize(
    ("lines", "where", "field"),
    [
        ([_line("a"), "{not json"], "line 2", "not valid JSON"),
        ([_line("a"), "", "[1, 2]"], "line 3", "expected a JSON object"),
        ([_line("a"), _line("a")], "line 2", "custom_id 'a' is used twice"),
        ([json.dumps({"method": "POST", "url": "/v1/chat/completions", "body": {}})], "line 1", "custom_id"),
        ([_line("a").replace("/v1/chat/completions", "/v1/embeddings")], "line 1", "url"),
        ([_line("a"), _line("b").replace("gemini-2.5-flash", "gemini-2.0-flash")], "line 2", "differs from line 1"),
        ([_line("a", stream=True)], "line 1", "stream"),
        ([_line("a", temperature="hot")], "line 1", "temperature"),
    ],
)
def test_bad_lines_are_named(lines, where, field):
    with pytest.raises(BadRequestError) as info:
        _convert(*lines)
    assert where in info.value.message and field in info.value.message


def test_empty_and_non_utf8_files_are_refused():
    with pytest.raises(BadRequestError, match="no requests"):
        to_vertex(b"\n\n", "k", project="p", location="l")
    with pytest.raises(BadRequestError, match="UTF-8"):
        to_vertex(b"\xff\xfe", "k", project="p", location="l")


def test_model_id_forms():
    assert model_id("vertex_ai/gemini-2.5-flash") == "gemini-2.5-flash"
    assert model_id("publishers/google/models/gemini-1.5-flash-001") == "gemini-1.5-flash-001"
    assert model_id("gemini-2.5-pro") == "gemini-2.5-pro"
    path = "gs://b/litellm-vertex-files/publishers/google/models/gemini-2.5-flash/0f2c"
    assert model_id(path) == model_id(path.replace("/", "%2F")) == "gemini-2.5-flash"
    assert model_id("projects/p/locations/l/publishers/google/models/gemini-2.5-pro") == "gemini-2.5-pro"
    assert model_id("gemini/gemini-2.5-pro") == "gemini/gemini-2.5-pro"  # not a Vertex spelling: left for is_model_id
    assert is_model_id("claude-3-5-sonnet@20240620") and is_model_id("gemini-1.5-flash-001")
    assert not any(is_model_id(m) for m in ("gemini/gemini-2.5-pro", "", "../x", "a b", "m?x"))


@pytest.mark.parametrize("model", ["gemini/gemini-2.5-pro", "vertex_ai/gemini/123", "openai/gpt-4o", "x?y"])
def test_a_line_model_that_is_not_a_vertex_model_id_is_refused(model):
    with pytest.raises(BadRequestError) as refused:
        _convert(_line("a"), _line("b", model=model))
    assert refused.value.param == "model"
    assert refused.value.message.startswith("file line 2: body.model") and repr(model) in refused.value.message
    with pytest.raises(BadRequestError) as forced:
        to_vertex(_line("a").encode(), "k", project="p", location="us-central1", model=model)
    assert forced.value.param == "model"


def test_the_file_path_the_upload_writes_is_the_model_the_batch_runs():
    from engine.resources.batches import _model_from_file

    converted = _convert(_line("a", model="vertex_ai/gemini-2.5-pro"))
    path = f"gs://b/litellm-vertex-files/publishers/google/models/{converted.model}/k"
    assert converted.model == model_id(path) == "gemini-2.5-pro"
    assert _model_from_file(path) == "publishers/google/models/gemini-2.5-pro"
    with pytest.raises(BadRequestError) as refused:
        _model_from_file("gs://b/somewhere/else.jsonl")
    assert refused.value.param == "input_file_id"
    with pytest.raises(BadRequestError) as tuning:
        tuning_body("gemini/gemini-2.5-pro", "gs://b/train.jsonl")
    assert tuning.value.param == "model"


def _prediction(line: str, text: str | None, key: str = "key-1", status: str = "") -> str:
    item = {"request": {"contents": [], "labels": {LABEL_FILE: key, LABEL_LINE: line}}, "status": status}
    if text is not None:
        item["response"] = {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}],
                            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}}
    return json.dumps(item)


def test_output_lines_come_back_in_input_order_with_their_custom_ids():
    output = "\n".join([_prediction("3", "three"), _prediction("1", "one"), _prediction("2", None, status="Bad Request: nope")])
    lines = to_openai(output.encode(), {"key-1": {"1": "req-b", "2": "req-a", "3": "req-c"}}, "gemini-2.5-flash")
    assert [line["custom_id"] for line in lines] == ["req-b", "req-a", "req-c"]
    assert lines[0]["response"]["body"]["choices"][0]["message"]["content"] == "one"
    assert lines[0]["response"]["body"]["usage"] == {**lines[0]["response"]["body"]["usage"], "prompt_tokens": 3, "completion_tokens": 2}
    assert lines[1]["response"] is None and lines[1]["error"]["message"] == "Bad Request: nope"
    assert lines[2]["error"] is None and lines[2]["response"]["status_code"] == 200


def test_output_without_labels_keeps_order_and_numbers_lines():
    plain = json.dumps({"request": {"contents": []}, "response": {"candidates": [{"content": {"parts": [{"text": "x"}]}}]}, "status": ""})
    lines = to_openai((plain + "\n" + plain + "\n{truncated").encode(), {}, "gemini-2.5-flash")
    assert [line["custom_id"] for line in lines] == ["line-1", "line-2"]


@pytest.mark.parametrize(("state", "status"), sorted(BATCH_STATUS.items()))
def test_batch_states(state, status):
    assert batch_object({"name": "projects/p/locations/l/batchPredictionJobs/42", "state": state})["status"] == status


def test_batch_object_fields():
    batch = batch_object({
        "name": "projects/p/locations/l/batchPredictionJobs/3814889423749775360", "state": "JOB_STATE_SUCCEEDED",
        "createTime": "2024-12-05T09:47:06.120184Z", "endTime": "2024-12-05T10:00:00Z",
        "inputConfig": {"gcsSource": {"uris": ["gs://b/dir/in"]}},
        "outputConfig": {"gcsDestination": {"outputUriPrefix": "gs://b/dir"}},
        "outputInfo": {"gcsOutputDirectory": "gs://b/dir/prediction-model-1"},
        "completionStats": {"successfulCount": "2", "failedCount": "1"},
    })
    assert batch["id"] == "3814889423749775360" and batch["created_at"] == 1733392026
    assert batch["input_file_id"] == "gs://b/dir/in" and batch["output_file_id"] == "gs://b/dir/prediction-model-1"
    assert batch["request_counts"] == {"total": 3, "completed": 2, "failed": 1}
    assert batch["completed_at"] == 1733392800 and batch["failed_at"] is None


@pytest.mark.parametrize(("state", "status"), [*TUNING_STATUS.items(), ("JOB_STATE_QUEUED", "queued"), ("JOB_STATE_CANCELLING", "queued")])
def test_tuning_states(state, status):
    assert fine_tuning_job({"name": "n", "state": state})["status"] == status


def test_tuning_body_and_job_mapping():
    body = tuning_body("vertex_ai/gemini-2.0-flash-001", "gs://b/t.jsonl", {"n_epochs": 2, "batch_size": 8, "learning_rate_multiplier": "auto"})
    assert body == {"baseModel": "gemini-2.0-flash-001",
                    "supervisedTuningSpec": {"trainingDatasetUri": "gs://b/t.jsonl", "hyperParameters": {"epochCount": 2}}}
    with pytest.raises(BadRequestError, match="hyperparameters.n_epochs"):
        tuning_body("m", "gs://b/t.jsonl", {"n_epochs": 0})
    with pytest.raises(BadRequestError, match="hyperparameters.warmup"):
        tuning_body("m", "gs://b/t.jsonl", {"warmup": 1})
    job = fine_tuning_job({"name": "projects/p/locations/l/tuningJobs/7", "state": "JOB_STATE_SUCCEEDED", "baseModel": "m",
                           "supervisedTuningSpec": {"trainingDatasetUri": "gs://b/t", "hyperParameters": {"epochCount": "3"}},
                           "tunedModel": {"endpoint": "projects/p/locations/l/endpoints/123"}, "endTime": "2024-12-05T10:00:00Z"})
    assert job["fine_tuned_model"] == "vertex_ai/gemini/123" and job["hyperparameters"] == {"n_epochs": 3}
    assert job["finished_at"] == 1733392800
