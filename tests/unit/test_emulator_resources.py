"""The fake Google's resources over real HTTP: Cloud Storage objects, batch and tuning jobs, caches."""

from __future__ import annotations

import json

import httpx
import pytest

from engine.auth import tokens
from engine.emulator import FakeGoogle

VERTEX = "/us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1"
GCS = "/storage.googleapis.com"


@pytest.fixture()
def client(fake: FakeGoogle, sa_file: str) -> httpx.Client:
    token = tokens.token(sa_file)  # from the fake token endpoint, through google-auth
    with httpx.Client(base_url=fake.url, headers={"Authorization": f"Bearer {token}"}) as c:
        yield c


def test_storage_media_and_multipart_upload_download_list_delete(client: httpx.Client, fake: FakeGoogle) -> None:
    media = client.post(f"{GCS}/upload/storage/v1/b/bk/o", params={"uploadType": "media", "name": "dir/a.txt"}, content=b"alpha",
                        headers={"Content-Type": "text/plain"})
    assert media.status_code == 200 and media.json()["size"] == "5" and media.json()["id"].startswith("bk/dir/a.txt/")
    boundary = "b0undary"
    multipart = (f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
                 + json.dumps({"name": "dir/b.json", "metadata": {"k": "v"}})
                 + f"\r\n--{boundary}\r\nContent-Type: application/json\r\n\r\n{{\"x\": 1}}\r\n--{boundary}--\r\n").encode()
    resource = client.post(f"{GCS}/upload/storage/v1/b/bk/o", params={"uploadType": "multipart"}, content=multipart,
                           headers={"Content-Type": f"multipart/related; boundary={boundary}"}).json()
    assert resource["name"] == "dir/b.json" and resource["metadata"] == {"k": "v"}
    assert fake.gcs_object("gs://bk/dir/b.json") == b'{"x": 1}'
    assert client.get(f"{GCS}/storage/v1/b/bk/o/dir%2Fa.txt", params={"alt": "media"}).content == b"alpha"
    assert client.get(f"{GCS}/download/storage/v1/b/bk/o/dir%2Fa.txt", params={"alt": "media"}).content == b"alpha"
    assert [i["name"] for i in client.get(f"{GCS}/storage/v1/b/bk/o", params={"prefix": "dir/"}).json()["items"]] == ["dir/a.txt", "dir/b.json"]
    assert client.delete(f"{GCS}/storage/v1/b/bk/o/dir%2Fa.txt").status_code == 204
    assert client.get(f"{GCS}/storage/v1/b/bk/o/dir%2Fa.txt").status_code == 404
    assert client.post(f"{GCS}/upload/storage/v1/b/bk/o", params={"uploadType": "resumable"}, content=b"x").status_code == 400


def test_resources_check_host_and_auth(client: httpx.Client, fake: FakeGoogle) -> None:
    assert httpx.get(f"{fake.url}{GCS}/storage/v1/b/bk/o").status_code == 401
    wrong_host = client.get("/europe-west1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/batchPredictionJobs")
    assert wrong_host.status_code == 404 and "html" in wrong_host.headers["content-type"]
    # AI Studio caches want an API key, not a token
    assert client.get("/generativelanguage.googleapis.com/v1beta/cachedContents").status_code == 403


def _batch(uris: object = ("gs://bk/in.jsonl",)) -> dict:
    return {"displayName": "d", "model": "publishers/google/models/gemini-2.5-flash",
            "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": list(uris) if isinstance(uris, tuple) else uris}},
            "outputConfig": {"predictionsFormat": "jsonl", "gcsDestination": {"outputUriPrefix": "gs://bk/out"}}}


def test_batch_job_lifecycle_writes_predictions(client: httpx.Client, fake: FakeGoogle) -> None:
    lines = [{"request": {"contents": [{"role": "user", "parts": [{"text": f"line {i}"}]}]}} for i in (1, 2)]
    fake.put_gcs_object("gs://bk/in.jsonl", "\n".join(json.dumps(line) for line in lines).encode() + b"\n{broken\n")
    job = client.post(f"{VERTEX}/batchPredictionJobs", json=_batch()).json()
    assert job["state"] == "JOB_STATE_PENDING"
    job_id = job["name"].rsplit("/", 1)[1]
    fake.finish_jobs(job_id)
    done = client.get(f"{VERTEX}/batchPredictionJobs/{job_id}").json()
    assert done["state"] == "JOB_STATE_PARTIALLY_SUCCEEDED"
    assert done["completionStats"] == {"successfulCount": "2", "failedCount": "1", "incompleteCount": "0"}
    directory = done["outputInfo"]["gcsOutputDirectory"]
    output = [json.loads(line) for line in fake.gcs_object(directory + "/predictions.jsonl").decode().splitlines()]
    assert [o["status"] != "" for o in output] == [True, False, False]  # reverse input order
    assert "line 2" in output[1]["response"]["candidates"][0]["content"]["parts"][0]["text"]


