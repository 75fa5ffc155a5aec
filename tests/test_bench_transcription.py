"""The transcription bench's parts (the bench itself is `python -m bench.transcription`, not a
test): its clip decodes to the paragraph's length, and its table renders the ratio."""

from bench import transcription
from services.audio.providers.local_whisper import decode


def test_clip_and_table():
    seconds = len(decode(transcription.clip(1))) / 16000
    assert 40 < seconds < 70
    row = transcription.Row("whisper-tiny.en", 50.0, direct=[2.0, 1.0, 3.0], vivian=[2.5, 2.2, 9.0])
    assert (row.direct_rtf, row.vivian_rtf) == (0.04, 0.05)
    table = transcription.table([row])
    assert "| whisper-tiny.en | 50.0 s | 0.040 | 0.050 | 1.25 |" in table and table.count("\n") == 2
