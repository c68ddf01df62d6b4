"""The incremental SSE decoder and the JSON event reader."""

from __future__ import annotations

import json
import random

import pytest

from engine.errors import UnprocessableEntityError
from engine.hooks.sse import SSEDecoder, SSEEvent, iter_sse_json

# A Vertex-style stream: CRLF line ends, non-ASCII text (multibyte UTF-8), no [DONE].
VERTEX_EVENTS = [
    {"candidates": [{"content": {"role": "model", "parts": [{"text": "Il fait 4 °C "}]}}], "usageMetadata": {"trafficType": "ON_DEMAND"}},
    {"candidates": [{"content": {"role": "model", "parts": [{"text": "à Oslo ☃ 🌨"}]}, "finishReason": "STOP"}],
     "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2, "totalTokenCount": 7}},
]
VERTEX_BODY = "".join(
    "data: " + json.dumps(event, ensure_ascii=False) + "\r\n\r\n" for event in VERTEX_EVENTS
).encode("utf-8")

ANTHROPIC_BODY = (
    b"event: message_start\n"
    b'data: {"type":"message_start"}\n'
    b"\n"
    b": keep-alive comment\n"
    b"\n"
    b"event: ping\n"
    b'data: {"type":"ping"}\n'
    b"\n"
    b"event: content_block_delta\n"
    b"id: 7\n"
    b'data: {"type":"content_block_delta",\n'
    b'data: "index":0}\n'
    b"\n"
)


def decode_all(chunks: list[bytes] | list[str]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.flush())
    return events


def random_splits(body: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(body)), k=min(len(body) - 1, rng.randint(1, 12))))
    return [body[start:end] for start, end in zip([0, *cuts], [*cuts, len(body)])]


def test_vertex_crlf_events_decode_to_the_upstream_json() -> None:
    events = decode_all([VERTEX_BODY])
    assert [event.event for event in events] == [None, None]
    assert [json.loads(event.data) for event in events] == VERTEX_EVENTS


def test_byte_by_byte_and_random_splits_give_identical_events() -> None:
    whole = decode_all([VERTEX_BODY + ANTHROPIC_BODY])
    assert len(whole) == 5
    body = VERTEX_BODY + ANTHROPIC_BODY
    byte_by_byte = decode_all([body[i : i + 1] for i in range(len(body))])
    assert byte_by_byte == whole
    rng = random.Random(20260501)
    for _ in range(200):
        assert decode_all(random_splits(body, rng)) == whole


def test_a_multibyte_character_split_between_chunks_is_not_mangled() -> None:
    body = "data: ☃🌨\n\n".encode()
    snowman_start = body.index("☃".encode())
    chunks = [body[: snowman_start + 1], body[snowman_start + 1 : snowman_start + 5], body[snowman_start + 5 :]]
    assert decode_all(chunks) == [SSEEvent(None, "☃🌨", None)]


def test_event_names_multiline_data_comments_and_ids() -> None:
    events = decode_all([ANTHROPIC_BODY])
    assert [event.event for event in events] == ["message_start", "ping", "content_block_delta"]
    assert events[2].data == '{"type":"content_block_delta",\n"index":0}'
    assert events[2].id == "7"
    assert events[0].id is None


def test_every_line_ending_style_and_a_crlf_split_across_chunks() -> None:
    expected = [SSEEvent(None, "a", None), SSEEvent("e", "b", None)]
    assert decode_all(["data: a\n\nevent: e\ndata: b\n\n"]) == expected
    assert decode_all(["data: a\r\revent: e\rdata: b\r\r"]) == expected
    assert decode_all(["data: a\r\n\r\nevent: e\r\ndata: b\r\n\r\n"]) == expected
    # "\r" ends one chunk and "\n" starts the next: one line end, not two (two would dispatch early).
    assert decode_all(["data: a\r", "\ndata: b\r", "\n\r\n"]) == [SSEEvent(None, "a\nb", None)]


def test_flush_emits_the_event_missing_its_final_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"x": 1}\n\ndata: {"x": 2}') == [SSEEvent(None, '{"x": 1}', None)]
    assert decoder.flush() == [SSEEvent(None, '{"x": 2}', None)]
    assert decoder.count == 2


def test_field_without_space_bom_and_event_without_data() -> None:
    events = decode_all(["\ufeffdata:tight\n\nevent: lonely\n\ndata\n\n"])
    # An event with no data line is not dispatched; a bare "data" line is an empty data line.
    assert events == [SSEEvent(None, "tight", None), SSEEvent(None, "", None)]


def test_iter_sse_json_skips_done_and_blank_events() -> None:
    events = [SSEEvent(None, '{"a": 1}', None), SSEEvent(None, "", None), SSEEvent(None, "[DONE]", None)]
    assert list(iter_sse_json(events)) == [{"a": 1}]


def test_iter_sse_json_names_the_malformed_event() -> None:
    events = decode_all([b'data: {"ok": true}\n\ndata: {"ok": tru\n\n'])
    reader = iter_sse_json(events)
    assert next(reader) == {"ok": True}
    with pytest.raises(UnprocessableEntityError) as raised:
        next(reader)
    assert "event 2 " in raised.value.message
    assert raised.value.status_code == 422


def test_iter_sse_json_numbers_from_start_when_decoding_chunk_by_chunk() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: {}\n\ndata: {}\n\n")
    events = decoder.feed(b"data: nope\n\n")
    with pytest.raises(UnprocessableEntityError, match="event 3 "):
        list(iter_sse_json(events, start=decoder.count - len(events) + 1))
