"""/v1/audio/transcriptions and /v1/audio/translations through the edge, with the openai SDK, on
the real local Whisper models: sentences spoken by eSpeak (through /v1/audio/speech) come back as
words."""

import difflib
import os
import re

import httpx2
import openai
import pytest

from services.audio import encode
from services.audio.providers.espeak import SAMPLE_RATE, Espeak

SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."
STORY = open(os.path.join(os.path.dirname(__file__), "data", "story.txt")).read().strip()  # 52 s spoken
TINY = "whisper-tiny.en"  # the fast model, for most checks; whisper-1 is base (multilingual)


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]", " ", text.lower().replace("-", " ")).split()


def close_enough(heard: str, said: str = SENTENCE) -> bool:
    """The letters said were heard, but for a word or two (eSpeak's voice is not a person's, and
    "river bank" may come back as "riverbank"): case, punctuation and spaces do not count."""
    heard_letters, said_letters = "".join(words(heard)), "".join(words(said))
    return difflib.SequenceMatcher(None, heard_letters, said_letters).ratio() >= 0.85


@pytest.fixture(scope="module")
def spoken(client) -> dict[str, bytes]:
    """SENTENCE in each of the speech endpoint's formats."""
    return {fmt: client.audio.speech.create(model="tts-1", voice="alloy", input=SENTENCE,
                                            response_format=fmt).read()
            for fmt in ("mp3", "wav", "flac", "opus", "aac")}


def containered(samples, *, container: str, codec: str) -> bytes:
    """eSpeak's samples in a container the speech endpoint does not make (webm, mp4)."""
    import io

    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as c:
        stream = c.add_stream(codec, rate=encode.RATE)
        stream.layout = "mono"
        for frame in encode._resampled(samples, SAMPLE_RATE, to_format=stream.format.name):
            c.mux(stream.encode(frame))
        c.mux(stream.encode(None))
    return out.getvalue()


@pytest.mark.parametrize(("container", "codec", "filename"), [("webm", "libopus", "s.webm"), ("mp4", "aac", "s.mp4")])
def test_webm_and_mp4(client, container, codec, filename):
    samples = Espeak().synthesize(SENTENCE, voice="alloy")
    audio = containered(samples, container=container, codec=codec)
    result = client.audio.transcriptions.create(model=TINY, file=(filename, audio))
    assert close_enough(result.text), result.text


@pytest.mark.parametrize(("fmt", "filename"), [("mp3", "s.mp3"), ("wav", "s.wav"), ("flac", "s.flac"),
                                               ("opus", "s.ogg"), ("aac", "s.m4a")])
def test_spoken_sentence_comes_back_in_each_format(client, spoken, fmt, filename):
    result = client.audio.transcriptions.create(model=TINY, file=(filename, spoken[fmt]))
    assert close_enough(result.text), result.text
    assert result.usage.type == "duration" and 2 <= result.usage.seconds <= 8


def test_whisper_1_is_the_multilingual_model(client, spoken):
    result = client.audio.transcriptions.create(model="whisper-1", file=("s.mp3", spoken["mp3"]), language="en",
                                                prompt="A sentence about a fox.", temperature=0.2,
                                                chunking_strategy="auto", include=["logprobs"])
    assert close_enough(result.text), result.text
    server_vad = client.audio.transcriptions.create(model="gpt-4o-mini-transcribe", file=("s.mp3", spoken["mp3"]),
                                                    chunking_strategy={"type": "server_vad", "threshold": 0.5})
    assert close_enough(server_vad.text), server_vad.text


def test_text_srt_and_vtt(client, spoken):
    text = client.audio.transcriptions.create(model=TINY, file=("s.wav", spoken["wav"]), response_format="text")
    assert isinstance(text, str) and close_enough(text) and text.endswith("\n")
    srt = client.audio.transcriptions.create(model=TINY, file=("s.wav", spoken["wav"]), response_format="srt")
    assert re.match(r"1\n00:00:00,\d{3} --> 00:00:0\d,\d{3}\n", srt), srt
    assert close_enough(srt.split("\n")[2])
    vtt = client.audio.transcriptions.create(model=TINY, file=("s.wav", spoken["wav"]), response_format="vtt")
    assert re.match(r"WEBVTT\n\n00:00:00\.\d{3} --> 00:00:0\d\.\d{3}\n", vtt), vtt
    assert close_enough(vtt.split("\n")[3])


