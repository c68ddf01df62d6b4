"""OpenTelemetry traces: a SERVER span per gateway call with a CLIENT child per upstream attempt,
GenAI semantic-convention attributes, an incoming traceparent continued, no prompt text unless
asked, nothing (not even an import) when off; the OTLP/HTTP export from the environment checked
with an in-process receiver; and the Python API's own spans."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest
import yaml
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import engine
from engine import telemetry

from .conftest import MASTER, two_locations
from .test_postgres_redis import _spawn, _wait_ready

PROMPT = "the quarterly numbers are confidential"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.fixture()
def spans(monkeypatch):
    """Spans land in memory; the OTEL_* environment is cleared so only the config turns tracing on."""
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    telemetry.refresh()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.set_tracer_provider(provider)
    yield exporter
    telemetry.set_tracer_provider(None)
    telemetry.refresh()


def _traced(config: dict) -> dict:
    config = dict(config)
    config["litellm_settings"] = {**config.get("litellm_settings", {}), "callbacks": ["otel"]}
    return config


def _wait_for(exporter, count: int, timeout: float = 5.0) -> list:
    # The call span ends after the answer is sent (with the spend bookkeeping).
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = exporter.get_finished_spans()
        if len(found) >= count:
            return list(found)
        time.sleep(0.02)
    return list(exporter.get_finished_spans())


def _all_attribute_text(found) -> str:
    return json.dumps([{k: str(v) for k, v in s.attributes.items()} for s in found]) + json.dumps([s.name for s in found])


def test_each_call_is_a_server_span_with_an_attempt_child_and_genai_attributes(start_gateway, fake, spans):
    gw = start_gateway(_traced(two_locations()))
    with gw.client() as c:
        key = c.post("/key/generate", json={"key_alias": "search-team"}).json()["key"]
    client = openai.OpenAI(api_key=key, base_url=gw.url + "/v1",
                           default_headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
    answer = client.chat.completions.create(model="gemini-flash", messages=[{"role": "user", "content": PROMPT}],
                                            max_tokens=50, temperature=0.2, extra_body={"metadata": {"tags": ["nightly", "eval"]}})
    found = _wait_for(spans, 2)
    assert len(found) == 2
    (call,) = [s for s in found if s.kind == SpanKind.SERVER]
    (attempt,) = [s for s in found if s.kind == SpanKind.CLIENT]

    assert call.name == "chat gemini-flash"
    assert format(call.context.trace_id, "032x") == TRACE_ID, "the caller's trace is continued"
    assert call.parent is not None and format(call.parent.span_id, "016x") == PARENT_ID and call.parent.is_remote
    assert attempt.parent.span_id == call.context.span_id and attempt.context.trace_id == call.context.trace_id

    a = call.attributes
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.system"] == "gcp.vertex_ai"
    assert a["gen_ai.request.model"] == "gemini-flash" and a["gen_ai.response.model"] == answer.model
    assert a["gen_ai.usage.input_tokens"] == answer.usage.prompt_tokens > 0
    assert a["gen_ai.usage.output_tokens"] == answer.usage.completion_tokens > 0
    assert list(a["gen_ai.response.finish_reasons"]) == ["stop"]
    assert a["gen_ai.request.max_tokens"] == 50 and a["gen_ai.request.temperature"] == 0.2
    assert a["vertex_engine.key_alias"] == "search-team" and list(a["vertex_engine.tags"]) == ["nightly", "eval"]
    assert 0 < a["vertex_engine.cost_usd"] < 0.01 and a["http.response.status_code"] == 200
    assert a["vertex_engine.attempts"] == 1 and a["vertex_engine.deployment.id"] in ("gemini-flash", "gemini-flash#2")

    b = attempt.attributes
    assert attempt.name == "chat vertex_ai/gemini-2.5-flash"
    assert b["vertex_engine.deployment.id"] == a["vertex_engine.deployment.id"] and b["vertex_engine.attempt"] == 1
    assert b["vertex_engine.retry"] is False and b["vertex_engine.fallback"] is False
    assert b["gen_ai.request.model"] == "vertex_ai/gemini-2.5-flash" and b["http.response.status_code"] == 200
    assert b["gen_ai.usage.input_tokens"] > 0 and attempt.status.status_code == StatusCode.OK
    assert PROMPT not in _all_attribute_text(found), "no prompt text unless content capture is on"
    assert answer.choices[0].message.content not in _all_attribute_text(found)
    assert key not in _all_attribute_text(found) and MASTER not in _all_attribute_text(found)


def test_retries_and_fallbacks_are_attempt_spans(start_gateway, fake, spans):
    config = {
        "model_list": [
            {"model_name": "gemini-pro", "litellm_params": {"model": "vertex_ai/gemini-2.5-pro", "vertex_project": "p"}},
            {"model_name": "gemini-flash", "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", "vertex_project": "p"}},
        ],
        "litellm_settings": {"fallbacks": [{"gemini-pro": ["gemini-flash"]}]},
        "router_settings": {"num_retries": 1, "retry_after": 0.01, "cooldown_time": 0},
    }
    gw = start_gateway(_traced(config))
    fake.fault("503", match="gemini-2.5-pro", times=None)
    with gw.client() as c:
        r = c.post("/chat/completions", json={"model": "gemini-pro", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    found = _wait_for(spans, 4)
    (call,) = [s for s in found if s.kind == SpanKind.SERVER]
    attempts = sorted((s for s in found if s.kind == SpanKind.CLIENT), key=lambda s: s.attributes["vertex_engine.attempt"])
    assert [s.attributes["vertex_engine.deployment.id"] for s in attempts] == ["gemini-pro", "gemini-pro", "gemini-flash"]
    assert [s.attributes["vertex_engine.retry"] for s in attempts] == [False, True, True]
    assert [s.attributes["vertex_engine.fallback"] for s in attempts] == [False, False, True]
    assert [s.status.status_code for s in attempts] == [StatusCode.ERROR, StatusCode.ERROR, StatusCode.OK]
    assert attempts[0].attributes["http.response.status_code"] == 503
    assert attempts[0].attributes["error.type"] == "ServiceUnavailableError"
    assert all(s.parent.span_id == call.context.span_id for s in attempts)
    assert call.name == "chat gemini-pro" and call.attributes["vertex_engine.attempts"] == 3
    assert call.attributes["vertex_engine.deployment.id"] == "gemini-flash"
    assert call.attributes["gen_ai.response.model"].startswith("gemini-2.5-flash")


def test_a_failed_call_and_a_stream_are_traced_too(start_gateway, fake, spans):
    gw = start_gateway(_traced(two_locations()))
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url + "/v1")
    stream = client.chat.completions.create(model="gemini-flash", messages=[{"role": "user", "content": "hi"}],
                                            stream=True, stream_options={"include_usage": True})
    usage = [chunk.usage for chunk in stream if chunk.usage][-1]
    found = _wait_for(spans, 2)
    (call,) = [s for s in found if s.kind == SpanKind.SERVER]
    assert call.attributes["gen_ai.request.stream"] is True
    assert call.attributes["gen_ai.usage.output_tokens"] == usage.completion_tokens > 0
    spans.clear()
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    (failed,) = _wait_for(spans, 1)
    assert failed.kind == SpanKind.SERVER and failed.status.status_code == StatusCode.ERROR
    assert failed.attributes["http.response.status_code"] == 400 and failed.attributes["error.type"]


def test_pass_through_calls_are_traced(start_gateway, fake, spans, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "studio-key-for-tests")
    fake.valid_api_keys = {"studio-key-for-tests"}
    gw = start_gateway(_traced(two_locations()))
    r = httpx.post(gw.url + "/gemini/v1beta/models/gemini-2.5-flash:generateContent", params={"key": MASTER},
                   headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01", "tags": "native"},
                   json={"contents": [{"parts": [{"text": PROMPT}]}]})
    assert r.status_code == 200, r.text
    (call,) = _wait_for(spans, 1)
    assert call.kind == SpanKind.SERVER and format(call.context.trace_id, "032x") == TRACE_ID
    a = call.attributes
    assert call.name == "generate_content gemini-2.5-flash" and a["gen_ai.system"] == "gcp.gemini"
    assert a["gen_ai.operation.name"] == "generate_content" and a["gen_ai.request.model"] == "gemini-2.5-flash"
    assert a["gen_ai.usage.input_tokens"] > 0 and list(a["vertex_engine.tags"]) == ["native"]
    assert PROMPT not in _all_attribute_text([call])


def test_prompt_and_answer_text_only_when_content_capture_is_on(start_gateway, fake, spans, monkeypatch):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    gw = start_gateway(_traced(two_locations()))
    with gw.client() as c:
        answer = c.post("/chat/completions", json={"model": "gemini-flash", "messages": [{"role": "user", "content": PROMPT}]}).json()
    (call,) = [s for s in _wait_for(spans, 2) if s.kind == SpanKind.SERVER]
    assert PROMPT in call.attributes["gen_ai.input.messages"]
    assert answer["choices"][0]["message"]["content"] in call.attributes["gen_ai.output.messages"]


def test_nothing_is_traced_when_off(start_gateway, fake, spans):
    gw = start_gateway(two_locations())  # no callbacks, no OTEL_* environment
    assert gw.gateway.pipeline.observer.tracing is False
    with gw.client() as c:
        assert c.post("/chat/completions", json={"model": "gemini-flash", "messages": [{"role": "user", "content": "hi"}]},
                      headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}).status_code == 200
    time.sleep(0.2)
    assert spans.get_finished_spans() == ()


def test_off_means_opentelemetry_is_never_imported(fake, tmp_path):
    """Zero cost when off: a gateway serving a call without tracing never loads OpenTelemetry."""
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(two_locations()))
    script = f"""
