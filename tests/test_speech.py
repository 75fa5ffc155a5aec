"""POST /v1/audio/speech on the local engine (eSpeak NG + PyAV), through the edge, with the openai SDK."""

import io

import av
import numpy as np
import openai
import pytest

TEXT = "The quick brown fox jumps over the lazy dog."
CONTENT_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac", "flac": "audio/flac",
                 "wav": "audio/wav", "pcm": "audio/pcm"}


def decoded(data: bytes) -> tuple[float, int]:
    """Duration in seconds and sample rate of an audio file, as FFmpeg reads it."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.sample_rate, stream.sample_rate


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_every_format_decodes_to_the_spoken_length(client, fmt):
    with client.audio.speech.with_streaming_response.create(model="tts-1", voice="alloy", input=TEXT,
                                                            response_format=fmt) as resp:
        assert resp.headers["content-type"] == CONTENT_TYPES[fmt]
        data = resp.read()
    if fmt == "pcm":  # raw s16le mono at 24 kHz, as OpenAI's
        duration, rate = len(data) / 2 / 24000, 24000
        assert np.abs(np.frombuffer(data, "<i2")).max() > 1000  # not silence
    else:
        duration, rate = decoded(data)
    assert 2.0 < duration < 4.5  # nine words at ~175 words a minute
    assert rate in (24000, 48000)  # opus decoders always run at 48 kHz


def test_default_format_is_mp3_and_speed_changes_length(client):
    normal = client.audio.speech.create(model="gpt-4o-mini-tts", voice="nova", input=TEXT)
    fast = client.audio.speech.create(model="gpt-4o-mini-tts", voice="nova", input=TEXT, speed=2.0,
                                      instructions="Speak cheerfully.")
    assert normal.response.headers["content-type"] == "audio/mpeg"
    assert decoded(fast.content)[0] < 0.7 * decoded(normal.content)[0]


def test_voices_differ(client):
    pcm = {voice: np.frombuffer(client.audio.speech.create(model="tts-1", voice=voice, input=TEXT,
                                                           response_format="pcm").content, "<i2")
           for voice in ("alloy", "nova", "fable")}
    assert len({arr.tobytes() for arr in pcm.values()}) == 3


def test_long_input_streams_in_pieces(client):
    text = " ".join([TEXT] * 60)  # about three minutes of speech, over a megabyte as wav
    with client.audio.speech.with_streaming_response.create(model="tts-1", voice="echo", input=text,
                                                            response_format="wav") as resp:
        pieces = list(resp.iter_bytes(65536))
    data = b"".join(pieces)
    assert len(data) > 1024 * 1024 and decoded(data)[0] > 60


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"voice": "nobody"}, "voice"),
    ({"input": ""}, "input"),
    ({"input": "x" * 4097}, "input"),
    ({"response_format": "ogg"}, "response_format"),
    ({"speed": 5}, "speed"),
])
def test_bad_input_is_400_with_param(client, kwargs, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(**{"model": "tts-1", "voice": "alloy", "input": TEXT, **kwargs})
    assert caught.value.body["param"] == param


def test_a_chat_model_cannot_speak(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.audio.speech.create(model="gpt-4", voice="alloy", input=TEXT)
    assert "/v1/audio/speech" in caught.value.body["message"]


def test_sse_stream_carries_the_file_in_events(client):
    """`stream_format: "sse"`: `speech.audio.delta` events whose pieces make the file the plain
    answer is, then `speech.audio.done` with usage; no `[DONE]` line (OpenAI sends none)."""
    import base64
    import json

    plain = client.audio.speech.create(model="tts-1", voice="alloy", input=TEXT, response_format="wav").content
    streamed = client.audio.speech.create(model="gpt-4o-mini-tts", voice="alloy", input=TEXT, response_format="wav",
                                          stream_format="sse")
    assert streamed.response.headers["content-type"] == "text/event-stream"
    lines = [line for line in streamed.content.decode().split("\n") if line]
    assert all(line.startswith("data: {") for line in lines)
    events = [json.loads(line[6:]) for line in lines]
    assert [e["type"] for e in events[:-1]] == ["speech.audio.delta"] * (len(events) - 1) and len(events) > 1
    assert events[-1] == {"type": "speech.audio.done",
                          "usage": {"input_tokens": len(TEXT), "output_tokens": 0, "total_tokens": len(TEXT)}}
    # The pieces make a whole file (eSpeak's output varies by a few samples from run to run).
    duration, rate = decoded(b"".join(base64.b64decode(e["audio"]) for e in events[:-1]))
    assert rate == decoded(plain)[1] and abs(duration - decoded(plain)[0]) < 0.1
