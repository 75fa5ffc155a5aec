"""Transcription real-time factor: through Vivian (edge → object store → audio service) against
faster-whisper called directly on the same clip, with the same model and settings, in the same run.

    .venv/bin/python -m bench.transcription [--repeats 3] [--story-times 1]

The clip is a paragraph spoken by eSpeak (tests/data/story.txt, about 52 s), as mp3. RTF = seconds
of work / seconds of audio (lower is faster); each figure is the median of `--repeats` runs, the
direct and the Vivian runs taking turns so both see the same machine. Prints one table.
"""

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from dataclasses import dataclass

from bench.overhead import _make_key, _wait_http, free_port
from devstack import nats, processes
from services.audio import encode
from services.audio.providers.espeak import SAMPLE_RATE, Espeak
from services.audio.providers.local_whisper import decode, model_dir
from shared import modelconfig

STORY = os.path.join(os.path.dirname(__file__), os.pardir, "tests", "data", "story.txt")


@dataclass
class Row:
    model: str
    audio_seconds: float
    direct: list[float]  # seconds per run
    vivian: list[float]

    @property
    def direct_rtf(self) -> float:
        return statistics.median(self.direct) / self.audio_seconds

    @property
    def vivian_rtf(self) -> float:
        return statistics.median(self.vivian) / self.audio_seconds


def table(rows: list[Row]) -> str:
    lines = ["| model | clip | faster-whisper direct RTF | through Vivian RTF | Vivian / direct |",
             "|---|---|---|---|---|"]
    lines += [f"| {r.model} | {r.audio_seconds:.1f} s | {r.direct_rtf:.3f} | {r.vivian_rtf:.3f} | "
              f"{r.vivian_rtf / r.direct_rtf:.2f} |" for r in rows]
    return "\n".join(lines)


def clip(times: int) -> bytes:
    with open(STORY) as f:
        text = " ".join([f.read().strip()] * times)
    return encode.encode(Espeak().synthesize(text, voice="alloy"), SAMPLE_RATE, "mp3")


def direct_run(model, entry: modelconfig.LocalTranscriptionModel, audio: bytes) -> float:
    """What the service does with the file, minus the bus: decode, transcribe, every segment."""
    started = time.perf_counter()
    segments, _ = model.transcribe(decode(audio), beam_size=entry.beam_size,
                                   temperature=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    list(segments)
    return time.perf_counter() - started


def vivian_run(client, model: str, audio: bytes) -> float:
    started = time.perf_counter()
    client.audio.transcriptions.create(model=model, file=("clip.mp3", audio))
    return time.perf_counter() - started


def start_stack(home: str) -> tuple[dict, int, str]:
    procs = {}
    procs["nats"], nats_url = nats.start(os.path.join(home, "nats"))
    key = asyncio.run(_make_key(nats_url))
    port = free_port()
    env = {"VIVIAN_NATS_URL": nats_url, "VIVIAN_PORT": str(port)}
    procs["audio"] = processes.spawn_module("services.audio", env=env, log_path=os.path.join(home, "audio.log"))
    processes.wait_for_line(os.path.join(home, "audio.log"), "serving", proc=procs["audio"], timeout=180)
    procs["edge"] = processes.spawn_module("services.edge", env=env, log_path=os.path.join(home, "edge.log"))
    _wait_http(f"http://127.0.0.1:{port}/healthz", procs["edge"])
    return procs, port, key


def main(argv: list[str] | None = None) -> int:
    import openai
    from faster_whisper import WhisperModel

    parser = argparse.ArgumentParser(prog="python -m bench.transcription", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--story-times", type=int, default=1, help="the paragraph, this many times over")
    args = parser.parse_args(argv)
    audio = clip(args.story_times)
    seconds = len(decode(audio)) / 16000
    entries = [e for e in modelconfig.load().models if isinstance(e, modelconfig.LocalTranscriptionModel)]
    rows = []
    with tempfile.TemporaryDirectory() as home:
        procs, port, key = start_stack(home)
        try:
            client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0, timeout=600)
            for entry in entries:
                model = WhisperModel(model_dir(entry), device="cpu", compute_type=entry.compute_type,
                                     cpu_threads=entry.threads)
                direct_run(model, entry, audio), vivian_run(client, entry.id, audio)  # warm-up
                row = Row(entry.id, seconds, [], [])
                for _ in range(args.repeats):
                    row.direct.append(direct_run(model, entry, audio))
                    row.vivian.append(vivian_run(client, entry.id, audio))
                rows.append(row)
                del model
        finally:
            for proc in procs.values():
                processes.stop(proc)
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
