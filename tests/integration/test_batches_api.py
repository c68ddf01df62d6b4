"""The Python API for files, batches and fine-tuning, over real HTTP to the fake Google."""

from __future__ import annotations

import asyncio
import json

import pytest

import engine

BUCKET = "py-api-bucket"
LINES = [
    {"custom_id": f"q{i}", "method": "POST", "url": "/v1/chat/completions",
     "body": {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": f"question number {i}"}]}}
    for i in (3, 1, 2)
]
DATA = ("\n".join(json.dumps(line) for line in LINES) + "\n").encode()


@pytest.fixture()
def env(fake, monkeypatch):
    monkeypatch.setenv("GCS_BUCKET_NAME", BUCKET)
    monkeypatch.setenv("VERTEXAI_PROJECT", "api-project")
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.delenv("GCS_PATH_SERVICE_ACCOUNT", raising=False)
    return fake


def test_sync_round_trip_with_progress(env, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(DATA)
    seen: list[tuple[int, int]] = []
    created = engine.create_file(str(path), purpose="batch", progress=lambda sent, total: seen.append((sent, total)))
    stored = env.gcs_object(created.id)
    assert seen and seen[-1] == (len(stored), len(stored))
    batch = engine.create_batch(input_file_id=created.id)
    assert engine.retrieve_batch(batch.id).status == "in_progress"
    env.finish_jobs()
    done = engine.retrieve_batch(batch.id)
    assert done.status == "completed" and done.request_counts.completed == 3
    lines = [json.loads(line) for line in engine.file_content(done.output_file_id).decode().splitlines()]
    assert [line["custom_id"] for line in lines] == ["q3", "q1", "q2"]
    assert "question number 3" in lines[0]["response"]["body"]["choices"][0]["message"]["content"]
    assert engine.list_batches(limit=1).data[0].id == batch.id


def test_async_round_trip(env):
    async def main() -> list[str]:
        created = await engine.acreate_file(DATA, purpose="batch")
        batch = await engine.acreate_batch(input_file_id=created.id)
        env.finish_jobs()
        done = await engine.aretrieve_batch(batch.id)
        content = await engine.afile_content(done.output_file_id)
        listed = await engine.alist_batches()
        assert listed.data[0].id == batch.id
        assert (await engine.aretrieve_file(created.id)).bytes == created.bytes
        await engine.adelete_file(created.id)
        return [json.loads(line)["custom_id"] for line in content.decode().splitlines()]

    assert asyncio.run(main()) == ["q3", "q1", "q2"]


def test_async_cancel_and_fine_tuning(env):
    async def main() -> tuple[str, str, str]:
        env.jobs_advance_on_get = False
        try:
            created = await engine.acreate_file(DATA, purpose="batch")
            batch = await engine.acreate_batch(input_file_id=created.id)
            cancelling = (await engine.acancel_batch(batch.id)).status
            job = await engine.acreate_fine_tuning_job(model="gemini-2.0-flash-001", training_file="gs://b/t.jsonl", suffix="bot")
            tuning = (await engine.acancel_fine_tuning_job(job.id)).status
            env.advance_jobs()
            listed = await engine.alist_fine_tuning_jobs()
            assert [j.id for j in listed.data] == [job.id]
            return cancelling, tuning, (await engine.aretrieve_fine_tuning_job(job.id)).status
        finally:
            env.jobs_advance_on_get = True

    assert asyncio.run(main()) == ("cancelling", "queued", "cancelled")


def test_fine_tuned_model_answers_right_after(env):
    job = engine.create_fine_tuning_job(model="gemini-2.0-flash-001", training_file="gs://b/t.jsonl",
                                        hyperparameters={"n_epochs": 2}, vertex_location="europe-west4")
    assert env.last("/tuningJobs").json["supervisedTuningSpec"]["hyperParameters"] == {"epochCount": 2}
    env.finish_jobs(job.id)
    done = engine.retrieve_fine_tuning_job(job.id, vertex_location="europe-west4")
    assert done.status == "succeeded"
    answer = engine.completion(model=done.fine_tuned_model, messages=[{"role": "user", "content": "hello tuned"}],
                               vertex_location="europe-west4")
    assert "hello tuned" in answer.choices[0].message.content
    assert env.last(":generateContent").path.endswith(f"/endpoints/{done.fine_tuned_model.rsplit('/', 1)[1]}:generateContent")


def test_storage_emulator_host_and_gcs_credentials(env, monkeypatch, tmp_path):
    # Google's storage clients read STORAGE_EMULATOR_HOST (host:port, no scheme): so does the engine.
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", env.url.removeprefix("http://"))
    gcs_sa = env.write_service_account(tmp_path / "gcs.json", project_id="storage-project")
    monkeypatch.setenv("GCS_PATH_SERVICE_ACCOUNT", gcs_sa)
    created = engine.create_file(DATA, purpose="batch")
    upload = env.last("/upload/storage/v1/b/")
    assert upload.host is None  # dialled directly, not through the googleapis.com redirect
    assert env.gcs_object(created.id) is not None
    assert engine.file_content(created.id) == env.gcs_object(created.id)


def test_settings_errors_are_typed_and_name_the_setting(env, monkeypatch):
    monkeypatch.delenv("GCS_BUCKET_NAME")
    with pytest.raises(engine.BadRequestError, match="bucket_name"):
        engine.create_file(DATA, purpose="batch")
    with pytest.raises(engine.BadRequestError, match="custom_llm_provider"):
        engine.create_file(DATA, purpose="batch", bucket_name=BUCKET, custom_llm_provider="openai")
    with pytest.raises(engine.NotFoundError):
        engine.retrieve_batch("123")
    with pytest.raises(engine.BadRequestError, match="limit"):
        engine.list_batches(limit=0)
    assert not env.calls("/upload/storage")


def test_token_is_refreshed_once_on_401(env):
    created = engine.create_file(DATA, purpose="batch", bucket_name=BUCKET)
    env.revoke_tokens()
    assert engine.retrieve_file(created.id).id == created.id
    assert env.tokens_issued >= 2


def test_retries_and_verbose_log_without_secrets(env, monkeypatch, capsys):
    monkeypatch.setattr(engine, "num_retries", 1)
    monkeypatch.setattr(engine, "set_verbose", True)
    env.fault("503", match="/batchPredictionJobs", times=1)
    job = engine.create_fine_tuning_job(model="gemini-2.0-flash-001", training_file="gs://b/t.jsonl")
    assert job.status == "queued"
    created = engine.create_file(DATA, purpose="batch", bucket_name=BUCKET)
    batch = engine.create_batch(input_file_id=created.id)
    assert len([c for c in env.calls("/batchPredictionJobs") if c.http_method == "POST"]) == 2  # one 503, one retry
    token = env.last("/batchPredictionJobs").bearer
    log = capsys.readouterr().err
    assert "POST https://us-central1-aiplatform.googleapis.com/v1/projects/api-project/locations/us-central1/batchPredictionJobs" in log
    assert "response HTTP 503" in log and batch.id in log
    assert token and token not in log


def test_ai_studio_key_never_in_errors(fake, monkeypatch):
    key = "studio-secret-key-987"
    fake.valid_api_keys = {"another-key"}
    with pytest.raises(engine.APIError) as info:
        engine.list_cached_contents("gemini/gemini-2.5-flash", api_key=key)
    assert key not in str(info.value) and key not in repr(info.value.body)
    assert fake.last("/cachedContents").headers["x-goog-api-key"] == key and "key" not in fake.last("/cachedContents").query


def test_async_upload_reports_progress(env):
    big = b"".join(
        (json.dumps({"custom_id": f"c{i}", "method": "POST", "url": "/v1/chat/completions",
                     "body": {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "x" * 500}]}}) + "\n").encode()
        for i in range(1200)
    )
    seen: list[tuple[int, int]] = []

    async def main() -> str:
        return (await engine.acreate_file(big, purpose="batch", progress=lambda sent, total: seen.append((sent, total)))).id

    file_id = asyncio.run(main())
    total = len(env.gcs_object(file_id))
    assert len(seen) > 2 and seen[-1] == (total, total)
    assert [s for s, _ in seen] == sorted(s for s, _ in seen)
