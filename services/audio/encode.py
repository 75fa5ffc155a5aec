"""PCM to the audio formats of OpenAI's `/v1/audio/speech`, with PyAV (FFmpeg's encoders).

Every format comes out mono at 24 kHz, as OpenAI's do; `pcm` is raw signed 16-bit little-endian.
"""

import io

import numpy as np

RATE = 24000
# format → (container, codec, bit rate); `pcm` has no container.
FORMATS = {
    "mp3": ("mp3", "libmp3lame", 64000),
    "opus": ("ogg", "libopus", 32000),  # libopus takes 24 kHz but not eSpeak's 22,050
    "aac": ("adts", "aac", 64000),
    "flac": ("flac", "flac", None),
    "wav": ("wav", "pcm_s16le", None),
}
CONTENT_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac", "flac": "audio/flac",
                 "wav": "audio/wav", "pcm": "audio/pcm"}


def _resampled(samples: np.ndarray, rate: int, *, to_format: str):
    import av

    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format=to_format, layout="mono", rate=RATE)
    yield from resampler.resample(frame)
    yield from resampler.resample(None)


def encode(samples: np.ndarray, rate: int, fmt: str) -> bytes:
    """int16 mono samples at `rate` → the bytes of a `fmt` file."""
    if fmt == "pcm":
        return b"".join(bytes(f.planes[0])[: f.samples * 2] for f in _resampled(samples, rate, to_format="s16"))
    import av

    container_format, codec, bit_rate = FORMATS[fmt]
    out = io.BytesIO()
    with av.open(out, mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=RATE)
        stream.layout = "mono"
        if bit_rate:
            stream.bit_rate = bit_rate
        for frame in _resampled(samples, rate, to_format=stream.format.name):
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()
