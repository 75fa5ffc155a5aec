"""The pieces of the transcription path that need no model: joining a model shipped in parts,
the subtitle formats' timestamps, and the form's fields made typed."""

import os

import pytest

from services.audio.providers.local_whisper import model_dir
from services.audio.transcript_formats import Transcript, render
from services.edge.reading import audio_form
from shared import errors
from shared.modelconfig import LocalTranscriptionModel
from shared.protocol.audio import AudioObject, TranscriptionSegment


def test_parts_are_joined_once_in_order(tmp_path):
    src = tmp_path / "pkg"
    src.mkdir()
    (src / "config.json").write_text("{}")
    (src / "model.bin.part1").write_bytes(b"first-")
    (tmp_path / "model.bin.part2").write_bytes(b"second")
    entry = LocalTranscriptionModel(id="m", path=str(src), cache_dir=str(tmp_path / "cache"),
                                    parts=[str(src / "model.bin.part1"), str(tmp_path / "model.bin.part2")])
    target = model_dir(entry)
    assert open(os.path.join(target, "model.bin"), "rb").read() == b"first-second"
    assert sorted(os.listdir(target)) == ["config.json", "model.bin"]
    mtime = os.path.getmtime(os.path.join(target, "model.bin"))
    assert model_dir(entry) == target and os.path.getmtime(os.path.join(target, "model.bin")) == mtime


def _segment(n: int, start: float, end: float, text: str) -> TranscriptionSegment:
    return TranscriptionSegment(id=n, seek=0, start=start, end=end, text=text, tokens=[1], temperature=0.0,
                                avg_logprob=-0.1, compression_ratio=1.0, no_speech_prob=0.0)


def test_srt_and_vtt_timestamps():
    t = Transcript(task="transcribe", language="en", duration=3725.5,
                   segments=[_segment(0, 0.0, 1.5, " Hello."), _segment(1, 3723.25, 3725.5, " Bye.")])
    _, srt = render(t, "srt", granularities=[])
    assert srt.decode() == "1\n00:00:00,000 --> 00:00:01,500\nHello.\n\n2\n01:02:03,250 --> 01:02:05,500\nBye.\n"
    _, vtt = render(t, "vtt", granularities=[])
    assert vtt.decode().startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello.\n\n01:02:03.250 --> ")
    content_type, text = render(t, "text", granularities=[])
    assert content_type.startswith("text/plain") and text == b"Hello. Bye.\n"


def test_form_fields_become_the_typed_request():
    obj = AudioObject(name="n", filename="a.mp3", size=3)
    fields = [("model", "whisper-1"), ("timestamp_granularities[]", "word"), ("timestamp_granularities[]", "segment"),
              ("response_format", "verbose_json"), ("temperature", "0.3"), ("stream", "true"),
              ("chunking_strategy[type]", "server_vad"), ("language", "")]
    request = audio_form._typed(fields, obj, task="transcribe")
    assert request.timestamp_granularities == ["word", "segment"] and request.temperature == 0.3 and request.stream
    assert request.chunking_strategy == {"type": "server_vad"} and request.language is None
    assert request.fields == fields  # for upstreams, as sent
    translation = audio_form._typed(fields, obj, task="translate")
    assert not translation.stream and translation.timestamp_granularities == []
    with pytest.raises(errors.ApiError) as caught:
        audio_form._typed([("model", "m"), ("stream", "maybe")], obj, task="transcribe")
    assert caught.value.param == "stream"
    with pytest.raises(errors.ApiError) as caught:
        audio_form.check_format("notes.txt")
    assert caught.value.param == "file"