import sys, httpx
from starlette.testclient import TestClient
from engine.gateway import Gateway, load_config
gateway = Gateway(load_config({str(config)!r}))
with TestClient(gateway.app) as client:
    r = client.post("/chat/completions", json={{"model": "gemini-flash", "messages": [{{"role": "user", "content": "hi"}}]}})
    assert r.status_code == 200, r.text
import engine
engine.completion(model="vertex_ai/gemini-2.5-flash", messages=[{{"role": "user", "content": "hi"}}], vertex_project="p")
loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
print(loaded)
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["VERTEX_ENGINE_DB"] = str(tmp_path / "gw.db")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


class _Receiver(http.server.ThreadingHTTPServer):
    """An OTLP/HTTP trace receiver: keeps the decoded ExportTraceServiceRequest of each POST /v1/traces."""

    def __init__(self) -> None:
        self.requests: list = []
        self.paths: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

                body = self.rfile.read(int(self.headers["content-length"]))
                message = ExportTraceServiceRequest()
                message.ParseFromString(body)
                outer.paths.append(self.path)
                outer.requests.append(message)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def spans(self) -> list:
        return [span for message in self.requests for resource in message.resource_spans
                for scope in resource.scope_spans for span in scope.spans]


def test_otlp_export_from_the_standard_environment(fake, tmp_path, monkeypatch):
    """`vertex-engine serve` with only OTEL_EXPORTER_OTLP_ENDPOINT set sends its traces over OTLP/HTTP."""
    receiver = _Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{receiver.server_address[1]}")
        monkeypatch.setenv("OTEL_SERVICE_NAME", "gateway-under-test")
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
        config = two_locations()
        config["general_settings"] = {"master_key": MASTER, "database_path": str(tmp_path / "gw.db")}
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        proc, url = _spawn(path)
        try:
            _wait_ready(proc, url)
            r = httpx.post(url + "/v1/chat/completions", headers={"authorization": f"Bearer {MASTER}",
                                                                   "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"},
                           json={"model": "gemini-flash", "messages": [{"role": "user", "content": PROMPT}]}, timeout=30)
            assert r.status_code == 200, r.text
            deadline = time.monotonic() + 15
            while len(receiver.spans()) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            proc.terminate()
            proc.wait(20)
    finally:
        receiver.shutdown()
    assert set(receiver.paths) == {"/v1/traces"}
    found = receiver.spans()
    names = sorted(s.name for s in found)
    assert names == ["chat gemini-flash", "chat vertex_ai/gemini-2.5-flash"]
    call = next(s for s in found if s.name == "chat gemini-flash")
    assert call.trace_id.hex() == TRACE_ID and call.parent_span_id.hex() == PARENT_ID
    attributes = {a.key: a.value for a in call.attributes}
    assert attributes["gen_ai.request.model"].string_value == "gemini-flash"
    assert attributes["gen_ai.usage.input_tokens"].int_value > 0
    resource = {a.key: a.value.string_value for a in receiver.requests[0].resource_spans[0].resource.attributes}
    assert resource["service.name"] == "gateway-under-test"
    assert PROMPT.encode() not in b"".join(m.SerializeToString() for m in receiver.requests)