def test_verbose_json_with_word_and_segment_timestamps(client, spoken):
    result = client.audio.transcriptions.create(model=TINY, file=("s.flac", spoken["flac"]),
                                                response_format="verbose_json",
                                                timestamp_granularities=["word", "segment"])
    assert result.language == "english" and 2 < result.duration < 8
    assert close_enough(result.text)
    assert result.segments and result.segments[0].id == 0
    assert result.segments[-1].end <= result.duration + 0.5
    assert close_enough(" ".join(w.word for w in result.words))
    starts = [w.start for w in result.words]
    assert starts == sorted(starts) and all(w.end >= w.start for w in result.words)
    fox = next(w for w in result.words if "fox" in w.word.lower())
    assert 0.3 < fox.start < 2.5  # the fourth word of a 4-second sentence
    # Words only: no segments.
    only_words = client.audio.transcriptions.create(model=TINY, file=("s.flac", spoken["flac"]),
                                                    response_format="verbose_json", timestamp_granularities=["word"])
    assert only_words.words and not getattr(only_words, "segments", None)
    # Default granularity: segments, no words.
    plain = client.audio.transcriptions.create(model=TINY, file=("s.flac", spoken["flac"]),
                                               response_format="verbose_json")
    assert plain.segments and not getattr(plain, "words", None)


def test_stream_sends_deltas_then_done(client, spoken):
    events = list(client.audio.transcriptions.create(model=TINY, file=("s.mp3", spoken["mp3"]), stream=True))
    types = [e.type for e in events]
    assert types[-1] == "transcript.text.done" and set(types[:-1]) == {"transcript.text.delta"}, types
    assert "".join(e.delta for e in events[:-1]).strip() == events[-1].text
    assert close_enough(events[-1].text)
    assert events[-1].usage.input_token_details.audio_tokens > 100


async def test_requests_run_together_without_mixing(aclient, spoken):
    import asyncio

    other = "Please call me tomorrow morning at nine."
    audio = (await aclient.audio.speech.create(model="tts-1", voice="echo", input=other, response_format="mp3")).read()
    first, second = await asyncio.gather(
        aclient.audio.transcriptions.create(model=TINY, file=("a.mp3", spoken["mp3"])),
        aclient.audio.transcriptions.create(model=TINY, file=("b.mp3", audio)))
    assert close_enough(first.text) and close_enough(second.text, other), (first.text, second.text)


def test_translation_of_german(client):
    german = Espeak()
    samples = german.synthesize("Guten Morgen. Ich trinke gern Kaffee mit Milch.", voice="de")
    audio = encode.encode(samples, SAMPLE_RATE, "mp3")
    result = client.audio.translations.create(model="whisper-1", file=("de.mp3", audio))
    heard = words(result.text)
    assert "morning" in heard and "coffee" in heard, result.text
    verbose = client.audio.translations.create(model="whisper-1", file=("de.mp3", audio),
                                               response_format="verbose_json")
    assert verbose.language == "german" and verbose.segments and "coffee" in words(verbose.text)
    transcribed = client.audio.transcriptions.create(model="whisper-1", file=("de.mp3", audio),
                                                     response_format="verbose_json")
    assert transcribed.language == "german" and "kaffee" in words(transcribed.text), transcribed.text


def test_upstream_relay_passes_every_field(client, spoken):
    """relay-whisper is this same Vivian as an OpenAI-compatible upstream, serving whisper-tiny.en."""
    result = client.audio.transcriptions.create(model="relay-whisper", file=("s.mp3", spoken["mp3"]),
                                                response_format="verbose_json", timestamp_granularities=["word"],
                                                language="en")
    assert close_enough(result.text) and result.words and result.language == "english"
    srt = client.audio.transcriptions.create(model="relay-whisper", file=("s.mp3", spoken["mp3"]),
                                             response_format="srt")
    assert srt.startswith("1\n00:00:00,") and close_enough(srt.split("\n")[2])
    events = list(client.audio.transcriptions.create(model="relay-whisper", file=("s.mp3", spoken["mp3"]),
                                                     stream=True))
    assert events[-1].type == "transcript.text.done" and close_enough(events[-1].text)
    # A translation the upstream's English-only model refuses: its 400 comes back as it was.
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.translations.create(model="relay-whisper", file=("s.mp3", spoken["mp3"]))
    assert caught.value.body["param"] == "model" and "English-only" in caught.value.body["message"]
    with pytest.raises(openai.NotFoundError) as caught:
        client.audio.transcriptions.create(model="relay-whisper-missing", file=("s.mp3", spoken["mp3"]))
    assert caught.value.body["code"] == "model_not_found" and "no-such-model" in caught.value.body["message"]


def test_speech_from_an_upstream(client):
    audio = client.audio.speech.create(model="relay-speech", voice="alloy", input=SENTENCE, response_format="wav")
    data = audio.read()
    assert audio.response.headers["content-type"] == "audio/wav" and data[:4] == b"RIFF"
    result = client.audio.transcriptions.create(model=TINY, file=("s.wav", data))
    assert close_enough(result.text), result.text
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(model="relay-speech", voice="nobody", input="Hello.")
    assert caught.value.body["param"] == "voice"


