"""The seeds' Vertex Batch API example (steps 1-4) through the official ``openai`` client and the
gateway, against the fake Google (Cloud Storage + batchPredictionJobs), plus files/batches edges."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import openai
import pytest

from .conftest import MASTER

BUCKET = "litellm-testing-bucket"

# The seeds' vertex_batch_completions.jsonl, plus a third line, listed out of custom_id order
# so "input order" and "sorted ids" differ.
SEED_LINES = [
    {"custom_id": "request-1", "method": "POST", "url": "/v1/chat/completions",
     "body": {"model": "gemini-1.5-flash-001", "messages": [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Hello world!"}], "max_tokens": 10}},
    {"custom_id": "request-2", "method": "POST", "url": "/v1/chat/completions",
     "body": {"model": "gemini-1.5-flash-001", "messages": [{"role": "system", "content": "You are an unhelpful assistant."}, {"role": "user", "content": "Hello world!"}], "max_tokens": 10}},
    {"custom_id": "a-last", "method": "POST", "url": "/v1/chat/completions",
     "body": {"model": "gemini-1.5-flash-001", "messages": [{"role": "user", "content": "Third question"}], "temperature": 0.2}},
]


@pytest.fixture()
def gw(start_gateway, fake, monkeypatch):
    monkeypatch.setenv("GCS_BUCKET_NAME", BUCKET)
    monkeypatch.setenv("VERTEXAI_LOCATION", "us-central1")
    monkeypatch.setenv("VERTEXAI_PROJECT", "my-test-project")
    return start_gateway({"model_list": [{"model_name": "gemini-flash", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash"}}]})


@pytest.fixture()
def batch_file(tmp_path: Path) -> Path:
    path = tmp_path / "vertex_batch_completions.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in SEED_LINES) + "\n")
    return path


def test_seed_batch_steps_1_to_4(gw, fake, batch_file):
    oai_client = openai.OpenAI(api_key=MASTER, base_url=gw.url)

    # 2. upload
    file_obj = oai_client.files.create(file=open(batch_file, "rb"), purpose="batch",
                                       extra_body={"custom_llm_provider": "vertex_ai"})
    assert file_obj.id.startswith(f"gs://{BUCKET}/litellm-vertex-files/publishers/google/models/gemini-1.5-flash-001/")
    assert file_obj.purpose == "batch" and file_obj.status == "uploaded" and file_obj.object == "file"
    assert file_obj.filename == file_obj.id.removeprefix(f"gs://{BUCKET}/")
    upload = fake.last("/upload/storage/v1/b/")
    assert upload.host == "storage.googleapis.com" and upload.query["uploadType"] == "media"
    assert upload.headers["authorization"].startswith("Bearer ")
    stored = [json.loads(line) for line in fake.gcs_object(file_obj.id).decode().splitlines()]
    assert file_obj.bytes == len(fake.gcs_object(file_obj.id))
    # Each line is the Gemini request the chat mapping builds, nothing OpenAI left in it.
    assert stored[0]["request"]["systemInstruction"] == {"parts": [{"text": "You are a helpful assistant."}]}
    assert stored[0]["request"]["contents"] == [{"role": "user", "parts": [{"text": "Hello world!"}]}]
    assert stored[0]["request"]["generationConfig"] == {"maxOutputTokens": 10}
    assert stored[2]["request"]["generationConfig"] == {"temperature": 0.2}
    assert "custom_id" not in json.dumps(stored)

    # 3. create
    batch = oai_client.batches.create(completion_window="24h", endpoint="/v1/chat/completions",
                                      input_file_id=file_obj.id, extra_body={"custom_llm_provider": "vertex_ai"})
    assert batch.status == "validating" and batch.object == "batch"
    assert batch.input_file_id == file_obj.id
    assert batch.output_file_id == file_obj.id.rsplit("/", 1)[0]
    sent = fake.last("/batchPredictionJobs").json
    assert fake.last("/batchPredictionJobs").host == "us-central1-aiplatform.googleapis.com"
    assert "/projects/my-test-project/locations/us-central1/" in fake.last("/batchPredictionJobs").path
    assert sent["model"] == "publishers/google/models/gemini-1.5-flash-001"
    assert sent["inputConfig"] == {"instancesFormat": "jsonl", "gcsSource": {"uris": [file_obj.id]}}
    assert sent["outputConfig"]["gcsDestination"]["outputUriPrefix"] == batch.output_file_id

    # 4. retrieve until done (each read moves the fake job on), then read the output
    seen = []
    for _ in range(5):
        retrieved = oai_client.batches.retrieve(batch_id=batch.id, extra_body={"custom_llm_provider": "vertex_ai"})
        seen.append(retrieved.status)
        if retrieved.status == "completed":
            break
    assert seen == ["in_progress", "completed"]
    assert retrieved.request_counts.total == 3 and retrieved.request_counts.completed == 3
    assert retrieved.completed_at and retrieved.output_file_id.startswith(batch.output_file_id + "/prediction-model-")

    content = oai_client.files.content(retrieved.output_file_id)
    lines = [json.loads(line) for line in content.text.splitlines()]
    # The fake writes predictions in reverse; the gateway answers in input order.
    assert [line["custom_id"] for line in lines] == ["request-1", "request-2", "a-last"]
    for line, source in zip(lines, SEED_LINES):
        body = line["response"]["body"]
        assert line["response"]["status_code"] == 200 and line["error"] is None
        assert body["object"] == "chat.completion"
        assert source["body"]["messages"][-1]["content"] in body["choices"][0]["message"]["content"]
        assert body["usage"]["total_tokens"] > 0


def test_file_retrieve_content_delete_with_slashes_in_the_id(gw, fake, batch_file):
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url + "/v1")
    created = client.files.create(file=open(batch_file, "rb"), purpose="batch", extra_body={"custom_llm_provider": "vertex_ai"})
    again = client.files.retrieve(created.id)
    assert again.id == created.id and again.bytes == created.bytes
    raw = client.files.content(created.id).content
    assert raw == fake.gcs_object(created.id)
    assert client.files.delete(created.id).deleted is True
    assert fake.gcs_object(created.id) is None
    assert fake.gcs_names(BUCKET) == []  # the custom-id table went with it
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(created.id)


def test_invalid_jsonl_is_a_400_naming_the_line_and_uploads_nothing(gw, fake, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(SEED_LINES[0]) + "\n\n" + '{"custom_id": "x", "method": "POST", "url": "/v1/chat/completions", "body": {"model": ' + "\n")
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    with pytest.raises(openai.BadRequestError) as info:
        client.files.create(file=open(bad, "rb"), purpose="batch", extra_body={"custom_llm_provider": "vertex_ai"})
    assert "line 3" in info.value.message
    assert fake.gcs_names(BUCKET) == []
    assert not fake.calls("/upload/storage")


def test_failed_upload_leaves_nothing_behind(gw, fake, batch_file):
    # The custom-id table is uploaded first and succeeds; the converted input then fails:
    # the table must be deleted again, so the bucket holds nothing from this upload.
    fake.script("/upload/storage/v1/b/", status=200)  # the normal answer
    fake.script("/upload/storage/v1/b/", status=503)
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url, max_retries=0)
    with pytest.raises(openai.InternalServerError):
        client.files.create(file=open(batch_file, "rb"), purpose="batch", extra_body={"custom_llm_provider": "vertex_ai"})
    assert len(fake.calls("/upload/storage/v1/b/")) == 2
    assert fake.last("/storage/v1/b/").http_method == "DELETE"
    assert fake.gcs_names(BUCKET) == []


def test_batch_list_and_cancel(gw, fake, batch_file):
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    fake.jobs_advance_on_get = False
    try:
        file_obj = client.files.create(file=open(batch_file, "rb"), purpose="batch", extra_body={"custom_llm_provider": "vertex_ai"})
        first = client.batches.create(completion_window="24h", endpoint="/v1/chat/completions", input_file_id=file_obj.id)
        second = client.batches.create(completion_window="24h", endpoint="/v1/chat/completions", input_file_id=file_obj.id)
        listed = client.batches.list(limit=10)
        assert [b.id for b in listed.data] == [second.id, first.id]
        assert [b.id for b in client.batches.list(after=second.id).data] == [first.id]
        cancelled = client.batches.cancel(first.id)
        assert cancelled.status == "cancelling"
        fake.advance_jobs()
        assert client.batches.retrieve(first.id).status == "cancelled"
        assert client.batches.retrieve(second.id).status == "in_progress"
        with pytest.raises(openai.BadRequestError) as info:
            client.batches.cancel(first.id)
        assert "cancel" in info.value.message.lower()
    finally:
        fake.jobs_advance_on_get = True


def test_failed_batch_reports_errors(gw, fake, batch_file):
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    file_obj = client.files.create(file=open(batch_file, "rb"), purpose="batch", extra_body={"custom_llm_provider": "vertex_ai"})
    batch = client.batches.create(completion_window="24h", endpoint="/v1/chat/completions", input_file_id=file_obj.id)
    fake.finish_jobs(state="JOB_STATE_FAILED")
    failed = client.batches.retrieve(batch.id)
    assert failed.status == "failed" and failed.failed_at
    assert failed.errors.data[0].message


def test_keys_and_provider_are_checked(gw, fake, batch_file):
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(api_key="sk-wrong", base_url=gw.url).batches.list()
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    with pytest.raises(openai.BadRequestError) as info:
        client.files.create(file=open(batch_file, "rb"), purpose="batch", extra_body={"custom_llm_provider": "openai"})
    assert "custom_llm_provider" in info.value.message
    with pytest.raises(openai.BadRequestError) as info:
        client.batches.create(completion_window="24h", endpoint="/v1/chat/completions", input_file_id="gs://b/x.jsonl",
                              extra_body={"vertex_project": "someone-elses"})
    assert "vertex_project" in info.value.message
    with pytest.raises(openai.BadRequestError) as info:
        client.batches.create(completion_window="24h", endpoint="/v1/chat/completions", input_file_id="file-abc")
    assert "input_file_id" in info.value.message
    assert not fake.calls("/batchPredictionJobs")


def _lines_for(model: str) -> str:
    return "\n".join(json.dumps({**line, "body": {**line["body"], "model": model}}) for line in SEED_LINES) + "\n"


def test_virtual_keys_batch_only_their_models_and_see_only_their_own(gw, fake, tmp_path):
    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {MASTER}"}) as admin:
        alice_key = admin.post("/key/generate", json={"models": ["gemini-flash"], "key_alias": "alice"}).json()["key"]
        bob_key = admin.post("/key/generate", json={"key_alias": "bob"}).json()["key"]
    alice = openai.OpenAI(api_key=alice_key, base_url=gw.url)
    bob = openai.OpenAI(api_key=bob_key, base_url=gw.url)
    master = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    other_model = tmp_path / "other.jsonl"
    other_model.write_text(_lines_for("gemini-1.5-flash-001"))
    allowed = tmp_path / "allowed.jsonl"
    allowed.write_text(_lines_for("gemini-2.5-flash"))  # what the gemini-flash group serves

    with pytest.raises(openai.PermissionDeniedError) as refused:
        alice.files.create(file=open(other_model, "rb"), purpose="batch", extra_body={"custom_llm_provider": "vertex_ai"})
    assert "gemini-1.5-flash-001" in refused.value.message
    assert fake.calls("/upload/storage/v1/b/") == []  # refused before anything was uploaded

    file_obj = alice.files.create(file=open(allowed, "rb"), purpose="batch", extra_body={"custom_llm_provider": "vertex_ai"})
    batch = alice.batches.create(completion_window="24h", endpoint="/v1/chat/completions", input_file_id=file_obj.id)
    assert batch.status == "validating"
    fake.finish_jobs()
    done = alice.batches.retrieve(batch.id)
    assert done.status == "completed"
    assert len(alice.files.content(done.output_file_id).text.splitlines()) == len(SEED_LINES)

    # Bob (any model allowed) cannot see, read, reuse or cancel what Alice made: 404, as if absent.
    for attempt in (lambda: bob.batches.retrieve(batch.id), lambda: bob.batches.cancel(batch.id),
                    lambda: bob.files.retrieve(file_obj.id), lambda: bob.files.content(done.output_file_id),
                    lambda: bob.files.delete(file_obj.id),
                    lambda: bob.batches.create(completion_window="24h", endpoint="/v1/chat/completions", input_file_id=file_obj.id)):
        with pytest.raises(openai.NotFoundError):
            attempt()
    assert fake.gcs_object(file_obj.id) is not None
    assert [b.id for b in bob.batches.list().data] == []
    assert [b.id for b in alice.batches.list().data] == [batch.id]
    assert batch.id in [b.id for b in master.batches.list().data]  # the master key sees every batch
    as_master = [json.loads(line)["custom_id"] for line in master.files.content(done.output_file_id).text.splitlines()]
    assert as_master == [line["custom_id"] for line in SEED_LINES]


def test_an_over_budget_key_cannot_start_a_batch(gw, fake, batch_file):
    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {MASTER}"}) as admin:
        key = admin.post("/key/generate", json={"max_budget": 0}).json()["key"]
    client = openai.OpenAI(api_key=key, base_url=gw.url, max_retries=0)
    with pytest.raises(openai.RateLimitError) as over:
        client.files.create(file=open(batch_file, "rb"), purpose="batch", extra_body={"custom_llm_provider": "vertex_ai"})
    assert "budget" in over.value.message
    assert fake.calls("/upload/storage/v1/b/") == []


def test_a_completed_batch_is_charged_once_to_the_key_that_made_it(gw, fake, tmp_path):
    from engine.costs import batch_cost, completion_cost
    from engine.mapping.registry import get_registry

    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {MASTER}"}) as admin:
        key = admin.post("/key/generate", json={"key_alias": "batcher", "max_budget": 10}).json()["key"]
    client = openai.OpenAI(api_key=key, base_url=gw.url)
    lines = tmp_path / "lines.jsonl"
    lines.write_text(_lines_for("gemini-2.5-flash"))
    file_obj = client.files.create(file=open(lines, "rb"), purpose="batch", extra_body={"custom_llm_provider": "vertex_ai"})
    batch = client.batches.create(completion_window="24h", endpoint="/v1/chat/completions", input_file_id=file_obj.id)
    fake.finish_jobs()
    done = client.batches.retrieve(batch.id)
    output = [json.loads(line) for line in client.files.content(done.output_file_id).text.splitlines()]
    _, info = get_registry().info("gemini-2.5-flash")
    usages = [line["response"]["body"]["usage"] for line in output]
    expected = sum(batch_cost(u, info) for u in usages)
    assert expected == pytest.approx(0.5 * sum(completion_cost(u, info) for u in usages)) and expected > 0

    def batch_rows() -> list[dict]:  # written straight to the store, off the request path
        with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {MASTER}"}) as admin:
            return [r for r in admin.get("/spend/logs").json() if r["call_type"] == "batch"]

    deadline = time.monotonic() + 10
    while not batch_rows() and time.monotonic() < deadline:
        time.sleep(0.05)
    (row,) = batch_rows()
    assert row["request_id"] == f"batch-{batch.id}" and row["spend"] == pytest.approx(expected)
    assert row["key_alias"] == "batcher" and row["model_group"] == "gemini-2.5-flash"
    assert row["prompt_tokens"] == sum(u["prompt_tokens"] for u in usages)
    client.batches.retrieve(batch.id)  # read again, and listed: still one row
    client.batches.list()
    time.sleep(0.3)
    assert len(batch_rows()) == 1
    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {MASTER}"}) as admin:
        info_after = admin.get("/key/info", params={"key": key}).json()
    assert info_after["info"]["spend"] == pytest.approx(expected)


def test_a_key_lists_its_older_batches_past_newer_ones_of_other_keys(gw, fake, tmp_path):
    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {MASTER}"}) as admin:
        alice_key = admin.post("/key/generate", json={"key_alias": "alice"}).json()["key"]
        bob_key = admin.post("/key/generate", json={"key_alias": "bob"}).json()["key"]
    alice = openai.OpenAI(api_key=alice_key, base_url=gw.url)
    bob = openai.OpenAI(api_key=bob_key, base_url=gw.url)
    lines = tmp_path / "lines.jsonl"
    lines.write_text(_lines_for("gemini-2.5-flash"))

    def batches(client: openai.OpenAI, count: int) -> list[str]:
        file_id = client.files.create(file=open(lines, "rb"), purpose="batch", extra_body={"custom_llm_provider": "vertex_ai"}).id
        return [client.batches.create(completion_window="24h", endpoint="/v1/chat/completions", input_file_id=file_id).id
                for _ in range(count)]

    older, old = batches(alice, 2)
    newer = batches(bob, 3)  # more than the page size below, all newer than Alice's
    page = alice.batches.list(limit=2)
    assert [b.id for b in page.data] == [old, older] and page.has_more is False
    first = alice.batches.list(limit=1)
    assert [b.id for b in first.data] == [old] and first.has_more is True and first.last_id == old
    assert [b.id for b in alice.batches.list(limit=1)] == [old, older]  # iterating follows the client's after= cursor
    assert [b.id for b in bob.batches.list(limit=2).data] == newer[::-1][:2]
    assert [b.id for b in openai.OpenAI(api_key=MASTER, base_url=gw.url).batches.list(limit=2).data] == newer[::-1][:2]


def test_a_batch_line_model_with_a_provider_prefix_is_a_400_naming_the_line(gw, fake, tmp_path):
    lines = tmp_path / "prefixed.jsonl"
    lines.write_text(_lines_for("gemini-2.5-pro").replace('"gemini-2.5-pro"', '"gemini/gemini-2.5-pro"', 1))
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    with pytest.raises(openai.BadRequestError) as refused:
        client.files.create(file=open(lines, "rb"), purpose="batch", extra_body={"custom_llm_provider": "vertex_ai"})
    assert refused.value.body["param"] == "model"
    assert "file line 1: body.model" in refused.value.message and "'gemini/gemini-2.5-pro'" in refused.value.message
    assert fake.calls("/upload/storage/v1/b/") == []
