"""Audio providers (speech, transcriptions, translations), one module each, all behind `base.AudioProvider`."""