@pytest.mark.parametrize(("kwargs", "param", "status"), [
    ({"file": ("x.txt", b"this is not audio")}, "file", 400),
    ({"file": ("x.mp3", b"")}, "file", 400),
    ({"file": ("x.mp3", b"\xff\xfb\x90\x00" + b"garbage" * 500)}, "file", 400),
    ({"file": ("x.wav", b"RIFF1234WAVEfmt " + b"\x00" * 100)}, "file", 400),
    ({"response_format": "mp3"}, "response_format", 400),
    ({"timestamp_granularities": ["word"]}, "timestamp_granularities", 400),
    ({"timestamp_granularities": ["letter"], "response_format": "verbose_json"}, "timestamp_granularities", 400),
    ({"temperature": 3}, "temperature", 400),
    ({"language": "xx"}, "language", 400),
    ({"model": "no-such-model"}, None, 404),  # OpenAI: param null, code model_not_found
    ({"model": "tts-1"}, None, 404),
])
def test_bad_input_is_4xx_with_param(client, spoken, kwargs, param, status):
    args = {"model": TINY, "file": ("s.mp3", spoken["mp3"]), **kwargs}
    with pytest.raises(openai.APIStatusError) as caught:
        client.audio.transcriptions.create(**args)
    assert caught.value.status_code == status, caught.value.body
    assert caught.value.body["param"] == param and caught.value.body["type"] == "invalid_request_error"
    # The service keeps serving.
    assert close_enough(client.audio.transcriptions.create(model=TINY, file=("s.mp3", spoken["mp3"])).text)


def test_missing_file_and_english_only_translation(client, stack, spoken):
    answer = httpx2.post(f"{stack.base_url}/audio/transcriptions", data={"model": TINY},
                         files={"other": ("a.txt", b"x")}, headers={"Authorization": f"Bearer {stack.key}"})
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "file"
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.translations.create(model=TINY, file=("s.mp3", spoken["mp3"]))
    assert caught.value.body["param"] == "model" and "English-only" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.transcriptions.create(model=TINY, file=("s.mp3", spoken["mp3"]), language="de")
    assert caught.value.body["param"] == "language"


def test_audio_over_25_mb_is_413_and_never_one_message(stack):
    big = b"\x00" * (25 * 1024 * 1024 + 1)
    answer = httpx2.post(f"{stack.base_url}/audio/transcriptions", data={"model": TINY},
                         files={"file": ("big.wav", big)}, headers={"Authorization": f"Bearer {stack.key}"},
                         timeout=300)
    assert answer.status_code == 413 and answer.json()["error"]["param"] == "file"


def test_the_object_store_is_emptied(client, stack, spoken):
    """The audio rides the bus's object store, and is deleted once used (or refused)."""
    import asyncio

    from nats.js.errors import NotFoundError

    from shared import audiostore, bus, subjects

    async def stored() -> tuple[list[str], int]:
        nc = await bus.connect(stack.nats_url, name="tests", credentials=stack.auth.path("audio"))
        try:
            store = await audiostore.bucket(nc.jetstream())
            try:
                live = [o.name for o in await store.list(ignore_deletes=True)]
            except NotFoundError:  # nats-py's word for an empty bucket
                live = []
            info = await nc.jetstream().stream_info(f"OBJ_{subjects.AUDIO_BUCKET}")
            return live, info.state.bytes
        finally:
            await nc.close()

    _, before = asyncio.run(stored())
    client.audio.transcriptions.create(model=TINY, file=("s.mp3", spoken["mp3"]))
    with pytest.raises(openai.BadRequestError):
        client.audio.transcriptions.create(model=TINY, file=("s.mp3", spoken["mp3"]), response_format="bad")
    live, after = asyncio.run(stored())
    assert live == []
    assert after - before < len(spoken["mp3"]) / 4  # what stays is two small records of deletion


async def test_client_disconnect_stops_transcription(stack):
    """A hundred seconds of speech (four 30-second windows, some 26 segments), streamed: the
    client leaves after the first delta, and the model stops within the window it is in."""
    import aiohttp

    from tests.test_failures import wait_for_log

    audio = encode.encode(Espeak().synthesize(f"{STORY} {STORY}", voice="alloy"), SAMPLE_RATE, "mp3")
    form = aiohttp.FormData()
    form.add_field("model", TINY)
    form.add_field("stream", "true")
    form.add_field("file", audio, filename="story.mp3", content_type="audio/mpeg")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as http:
        resp = await http.post(f"{stack.base_url}/audio/transcriptions", data=form,
                               headers={"Authorization": f"Bearer {stack.key}"})
        request_id = resp.headers["x-request-id"]
        async for line in resp.content:
            if line.startswith(b"data: "):
                break
        resp.close()
    wait_for_log(stack, "edge", rf"request_id={request_id} client disconnected")
    found = wait_for_log(stack, "audio", rf"request_id={request_id} cancelled chunks=(\d+)", timeout=120)
    assert int(found[1]) < 20, "transcription ran on long after the client left"