def test_batch_job_validation_and_missing_input(client: httpx.Client, fake: FakeGoogle) -> None:
    # LiteLLM sends gcsSource.uris as a bare string; the API wants a list.
    refused = client.post(f"{VERTEX}/batchPredictionJobs", json=_batch("gs://bk/in.jsonl"))
    assert refused.status_code == 400 and "gcs_source.uris" in refused.json()["error"]["message"]
    job = client.post(f"{VERTEX}/batchPredictionJobs", json=_batch(("gs://bk/none.jsonl",))).json()
    fake.finish_jobs()
    failed = fake.job(job["name"])
    assert failed["state"] == "JOB_STATE_FAILED" and "not found" in failed["error"]["message"]
    assert client.post(f"{VERTEX}/batchPredictionJobs/{job['name'].rsplit('/', 1)[1]}:cancel").status_code == 400
    assert client.delete(f"{VERTEX}/batchPredictionJobs/{job['name'].rsplit('/', 1)[1]}").status_code == 200
    assert fake.job_names() == []


def test_tuning_job_fields_are_checked_and_success_names_an_endpoint(client: httpx.Client, fake: FakeGoogle) -> None:
    # LiteLLM's `validation_dataset` is not a TuningJob field.
    bad = client.post(f"{VERTEX}/tuningJobs", json={"baseModel": "gemini-2.0-flash-001", "supervisedTuningSpec": {
        "trainingDatasetUri": "gs://b/t.jsonl", "validation_dataset": "gs://b/v.jsonl"}})
    assert bad.status_code == 400 and "validation_dataset" in bad.json()["error"]["message"]
    bad = client.post(f"{VERTEX}/tuningJobs", json={"baseModel": "m", "supervisedTuningSpec": {
        "trainingDatasetUri": "gs://b/t.jsonl", "hyperParameters": {"adapterSize": "ADAPTER_SIZE_HUGE"}}})
    assert bad.status_code == 400 and "adapter_size" in bad.json()["error"]["message"]
    job = client.post(f"{VERTEX}/tuningJobs", json={"baseModel": "m", "supervisedTuningSpec": {"trainingDatasetUri": "gs://b/t.jsonl"}}).json()
    states = [client.get(f"{VERTEX}/tuningJobs/{job['name'].rsplit('/', 1)[1]}").json()["state"] for _ in range(3)]
    assert states == ["JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED", "JOB_STATE_SUCCEEDED"]
    endpoint = fake.job(job["name"])["tunedModel"]["endpoint"]
    answer = client.post(f"/us-central1-aiplatform.googleapis.com/v1/{endpoint}:generateContent",
                         json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    assert answer.status_code == 200


def test_cached_contents_rules(client: httpx.Client, fake: FakeGoogle) -> None:
    cache = client.post(f"{VERTEX}/cachedContents", json={"model": "projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash",
                                                          "contents": [{"role": "user", "parts": [{"text": "a b c d"}]}], "ttl": "60s"}).json()
    assert cache["usageMetadata"]["totalTokenCount"] == 4
    model = f"{VERTEX}/publishers/google/models/gemini-2.5-flash:generateContent"
    both = client.post(model, json={"cachedContent": cache["name"], "systemInstruction": {"parts": [{"text": "x"}]},
                                    "contents": [{"role": "user", "parts": [{"text": "q"}]}]})
    assert both.status_code == 400 and "CachedContent can not be used" in both.json()["error"]["message"]
    used = client.post(model, json={"cachedContent": cache["name"], "contents": [{"role": "user", "parts": [{"text": "q"}]}]}).json()
    assert used["usageMetadata"]["cachedContentTokenCount"] == 4
    stream = client.post(f"{VERTEX}/publishers/google/models/gemini-2.5-flash:streamGenerateContent", params={"alt": "sse"},
                         json={"cachedContent": cache["name"], "contents": [{"role": "user", "parts": [{"text": "q"}]}]}).text
    assert '"cachedContentTokenCount":4' in stream.replace(" ", "")
    assert client.patch(f"/us-central1-aiplatform.googleapis.com/v1/{cache['name']}", json={"ttl": "0s"}).status_code == 400
    assert client.delete(f"/us-central1-aiplatform.googleapis.com/v1/{cache['name']}").status_code == 200
    gone = client.post(model, json={"cachedContent": cache["name"], "contents": [{"role": "user", "parts": [{"text": "q"}]}]})
    assert gone.status_code == 404


@pytest.mark.parametrize("model, schema, version", [
    ("multimodalembedding", "vision_embedding_model_1.0.0", "001"),
    ("text-embedding-004", "text_embedding_1.0.0", "001"),
    ("imagen-3.0-generate-001", "vision_generative_model_1.0.0", "001"),
    ("text-bison@002", "text_generation_1.0.0", "002"),
])
def test_get_publisher_model_says_which_sdk_class_loads_it(client: httpx.Client, fake: FakeGoogle, model, schema, version) -> None:
    answer = client.get(f"{fake.url}/europe-west4-aiplatform.googleapis.com/v1/publishers/google/models/{model}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["name"] == f"publishers/google/models/{model.split('@')[0]}" and body["versionId"] == version
    assert body["predictSchemata"]["instanceSchemaUri"] == f"gs://google-cloud-aiplatform/schema/predict/instance/{schema}.yaml"
    assert body["publisherModelTemplate"] == f"projects/{{user-project}}/locations/{{location}}/publishers/google/models/{model}"
    unauthenticated = httpx.get(f"{fake.url}/us-central1-aiplatform.googleapis.com/v1/publishers/google/models/{model}")
    assert unauthenticated.status_code == 401
    wrong_host = client.get(f"{fake.url}/generativelanguage.googleapis.com/v1/publishers/google/models/{model}")
    assert wrong_host.status_code == 404


def test_predict_parameters_read_whole_doubles_as_integers(client: httpx.Client, fake: FakeGoogle) -> None:
    """The Vertex SDK's REST transport sends parameters as protobuf Values: sampleCount 2.0."""
    url = f"{fake.url}/us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/google/models/imagen-3.0-generate-001:predict"
    images = client.post(url, json={"instances": [{"prompt": "a cat"}], "parameters": {"sampleCount": 2.0}})
    assert images.status_code == 200 and len(images.json()["predictions"]) == 2
    fraction = client.post(url, json={"instances": [{"prompt": "a cat"}], "parameters": {"sampleCount": 2.5}})
    assert fraction.status_code == 400


def test_ai_studio_resumable_upload_in_chunks_then_get_list_delete(fake: FakeGoogle) -> None:
    base = f"{fake.url}/generativelanguage.googleapis.com"
    with httpx.Client(headers={"x-goog-api-key": "k"}) as c:
        start = c.post(f"{base}/upload/v1beta/files", json={"file": {"display_name": "two parts", "mime_type": "text/plain"}},
                       headers={"x-goog-upload-protocol": "resumable", "x-goog-upload-command": "start",
                                "x-goog-upload-header-content-length": "6"})
        assert start.status_code == 200 and start.headers["x-goog-upload-status"] == "active"
        url = start.headers["x-goog-upload-url"]
        assert url.startswith("https://generativelanguage.googleapis.com/upload/v1beta/files?upload_id=")
        there = base + url.removeprefix("https://generativelanguage.googleapis.com")
        first = httpx.post(there, content=b"abc", headers={"x-goog-upload-command": "upload", "x-goog-upload-offset": "0"})
        assert first.headers["x-goog-upload-status"] == "active" and first.headers["x-goog-upload-size-received"] == "3"
        wrong = httpx.post(there, content=b"def", headers={"x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "0"})
        assert wrong.status_code == 400  # the offset must follow what was received
        done = httpx.post(there, content=b"def", headers={"x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "3"})
        assert done.headers["x-goog-upload-status"] == "final"
        file = done.json()["file"]
        assert file["displayName"] == "two parts" and file["mimeType"] == "text/plain" and file["sizeBytes"] == "6"
        assert "display_name" not in file and file["state"] == "ACTIVE"
        file_id = file["name"].removeprefix("files/")
        assert c.get(f"{base}/v1beta/files/{file_id}").json()["name"] == file["name"]
        assert [f["name"] for f in c.get(f"{base}/v1beta/files").json()["files"]] == [file["name"]]
        assert httpx.get(f"{base}/v1beta/files").status_code == 403  # listing needs the key
        assert c.delete(f"{base}/v1beta/files/{file_id}").status_code == 200
        assert c.get(f"{base}/v1beta/files/{file_id}").status_code == 403
