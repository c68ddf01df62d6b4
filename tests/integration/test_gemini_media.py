"""Multimodal user content -> Gemini parts (image_url, file, input_audio, video), MIME inference."""

from __future__ import annotations

import base64

import pytest

import engine

from ._gemini_support import complete, mode, text_response  # noqa: F401  (mode is a fixture)

pytestmark = pytest.mark.anyio

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake image bytes").decode()
PDF = base64.b64encode(b"%PDF-1.4 fake pdf").decode()
WAV = base64.b64encode(b"RIFF....WAVEfmt fake audio").decode()


async def _parts(fake, mode, content, model="vertex_ai/gemini-2.5-flash"):
    fake.script(":generateContent", json=text_response())
    await complete(mode, model=model, messages=[{"role": "user", "content": content}])
    contents = fake.last(":generateContent").json["contents"]
    assert len(contents) == 1 and contents[0]["role"] == "user"
    return contents[0]["parts"]


@pytest.mark.parametrize(
    ("url", "part"),
    [
        ("gs://cloud-samples-data/generative-ai/image/boats.jpeg",
         {"fileData": {"mimeType": "image/jpeg", "fileUri": "gs://cloud-samples-data/generative-ai/image/boats.jpeg"}}),
        ("gs://bucket/cat.png", {"fileData": {"mimeType": "image/png", "fileUri": "gs://bucket/cat.png"}}),
        ("https://example.com/photos/landmark3.JPG?sig=abc",
         {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/photos/landmark3.JPG?sig=abc"}}),
        ("https://example.com/a.webp", {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/a.webp"}}),
        (f"data:image/png;base64,{PNG}", {"inlineData": {"mimeType": "image/png", "data": PNG}}),
    ],
)
async def test_image_url_kinds(fake, mode, url, part):
    parts = await _parts(fake, mode, [{"type": "text", "text": "What is this?"},
                                      {"type": "image_url", "image_url": {"url": url}}])
    assert parts == [{"text": "What is this?"}, part]


async def test_image_url_as_plain_string_and_explicit_format(fake, mode):
    parts = await _parts(fake, mode, [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": "gs://b/one.png"},
        {"type": "image_url", "image_url": {"url": "https://example.com/render?id=9", "format": "image/png"}},
    ])
    assert parts == [
        {"text": "Compare"},
        {"fileData": {"mimeType": "image/png", "fileUri": "gs://b/one.png"}},
        {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/render?id=9"}},
    ]


async def test_media_only_turn_gets_a_blank_text_part(fake, mode):
    parts = await _parts(fake, mode, [{"type": "image_url", "image_url": {"url": "gs://b/x.png"}}])
    assert parts == [{"fileData": {"mimeType": "image/png", "fileUri": "gs://b/x.png"}}, {"text": " "}]  # pitfall 1


async def test_empty_text_items_are_not_sent(fake, mode):
    parts = await _parts(fake, mode, [{"type": "text", "text": ""}, {"type": "text", "text": "real"}])
    assert parts == [{"text": "real"}]


@pytest.mark.parametrize(
    ("file", "part"),
    [
        ({"file_id": "gs://cloud-samples-data/generative-ai/pdf/2403.05530.pdf", "format": "application/pdf"},
         {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://cloud-samples-data/generative-ai/pdf/2403.05530.pdf"}}),
        ({"file_id": "gs://b/report.pdf"}, {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://b/report.pdf"}}),
        ({"file_id": "gs://b/notes", "format": "text/plain"},
         {"fileData": {"mimeType": "text/plain", "fileUri": "gs://b/notes"}}),
        ({"file_data": f"data:application/pdf;base64,{PDF}"}, {"inlineData": {"mimeType": "application/pdf", "data": PDF}}),
        ({"file_data": PDF, "format": "application/pdf"}, {"inlineData": {"mimeType": "application/pdf", "data": PDF}}),
        # file_id wins over file_data
        ({"file_id": "gs://b/a.pdf", "file_data": f"data:application/pdf;base64,{PDF}"},
         {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://b/a.pdf"}}),
    ],
)
async def test_file_items(fake, mode, file, part):
    parts = await _parts(fake, mode, [{"type": "text", "text": "Summarize."}, {"type": "file", "file": file}])
    assert parts == [{"text": "Summarize."}, part]


@pytest.mark.parametrize(
    ("url", "mime"),
    [("gs://b/clip.mp4", "video/mp4"), ("gs://b/clip.mov", "video/quicktime"),
     ("https://storage.googleapis.com/github-repo/img/gemini/multimodality_usecases_overview/pixel8.mp4", "video/mp4"),
     ("gs://b/song.mp3", "audio/mpeg"), ("https://example.com/song.mp3", "audio/mp3"), ("gs://b/talk.wav", "audio/wav")],
)
async def test_video_and_audio_urls(fake, mode, url, mime):
    parts = await _parts(fake, mode, [{"type": "text", "text": "Describe."}, {"type": "image_url", "image_url": {"url": url}}])
    assert parts == [{"text": "Describe."}, {"fileData": {"mimeType": mime, "fileUri": url}}]


async def test_video_metadata_on_a_file(fake, mode):
    parts = await _parts(fake, mode, [
        {"type": "text", "text": "What happens?"},
        {"type": "file", "file": {"file_id": "gs://b/match.mp4", "video_metadata": {"fps": 2, "start_offset": "10s", "end_offset": 20}}},
    ])
    assert parts[1] == {
        "fileData": {"mimeType": "video/mp4", "fileUri": "gs://b/match.mp4"},
        "videoMetadata": {"fps": 2, "startOffset": "10s", "endOffset": "20s"},
    }


async def test_input_audio(fake, mode):
    parts = await _parts(fake, mode, [
        {"type": "text", "text": "Transcribe."},
        {"type": "input_audio", "input_audio": {"data": WAV, "format": "wav"}},
    ])
    assert parts == [{"text": "Transcribe."}, {"inlineData": {"mimeType": "audio/wav", "data": WAV}}]


async def test_detail_becomes_media_resolution_on_gemini_3_only(fake, mode):
    item = {"type": "image_url", "image_url": {"url": "gs://b/x.png", "detail": "high"}}
    parts = await _parts(fake, mode, [{"type": "text", "text": "?"}, item], model="vertex_ai/gemini-3-pro-preview")
    assert parts[1] == {"fileData": {"mimeType": "image/png", "fileUri": "gs://b/x.png"},
                        "mediaResolution": {"level": "MEDIA_RESOLUTION_HIGH"}}
    parts = await _parts(fake, mode, [{"type": "text", "text": "?"}, item], model="vertex_ai/gemini-2.5-flash")
    assert parts[1] == {"fileData": {"mimeType": "image/png", "fileUri": "gs://b/x.png"}}


async def test_unknown_mime_asks_for_format(fake, mode):
    with pytest.raises(engine.BadRequestError, match=r"messages\[0\]\.content\[1\]\.file\.format"):
        await complete(mode, model="vertex_ai/gemini-2.5-flash", messages=[{"role": "user", "content": [
            {"type": "text", "text": "?"}, {"type": "file", "file": {"file_id": "gs://b/blob"}}]}])
    assert fake.calls(":generateContent") == []


async def test_ai_studio_refuses_arbitrary_https_urls_but_takes_data_uris(fake, mode, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "test-key")
    with pytest.raises(engine.BadRequestError, match="cannot fetch"):
        await complete(mode, model="gemini/gemini-2.5-flash", messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}}]}])
    fake.script(":generateContent", json=text_response())
    await complete(mode, model="gemini/gemini-2.5-flash", messages=[{"role": "user", "content": [
        {"type": "text", "text": "?"}, {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]}])
    sent = fake.last(":generateContent")
    assert sent.api == "ai_studio" and sent.api_key == "test-key"
    assert sent.json["contents"][0]["parts"][1] == {"inlineData": {"mimeType": "image/png", "data": PNG}}
