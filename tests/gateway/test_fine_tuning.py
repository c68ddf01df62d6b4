"""The seeds' fine-tuning example through the official ``openai`` client and the gateway
(``finetune_settings``), against the fake Google's ``tuningJobs``; then the tuned model answers."""

from __future__ import annotations

import asyncio

import openai
import pytest

from .conftest import MASTER

TRAINING = "gs://cloud-samples-data/ai-platform/generative_ai/sft_train_data.jsonl"


@pytest.fixture()
def gw(start_gateway, fake, sa_file):
    return start_gateway({
        "model_list": [
            {"model_name": "gpt-4", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", "vertex_project": "p1"}},
            # The tuned model is reachable as vertex_ai/gemini/<endpoint id> through a wildcard.
            {"model_name": "vertex_ai/gemini/*", "litellm_params": {"model": "vertex_ai/gemini/*",
                                                                    "vertex_project": "adroit-crow-413218", "vertex_location": "us-central1"}},
        ],
        "finetune_settings": [{"custom_llm_provider": "vertex_ai", "vertex_project": "adroit-crow-413218",
                               "vertex_location": "us-central1", "vertex_credentials": sa_file}],
    })


def test_seed_fine_tuning_example_then_use_the_tuned_model(gw, fake):
    async def create() -> object:
        client = openai.AsyncOpenAI(api_key=MASTER, base_url=gw.url)
        return await client.fine_tuning.jobs.create(
            model="gemini-1.0-pro-002", training_file=TRAINING, extra_body={"custom_llm_provider": "vertex_ai"},
        )

    ft_job = asyncio.run(create())
    assert ft_job.status == "queued" and ft_job.object == "fine_tuning.job"
    assert ft_job.id.startswith("projects/adroit-crow-413218/locations/us-central1/tuningJobs/")
    assert ft_job.model == "gemini-1.0-pro-002" and ft_job.training_file == TRAINING
    sent = fake.last("/tuningJobs")
    assert sent.host == "us-central1-aiplatform.googleapis.com"
    assert sent.json == {"baseModel": "gemini-1.0-pro-002", "supervisedTuningSpec": {"trainingDatasetUri": TRAINING}}

    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    statuses = []
    for _ in range(5):
        job = client.fine_tuning.jobs.retrieve(ft_job.id)
        statuses.append(job.status)
        if job.status == "succeeded":
            break
    assert statuses == ["running", "succeeded"]
    assert job.finished_at and job.fine_tuned_model.startswith("vertex_ai/gemini/")
    endpoint_id = job.fine_tuned_model.rsplit("/", 1)[1]
    assert endpoint_id.isdigit()

    answer = client.chat.completions.create(model=job.fine_tuned_model, messages=[{"role": "user", "content": "hi"}])
    assert "hi" in answer.choices[0].message.content
    call = fake.last(":generateContent")
    assert call.path == f"/v1/projects/adroit-crow-413218/locations/us-central1/endpoints/{endpoint_id}:generateContent"


def test_seed_hyperparameters_advanced_example(gw, fake):
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    ft_job = client.fine_tuning.jobs.create(
        model="gemini-1.0-pro-002", training_file=TRAINING,
        hyperparameters={"n_epochs": 3, "learning_rate_multiplier": 0.1, "adapter_size": "ADAPTER_SIZE_ONE"},  # type: ignore[typeddict-unknown-key]
        suffix="support-bot-v1", validation_file="gs://bucket/val.jsonl",
        extra_body={"custom_llm_provider": "vertex_ai"},
    )
    spec = fake.last("/tuningJobs").json["supervisedTuningSpec"]
    assert spec == {"trainingDatasetUri": TRAINING, "validationDatasetUri": "gs://bucket/val.jsonl",
                    "hyperParameters": {"epochCount": 3, "learningRateMultiplier": 0.1, "adapterSize": "ADAPTER_SIZE_ONE"}}
    assert fake.last("/tuningJobs").json["tunedModelDisplayName"] == "support-bot-v1"
    assert ft_job.hyperparameters.n_epochs == 3
    assert ft_job.validation_file == "gs://bucket/val.jsonl"


def test_list_and_cancel(gw, fake):
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    fake.jobs_advance_on_get = False
    try:
        first = client.fine_tuning.jobs.create(model="gemini-2.0-flash-001", training_file=TRAINING)
        second = client.fine_tuning.jobs.create(model="gemini-2.0-flash-001", training_file=TRAINING)
        assert [j.id for j in client.fine_tuning.jobs.list().data] == [second.id, first.id]
        assert [j.id for j in client.fine_tuning.jobs.list(after=second.id).data] == [first.id]
        client.fine_tuning.jobs.cancel(first.id)
        fake.advance_jobs(first.id)
        assert client.fine_tuning.jobs.retrieve(first.id).status == "cancelled"
        assert client.fine_tuning.jobs.retrieve(second.id).status == "queued"
    finally:
        fake.jobs_advance_on_get = True


def test_bad_hyperparameters_name_the_field(gw, fake):
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    with pytest.raises(openai.BadRequestError) as info:
        client.fine_tuning.jobs.create(model="gemini-2.0-flash-001", training_file=TRAINING,
                                       hyperparameters={"adapter_size": "HUGE"})  # type: ignore[typeddict-unknown-key]
    assert "hyperparameters.adapter_size" in info.value.message
    with pytest.raises(openai.BadRequestError) as info:
        client.fine_tuning.jobs.create(model="gemini-2.0-flash-001", training_file="file-abc123")
    assert "training_file" in info.value.message
    assert not fake.calls("/tuningJobs")


def test_finetune_settings_credentials_path_is_read_beside_the_config(start_gateway, fake, tmp_path):
    (tmp_path / "tuner.json").write_text(__import__("json").dumps(fake.service_account_info("tuner-project")))
    gw = start_gateway({"model_list": [{"model_name": "m", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash"}}],
                        "finetune_settings": {"custom_llm_provider": "vertex_ai", "vertex_credentials": "tuner.json"}})
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    job = client.fine_tuning.jobs.create(model="gemini-2.0-flash-001", training_file=TRAINING)
    assert job.id.startswith("projects/tuner-project/locations/us-central1/tuningJobs/")  # the file's project_id


def test_without_finetune_settings_the_environment_is_used(start_gateway, fake, monkeypatch):
    monkeypatch.setenv("VERTEXAI_PROJECT", "env-project")
    monkeypatch.setenv("VERTEXAI_LOCATION", "europe-west4")
    gw = start_gateway({"model_list": [{"model_name": "m", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash"}}]})
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    job = client.fine_tuning.jobs.create(model="gemini-2.0-flash-001", training_file=TRAINING)
    assert job.id.startswith("projects/env-project/locations/europe-west4/tuningJobs/")
    assert fake.last("/tuningJobs").host == "europe-west4-aiplatform.googleapis.com"


def test_training_file_uploaded_through_the_gateway(gw, fake, monkeypatch):
    monkeypatch.setenv("GCS_BUCKET_NAME", "tuning-bucket")
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    data = b'{"contents": [{"role": "user", "parts": [{"text": "q"}]}, {"role": "model", "parts": [{"text": "a"}]}]}\n'
    uploaded = client.files.create(file=("train.jsonl", data), purpose="fine-tune", extra_body={"custom_llm_provider": "vertex_ai"})
    assert uploaded.id.startswith("gs://tuning-bucket/litellm-vertex-files/fine-tune/") and uploaded.id.endswith("/train.jsonl")
    assert uploaded.purpose == "fine-tune"
    again = client.files.create(file=("train.jsonl", b"{}\n"), purpose="fine-tune", extra_body={"custom_llm_provider": "vertex_ai"})
    assert again.id != uploaded.id and fake.gcs_object(uploaded.id) == data  # same filename, nothing replaced
    assert fake.gcs_object(uploaded.id) == data  # tuning data is Gemini's format already: stored as is
    job = client.fine_tuning.jobs.create(model="gemini-2.0-flash-001", training_file=uploaded.id)
    assert fake.last("/tuningJobs").json["supervisedTuningSpec"]["trainingDatasetUri"] == uploaded.id
    assert job.training_file == uploaded.id
    with pytest.raises(openai.BadRequestError) as info:
        client.files.create(file=("x.txt", b"x"), purpose="assistants")
    assert "purpose" in info.value.message


def test_virtual_keys_tune_only_their_models_and_see_only_their_jobs(gw, fake):
    import httpx

    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {MASTER}"}) as admin:
        limited = admin.post("/key/generate", json={"models": ["gpt-4"]}).json()["key"]
        other = admin.post("/key/generate", json={}).json()["key"]
    mine = openai.OpenAI(api_key=limited, base_url=gw.url)
    theirs = openai.OpenAI(api_key=other, base_url=gw.url)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        mine.fine_tuning.jobs.create(model="gemini-1.0-pro-002", training_file=TRAINING)
    assert "gemini-1.0-pro-002" in refused.value.message and not fake.calls("/tuningJobs")
    # gpt-4 is served by gemini-2.5-flash here: the key may tune that base model.
    job = mine.fine_tuning.jobs.create(model="gemini-2.5-flash", training_file=TRAINING)
    assert [j.id for j in mine.fine_tuning.jobs.list().data] == [job.id]
    assert theirs.fine_tuning.jobs.list().data == []
    for attempt in (lambda: theirs.fine_tuning.jobs.retrieve(job.id), lambda: theirs.fine_tuning.jobs.cancel(job.id)):
        with pytest.raises(openai.NotFoundError):
            attempt()
    assert not [c for c in fake.calls("/tuningJobs") if c.path.endswith(":cancel")]
    assert openai.OpenAI(api_key=MASTER, base_url=gw.url).fine_tuning.jobs.retrieve(job.id).id == job.id


def test_a_key_lists_its_older_jobs_past_newer_ones_of_other_keys(gw, fake):
    import httpx

    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {MASTER}"}) as admin:
        mine = openai.OpenAI(api_key=admin.post("/key/generate", json={}).json()["key"], base_url=gw.url)
        theirs = openai.OpenAI(api_key=admin.post("/key/generate", json={}).json()["key"], base_url=gw.url)
    own = mine.fine_tuning.jobs.create(model="gemini-2.5-flash", training_file=TRAINING).id
    for _ in range(3):
        theirs.fine_tuning.jobs.create(model="gemini-2.5-flash", training_file=TRAINING)
    page = mine.fine_tuning.jobs.list(limit=2)
    assert [j.id for j in page.data] == [own] and page.has_more is False


def test_a_virtual_key_tunes_only_on_its_own_files_in_the_gateway_bucket(gw, fake, monkeypatch):
    import httpx

    monkeypatch.setenv("GCS_BUCKET_NAME", "tuning-bucket")
    data = b'{"contents": [{"role": "user", "parts": [{"text": "q"}]}, {"role": "model", "parts": [{"text": "a"}]}]}\n'
    master = openai.OpenAI(api_key=MASTER, base_url=gw.url)
    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {MASTER}"}) as admin:
        key = openai.OpenAI(api_key=admin.post("/key/generate", json={}).json()["key"], base_url=gw.url)
    unowned = [
        master.files.create(file=("train.jsonl", data), purpose="fine-tune", extra_body={"custom_llm_provider": "vertex_ai"}).id,
        "gs://tuning-bucket/litellm-vertex-files/publishers/google/models/gemini-2.5-flash/x/prediction-model-1",  # a batch output
    ]
    own = key.files.create(file=("train.jsonl", data), purpose="fine-tune", extra_body={"custom_llm_provider": "vertex_ai"}).id
    for file_id in unowned:
        for field, arguments in (("training_file", {"training_file": file_id}),
                                 ("validation_file", {"training_file": own, "validation_file": file_id})):
            with pytest.raises(openai.NotFoundError) as refused:
                key.fine_tuning.jobs.create(model="gemini-2.5-flash", **arguments)
            assert refused.value.body["param"] == field and file_id in refused.value.message
    assert not fake.calls("/tuningJobs")
    job = key.fine_tuning.jobs.create(model="gemini-2.5-flash", training_file=own, validation_file=TRAINING)  # public data elsewhere: fine
    assert job.training_file == own and job.validation_file == TRAINING
    assert master.fine_tuning.jobs.create(model="gemini-2.5-flash", training_file=unowned[0]).training_file == unowned[0]
