"""engine.hooks.media: media URLs and OpenAI content items → Gemini parts (reference 03 §4)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import BadRequestError
from engine.hooks import media  # noqa: E402
from engine.mapping.context import Context

FIELD = "messages[0].content[1]"


def make_ctx(model: str = "gemini-2.5-flash", host: str = "vertex", **kw: Any) -> Context:
    prefix = "gemini/" if host == "ai_studio" else "vertex_ai/"
    kw["options"] = {**_format_options(model, host, kw.get("info") or {}), **(kw.get("options") or {})}
    return Context(request={}, model=model, model_string=prefix + model, host=host, **kw)


def _format_options(model: str, host: str, info: dict[str, Any]) -> dict[str, Any]:
    """The options gemini.yaml derives for this model and host (what differs between hosts)."""
    from engine.mapping.registry import get_registry

    return dict(get_registry().formats["gemini"].options_for(model, host, info))


def to_part(item: dict[str, Any], ctx: Context | None = None) -> dict[str, Any] | None:
    return media.content_item_to_part(item, ctx or make_ctx(), FIELD)


# --- tables ------------------------------------------------------------------------------------


def test_extension_tables_follow_the_reference():
    assert media.HTTPS_EXTENSION_MIME["mpeg"] == "video/mpeg"  # first match wins over audio/mpeg
    assert media.HTTPS_EXTENSION_MIME["mov"] == "video/mov"
    assert media.HTTPS_EXTENSION_MIME["mp3"] == "audio/mp3"
    assert media.GCS_EXTENSION_MIME["mov"] == "video/quicktime"
    assert media.GCS_EXTENSION_MIME["mp3"] == "audio/mpeg"
    assert media.GCS_EXTENSION_MIME["3gp"] == "video/3gpp"
    assert "gif" not in media.HTTPS_EXTENSION_MIME


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://x.test/a/photo.JPG", "image/jpeg"),
        ("https://x.test/a/clip.mp4?alt=media&token=1", "video/mp4"),
        ("https://x.test/doc.pdf#page=2", "application/pdf"),
        ("https://x.test/archive.tar.gz", None),
        ("https://x.test/v1.2/noext", None),
    ],
)
def test_mime_from_extension_ignores_case_query_and_fragment(url, expected):
    assert media.mime_from_extension(url, media.HTTPS_EXTENSION_MIME) == expected


# --- gemini_media_part ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, mime",
    [
        ("gs://bucket/cat.png", "image/png"),
        ("gs://bucket/cat.jpg", "image/jpeg"),
        ("gs://bucket/talk.mp3", "audio/mpeg"),
        ("gs://bucket/clip.mov", "video/quicktime"),
        ("gs://bucket/clip.mp4", "video/mp4"),
        ("gs://cloud-samples-data/generative-ai/pdf/2403.05530.pdf", "application/pdf"),
    ],
)
def test_gcs_uri_becomes_file_data_with_mime_from_extension(url, mime):
    part = media.gemini_media_part(url, None, field="f")
    assert part == {"fileData": {"mimeType": mime, "fileUri": url}}


def test_gcs_uri_format_overrides_extension():
    part = media.gemini_media_part("gs://b/x.bin", "application/pdf", field="f")
    assert part == {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://b/x.bin"}}


def test_gcs_uri_with_unknown_extension_asks_for_format():
    with pytest.raises(BadRequestError) as err:
        media.gemini_media_part("gs://b/x.bin", None, field=f"{FIELD}.image_url")
    assert f"{FIELD}.image_url.url" in err.value.message
    assert f"{FIELD}.image_url.format" in err.value.message
    assert err.value.param == f"{FIELD}.image_url.format"


@pytest.mark.parametrize(
    "url, mime",
    [
        ("https://storage.googleapis.com/github-repo/img/gemini/intro/landmark3.jpg", "image/jpeg"),
        ("https://storage.googleapis.com/x/pixel8.mp4", "video/mp4"),
        ("https://x.test/clip.mov", "video/mov"),
        ("https://x.test/song.mpeg", "video/mpeg"),
        ("https://x.test/paper.pdf?download=1", "application/pdf"),
    ],
)
def test_https_with_known_mime_becomes_file_data_on_vertex(url, mime):
    assert media.gemini_media_part(url, None, field="f") == {
        "fileData": {"mimeType": mime, "fileUri": url}
    }


def test_https_with_unknown_mime_is_refused_without_fetching():
    url = "https://upload.wikimedia.org/wikipedia/commons/thumb/image"
    with pytest.raises(BadRequestError) as err:
        media.gemini_media_part(url, None, field=f"{FIELD}.image_url")
    assert f"{FIELD}.image_url.format" in err.value.message


def test_https_with_unknown_extension_and_format_becomes_file_data():
    part = media.gemini_media_part("https://x.test/image", "image/webp", field="f")
    assert part == {"fileData": {"mimeType": "image/webp", "fileUri": "https://x.test/image"}}


def test_data_uri_becomes_inline_data_and_format_overrides_its_mime():
    assert media.gemini_media_part("data:image/png;base64,AAAA", None, field="f") == {
        "inlineData": {"mimeType": "image/png", "data": "AAAA"}
    }
    assert media.gemini_media_part("data:image/png;base64,AAAA", "image/jpeg", field="f", fetches_urls=False) == {
        "inlineData": {"mimeType": "image/jpeg", "data": "AAAA"}
    }


@pytest.mark.parametrize("uri", ["data:image/png,AAAA", "data:image/png;base64,", "data:;base64,AAAA"])
def test_bad_data_uris_are_refused_naming_the_field(uri):
    with pytest.raises(BadRequestError) as err:
        media.gemini_media_part(uri, None, field=f"{FIELD}.image_url")
    assert f"{FIELD}.image_url" in err.value.message


def test_ai_studio_refuses_foreign_https_urls_and_explains():
    with pytest.raises(BadRequestError) as err:
        media.gemini_media_part("https://x.test/cat.png", None, field=f"{FIELD}.image_url", fetches_urls=False)
    message = err.value.message
    assert f"{FIELD}.image_url.url" in message
    assert "data:" in message and "Files API" in message


def test_ai_studio_accepts_files_api_uris_with_a_format():
    uri = "https://generativelanguage.googleapis.com/v1beta/files/abc123"
    part = media.gemini_media_part(uri, "video/mp4", field=f"{FIELD}.file", fetches_urls=False, url_key="file_id")
    assert part == {"fileData": {"mimeType": "video/mp4", "fileUri": uri}}
    with pytest.raises(BadRequestError) as err:
        media.gemini_media_part(uri, None, field=f"{FIELD}.file", fetches_urls=False, url_key="file_id")
    assert f"{FIELD}.file.format" in err.value.message


@pytest.mark.parametrize("url", ["ftp://x.test/a.png", "file:///tmp/a.png", "cat.png", ""])
def test_unsupported_references_are_refused(url):
    with pytest.raises(BadRequestError) as err:
        media.gemini_media_part(url, None, field=f"{FIELD}.image_url")
    assert f"{FIELD}.image_url.url" in err.value.message


def test_format_must_be_a_mime_type():
    with pytest.raises(BadRequestError) as err:
        media.gemini_media_part("gs://b/a.png", "png", field=f"{FIELD}.image_url")
    assert f"{FIELD}.image_url.format" in err.value.message


# --- content_item_to_part --------------------------------------------------------------------------


def test_text_items():
    assert to_part({"type": "text", "text": "hi"}) == {"text": "hi"}
    assert to_part({"type": "text", "text": ""}) is None  # empty text parts are never emitted
    with pytest.raises(BadRequestError) as err:
        to_part({"type": "text", "text": 3})
    assert f"{FIELD}.text" in err.value.message


def test_image_url_as_string_and_object():
    assert to_part({"type": "image_url", "image_url": "gs://b/a.png"}) == {
        "fileData": {"mimeType": "image/png", "fileUri": "gs://b/a.png"}
    }
    assert to_part({"type": "image_url", "image_url": {"url": "https://x.test/a", "format": "image/png"}}) == {
        "fileData": {"mimeType": "image/png", "fileUri": "https://x.test/a"}
    }


def test_image_url_of_wrong_type_names_the_field():
    with pytest.raises(BadRequestError) as err:
        to_part({"type": "image_url", "image_url": 5})
    assert f"{FIELD}.image_url" in err.value.message
    with pytest.raises(BadRequestError) as err:
        to_part({"type": "image_url", "image_url": {"detail": "low"}})
    assert f"{FIELD}.image_url.url" in err.value.message


def test_detail_becomes_media_resolution_on_gemini_3_only():
    item = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "high"}}
    assert to_part(item, make_ctx("gemini-3-pro-preview")) == {
        "inlineData": {"mimeType": "image/png", "data": "AAAA"},
        "mediaResolution": {"level": "MEDIA_RESOLUTION_HIGH"},
    }
    assert "mediaResolution" not in to_part(item, make_ctx("gemini-2.5-flash"))
    auto = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "auto"}}
    assert "mediaResolution" not in to_part(auto, make_ctx("gemini-3-pro-preview"))


def test_unknown_detail_is_refused():
    with pytest.raises(BadRequestError) as err:
        to_part({"type": "image_url", "image_url": {"url": "gs://b/a.png", "detail": "huge"}})
    assert f"{FIELD}.image_url.detail" in err.value.message


def test_input_audio():
    assert to_part({"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}}) == {
        "inlineData": {"mimeType": "audio/wav", "data": "UklG"}
    }
    assert to_part({"type": "input_audio", "input_audio": {"data": "SUQz", "format": "audio/mp3"}}) == {
        "inlineData": {"mimeType": "audio/mp3", "data": "SUQz"}
    }


@pytest.mark.parametrize(
    "audio, missing",
    [({"format": "wav"}, "input_audio.data"), ({"data": "UklG"}, "input_audio.format"), ("UklG", "input_audio")],
)
def test_input_audio_errors_name_the_missing_field(audio, missing):
    with pytest.raises(BadRequestError) as err:
        to_part({"type": "input_audio", "input_audio": audio})
    assert f"{FIELD}.{missing}" in err.value.message


def test_seed_audio_input_shape_is_accepted():
    item = {"type": "audio_input", "audio_input": {"audio_input": "data:audio/mp3;base64,SUQz"}}
    assert to_part(item) == {"inlineData": {"mimeType": "audio/mp3", "data": "SUQz"}}
    assert to_part({"type": "audio_input", "audio_input": "data:audio/wav;base64,UklG"}) == {
        "inlineData": {"mimeType": "audio/wav", "data": "UklG"}
    }


def test_file_with_file_id_and_format():
    item = {"type": "file", "file": {"file_id": "gs://cloud-samples-data/doc", "format": "application/pdf"}}
    assert to_part(item) == {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://cloud-samples-data/doc"}}


def test_file_id_wins_over_file_data():
    item = {"type": "file", "file": {"file_id": "gs://b/a.pdf", "file_data": "data:application/pdf;base64,JVBE"}}
    assert to_part(item) == {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://b/a.pdf"}}


def test_file_data_as_data_uri_and_bare_base64():
    assert to_part({"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE"}}) == {
        "inlineData": {"mimeType": "application/pdf", "data": "JVBE"}
    }
    assert to_part({"type": "file", "file": {"file_data": "JVBE", "format": "application/pdf"}}) == {
        "inlineData": {"mimeType": "application/pdf", "data": "JVBE"}
    }
    with pytest.raises(BadRequestError) as err:
        to_part({"type": "file", "file": {"file_data": "JVBE"}})
    assert f"{FIELD}.file.format" in err.value.message


def test_file_without_id_or_data_is_refused():
    with pytest.raises(BadRequestError) as err:
        to_part({"type": "file", "file": {"format": "application/pdf"}})
    assert f"{FIELD}.file" in err.value.message and "file_id" in err.value.message


def test_file_with_unknown_mime_asks_for_file_format():
    with pytest.raises(BadRequestError) as err:
        to_part({"type": "file", "file": {"file_id": "https://x.test/download?id=7"}})
    assert f"{FIELD}.file.format" in err.value.message
    assert f"{FIELD}.file.file_id" in err.value.message


def test_video_by_gcs_and_https_with_video_metadata():
    item = {
        "type": "file",
        "file": {"file_id": "gs://b/clip.mp4", "video_metadata": {"fps": 2, "start_offset": 10, "end_offset": "20s"}},
    }
    assert to_part(item) == {
        "fileData": {"mimeType": "video/mp4", "fileUri": "gs://b/clip.mp4"},
        "videoMetadata": {"fps": 2, "startOffset": "10s", "endOffset": "20s"},
    }
    https = to_part({"type": "file", "file": {"file_id": "https://storage.googleapis.com/x/pixel8.mp4"}})
    assert https == {"fileData": {"mimeType": "video/mp4", "fileUri": "https://storage.googleapis.com/x/pixel8.mp4"}}


def test_bad_video_metadata_names_the_field():
    with pytest.raises(BadRequestError) as err:
        to_part({"type": "file", "file": {"file_id": "gs://b/clip.mp4", "video_metadata": {"start_offset": [1]}}})
    assert f"{FIELD}.file.video_metadata.start_offset" in err.value.message


def test_file_detail_becomes_media_resolution_on_gemini_3():
    item = {"type": "file", "file": {"file_id": "gs://b/a.pdf", "detail": "low"}}
    assert to_part(item, make_ctx("gemini-3-flash-preview"))["mediaResolution"] == {"level": "MEDIA_RESOLUTION_LOW"}


def test_tool_result_image_shapes():
    assert to_part({"type": "input_image", "image_url": "data:image/png;base64,AAAA"}) == {
        "inlineData": {"mimeType": "image/png", "data": "AAAA"}
    }
    anthropic = {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}}
    assert to_part(anthropic) == {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/"}}


@pytest.mark.parametrize("item, where", [("hello", FIELD), ({"type": "video"}, f"{FIELD}.type"), ({}, f"{FIELD}.type")])
def test_bad_items_name_the_field(item, where):
    with pytest.raises(BadRequestError) as err:
        to_part(item)
    assert where in err.value.message


# --- gemini_generation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model, overrides, expected",
    [
        ("gemini-2.5-flash", None, 2),
        ("gemini-3-pro-preview", None, 3),
        ("1234567890", None, 2),
        ("gemini-3-flash-tuned", None, 3),
        ("gemini-1.5-pro", None, 1),
        ("1234567890", {"gemini_generation": 3}, 3),
        ("gemini-3-pro-preview", {"gemini_generation": 2}, 2),
    ],
)
def test_gemini_generation(model, overrides, expected):
    # gemini.yaml's option owns the rule; the media parts read it.
    from engine.mapping.registry import get_registry

    options = get_registry().formats["gemini"].options_for(model, "vertex", {}, overrides)
    assert options["gemini_generation"] == expected
    assert media.gemini_generation(Context(request={}, model=model, options=options)) == expected


def test_gemini_generation_option_given_as_text_is_read_as_a_number():
    assert media.gemini_generation(Context(request={}, model="gemini-3-pro-preview", options={"gemini_generation": "2"})) == 2


def test_gemini_generation_option_must_be_an_integer():
    with pytest.raises(BadRequestError) as err:
        media.gemini_generation(Context(request={}, options={"gemini_generation": "three"}))
    assert "options.gemini_generation" in err.value.message


def test_gemini_generation_option_infinity_is_a_bad_request_not_an_overflow():
    # Found by tests/unit/test_fuzz_inputs.py: int(float("inf")) raises OverflowError.
    with pytest.raises(BadRequestError) as err:
        media.gemini_generation(Context(request={}, options={"gemini_generation": float("inf")}))
    assert err.value.param == "options.gemini_generation"
