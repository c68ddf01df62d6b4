"""Cloud Text-to-Speech through engine.speech / aspeech against the fake Google."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

import engine
from engine.emulator import FakeGoogle
from engine.emulator.texttospeech import audio_bytes

pytestmark = pytest.mark.anyio

DEFAULT_VOICE = {"languageCode": "en-US", "name": "en-US-Studio-O"}


def test_plain_text_defaults(fake: FakeGoogle, tmp_path: Path) -> None:
    response = engine.speech(model="vertex_ai/", input="hello there")
    call = fake.last(":synthesize")
    assert call.host == "texttospeech.googleapis.com" and call.path == "/v1/text:synthesize"
    assert call.bearer and call.headers["x-goog-user-project"] == "fake-project"
    assert call.json == {"input": {"text": "hello there"}, "voice": DEFAULT_VOICE, "audioConfig": {"audioEncoding": "LINEAR16"}}
    expected = audio_bytes("hello there", DEFAULT_VOICE, "LINEAR16")
    assert response.content == expected == response.read()
    assert response.content.startswith(b"RIFF") and response.content_type == "audio/wav"
    response.stream_to_file(tmp_path / "out.wav")
    assert (tmp_path / "out.wav").read_bytes() == expected


def test_stream_to_file_writes_exactly_the_base64_decoded_audio_content(fake: FakeGoogle, tmp_path: Path) -> None:
    audio = bytes(range(256)) * 3
    fake.script(":synthesize", json={"audioContent": base64.b64encode(audio).decode()})
    engine.speech(model="vertex_ai/", input="x", response_format="mp3").stream_to_file(tmp_path / "a.mp3")
    assert (tmp_path / "a.mp3").read_bytes() == audio


@pytest.mark.parametrize(
    ("voice", "sent"),
    [
        ("alloy", DEFAULT_VOICE),
        ("echo", {"languageCode": "en-US", "name": "en-US-Studio-M"}),
        ("fable", {"languageCode": "en-GB", "name": "en-GB-Studio-B"}),
        ("de-DE-Wavenet-B", {"languageCode": "de-DE", "name": "de-DE-Wavenet-B"}),
        ({"name": "fr-FR-Neural2-A"}, {"languageCode": "fr-FR", "name": "fr-FR-Neural2-A"}),
        ({"languageCode": "en-US", "ssmlGender": "FEMALE"}, {"languageCode": "en-US", "ssmlGender": "FEMALE"}),
    ],
)
def test_voices(fake: FakeGoogle, voice, sent) -> None:
    engine.speech(model="vertex_ai/", input="hi", voice=voice)
    assert fake.last(":synthesize").json["voice"] == sent


@pytest.mark.parametrize(
    ("fmt", "encoding", "mime"),
    [("mp3", "MP3", "audio/mpeg"), ("opus", "OGG_OPUS", "audio/ogg"), ("aac", "MP3", "audio/mpeg"),
     ("wav", "LINEAR16", "audio/wav"), ("pcm", "LINEAR16", "audio/wav"), ("MULAW", "MULAW", "audio/basic")],
)
async def test_response_format_and_speed(fake: FakeGoogle, fmt: str, encoding: str, mime: str) -> None:
    response = await engine.aspeech(model="vertex_ai/", input="hi", response_format=fmt, speed=1.5)
    assert fake.last(":synthesize").json["audioConfig"] == {"audioEncoding": encoding, "speakingRate": 1.5}
    assert response.content_type == mime
    assert response.content == audio_bytes("hi", DEFAULT_VOICE, encoding)


def test_ssml_detected_or_forced(fake: FakeGoogle) -> None:
    engine.speech(model="vertex_ai/", input="<speak>Hi</speak>")
    assert fake.last(":synthesize").json["input"] == {"ssml": "<speak>Hi</speak>"}
    with pytest.raises(engine.BadRequestError, match="speak"):  # forced SSML without <speak>: Google's 400
        engine.speech(model="vertex_ai/", input="plain", use_ssml=True)
    assert fake.last(":synthesize").json["input"] == {"ssml": "plain"}


def test_audio_config_replaces_the_mapped_one(fake: FakeGoogle) -> None:
    config = {"audioEncoding": "MP3", "pitch": -2.0, "sampleRateHertz": 16000}
    response = engine.speech(model="vertex_ai/x", input="hi", response_format="wav", audioConfig=config)
    assert fake.last(":synthesize").json["audioConfig"] == config
    assert response.content_type == "audio/mpeg"


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"voice": "robot"}, "voice: expected an OpenAI voice"),
        ({"voice": {"ssmlGender": "MALE"}}, "voice.languageCode: required"),
        ({"voice": 3}, "voice: expected a string or an object"),
        ({"speed": "fast"}, "speed: expected a number"),
        ({"use_ssml": "yes"}, "use_ssml: expected a boolean"),
        ({"response_format": "aiff"}, "response_format='aiff' is not supported"),
        ({"audioConfig": "MP3"}, "audioConfig: expected an object"),
        ({"input": ["a"]}, "input: expected a string"),
        ({"input": ""}, "input: required"),
    ],
)
def test_refusals_name_the_field(fake: FakeGoogle, kwargs: dict, text: str) -> None:
    call = {"input": "hi", **kwargs}
    with pytest.raises(engine.BadRequestError) as err:
        engine.speech(model="vertex_ai/", **call)
    assert text in str(err.value)
    assert fake.calls(":synthesize") == []


def test_an_answer_without_audio_is_refused(fake: FakeGoogle) -> None:
    fake.script(":synthesize", json={"timepoints": []})
    with pytest.raises(engine.UnprocessableEntityError, match="no audio content"):
        engine.speech(model="vertex_ai/", input="hi")


def test_expired_token_is_refreshed_once(fake: FakeGoogle) -> None:
    engine.speech(model="vertex_ai/", input="one")
    issued = fake.tokens_issued
    fake.revoke_tokens()
    assert engine.speech(model="vertex_ai/", input="two").content == audio_bytes("two", DEFAULT_VOICE, "LINEAR16")
    assert fake.tokens_issued == issued + 1
    assert len(fake.calls(":synthesize")) == 3  # the 401, then the retry with a fresh token


def test_chat_on_vertex_ai_prefix_is_not_taken_by_tts(fake: FakeGoogle) -> None:
    with pytest.raises(engine.BadRequestError, match="no mapping serves"):
        engine.completion(model="vertex_ai/some-unknown-model", messages=[{"role": "user", "content": "hi"}])


def test_stream_true_is_refused_not_ignored(fake: FakeGoogle) -> None:
    with pytest.raises(engine.BadRequestError, match="stream: speech answers in one piece"):
        engine.speech(model="vertex_ai/", input="hi", stream=True)
    assert fake.calls(":synthesize") == []


def test_openai_stream_format_audio_is_accepted_sse_refused(fake: FakeGoogle) -> None:
    engine.speech(model="vertex_ai/", input="hi", stream_format="audio")
    assert "stream_format" not in fake.last(":synthesize").json
    with pytest.raises(engine.UnsupportedParamsError, match="stream_format"):
        engine.speech(model="vertex_ai/", input="hi", stream_format="sse")


# Google's list prices, USD per 1M characters (cloud.google.com/text-to-speech/pricing), written out
# here rather than read from the catalog so a mistyped catalog price fails.
PER_MILLION = {"standard": 4, "wavenet": 4, "neural2": 16, "polyglot": 16, "chirp3_hd": 30, "studio": 160}


@pytest.mark.parametrize(
    ("voice", "tier"),
    [
        ("alloy", "studio"),                                   # en-US-Studio-O
        ("onyx", "wavenet"),                                   # en-US-Wavenet-D
        ("de-DE-Standard-B", "standard"),
        ("cmn-CN-Wavenet-A", "wavenet"),
        ({"name": "fr-FR-Neural2-A"}, "neural2"),
        ("en-US-Chirp3-HD-Achernar", "chirp3_hd"),
        ("en-US-Polyglot-1", "polyglot"),
    ],
)
def test_cost_is_billed_characters_times_the_voice_tier_price(fake: FakeGoogle, voice, tier: str) -> None:
    text = "Héllo, wörld — voilà"  # characters, not UTF-8 bytes
    response = engine.speech(model="vertex_ai/", input=text, voice=voice)
    assert response._hidden_params["voice_tier"] == tier
    assert response._hidden_params["response_cost"] == pytest.approx(len(text) * PER_MILLION[tier] / 1e6, rel=1e-9)


def test_ssml_markup_is_billed_too(fake: FakeGoogle) -> None:
    ssml = '<speak>Hi <break time="300ms"/> there</speak>'
    response = engine.speech(model="vertex_ai/", input=ssml, voice="en-GB-Neural2-B")
    assert fake.last(":synthesize").json["input"] == {"ssml": ssml}
    assert response._hidden_params["response_cost"] == pytest.approx(len(ssml) * 16 / 1e6, rel=1e-9)


@pytest.mark.parametrize("voice", [{"languageCode": "en-US", "ssmlGender": "FEMALE"}, "en-US-News-K"])
def test_a_voice_of_no_priced_tier_is_unpriced(fake: FakeGoogle, voice) -> None:
    # No name: Google picks the voice, so the tier is unknown; News: no public per-character price found.
    response = engine.speech(model="vertex_ai/", input="hi", voice=voice)
    assert response.content and response._hidden_params["response_cost"] is None
