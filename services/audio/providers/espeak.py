"""Text to speech with the eSpeak NG engine, as the PyPI package `espeakng-loader` ships it (the
library and its voice data; no root, no apt), through ctypes.

The library keeps global state (one voice, one callback), so syntheses take turns under a lock, in
a worker thread. It renders 22,050 Hz mono 16-bit PCM, hundreds of times faster than real time.
"""

import ctypes
import threading

import numpy as np

SAMPLE_RATE = 22050
_SYNCHRONOUS = 2  # AUDIO_OUTPUT_SYNCHRONOUS: espeak_Synth returns when the text is spoken
_UTF8_END_PAUSE = 1 | 0x1000  # espeakCHARS_UTF8 | espeakENDPAUSE
_RATE = 1  # espeakRATE, words per minute
_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

# OpenAI's voices, each a distinct eSpeak voice (chosen for being told apart and transcribed well).
VOICES = {
    "alloy": "en-us", "echo": "en-us+m3", "fable": "en-gb-x-rp", "onyx": "en-us+m1", "nova": "en-us+f3",
    "shimmer": "en-us+f2", "coral": "en-us+f4", "sage": "en-us+f5", "ash": "en-us+klatt", "ballad": "en-us+m7",
    "verse": "en-gb-x-rp+m3", "marin": "en-us+f1", "cedar": "en-us+m2",
}
BASE_WPM = 175  # eSpeak's default rate, OpenAI's speed 1.0


class Espeak:
    def __init__(self) -> None:
        import espeakng_loader

        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self._lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                           ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p]
        rate = self._lib.espeak_Initialize(_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
        if rate != SAMPLE_RATE:
            raise RuntimeError(f"eSpeak NG did not start (returned {rate})")
        self._lock = threading.Lock()
        self._chunks: list[np.ndarray] = []
        self._callback = _Callback(self._collect)  # held: the library keeps only the pointer
        self._lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, count, events) -> int:
        if count > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0

    def synthesize(self, text: str, *, voice: str, speed: float = 1.0) -> np.ndarray:
        """int16 samples at SAMPLE_RATE. `voice`: one of OpenAI's names, or an eSpeak voice ("de")."""
        name = VOICES.get(voice, voice)
        with self._lock:
            if self._lib.espeak_SetVoiceByName(name.encode()) != 0:
                raise RuntimeError(f"eSpeak NG has no voice {name!r}")
            self._lib.espeak_SetParameter(_RATE, max(80, min(450, round(BASE_WPM * speed))), 0)
            self._chunks = []
            data = text.encode() + b"\0"
            self._lib.espeak_Synth(data, len(data), 0, 0, 0, _UTF8_END_PAUSE, None, None)
            chunks, self._chunks = self._chunks, []
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