def test_python_api_spans_when_enabled(fake, spans, monkeypatch):
    monkeypatch.setattr(engine, "callbacks", [])
    engine.completion(model="vertex_ai/gemini-2.5-flash", messages=[{"role": "user", "content": "hi"}], vertex_project="p")
    assert spans.get_finished_spans() == (), "off by default"

    monkeypatch.setattr(engine, "callbacks", ["otel"])
    answer = engine.completion(model="vertex_ai/gemini-2.5-flash", messages=[{"role": "user", "content": PROMPT}],
                               vertex_project="p", max_tokens=20)
    (span,) = spans.get_finished_spans()
    assert span.name == "chat vertex_ai/gemini-2.5-flash" and span.kind == SpanKind.CLIENT
    a = span.attributes
    assert a["gen_ai.system"] == "gcp.vertex_ai" and a["gen_ai.request.max_tokens"] == 20
    assert a["gen_ai.usage.input_tokens"] == answer.usage["prompt_tokens"] and a["gen_ai.usage.output_tokens"] > 0
    assert list(a["gen_ai.response.finish_reasons"]) == ["stop"] and a["gen_ai.response.model"]
    assert PROMPT not in _all_attribute_text([span])

    spans.clear()
    with pytest.raises(engine.NotFoundError):
        engine.completion(model="vertex_ai/gemini-2.5-flash", messages=[{"role": "user", "content": "hi"}],
                          vertex_project="p", api_base=fake.url + "/no-such-path")
    (failed,) = spans.get_finished_spans()
    assert failed.status.status_code == StatusCode.ERROR and failed.attributes["error.type"] == "NotFoundError"


async def _embed_async():
    return await engine.aembedding(model="vertex_ai/text-embedding-004", input=["a", "b"], vertex_project="p")


def test_python_api_async_spans(fake, spans, monkeypatch):
    import asyncio

    monkeypatch.setattr(engine, "callbacks", ["otel"])
    result = asyncio.run(_embed_async())
    (span,) = spans.get_finished_spans()
    assert span.name == "embeddings vertex_ai/text-embedding-004"
    assert span.attributes["gen_ai.operation.name"] == "embeddings"
    assert len(result.data) == 2
