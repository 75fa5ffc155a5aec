"""The audio service: `/v1/audio/speech` over NATS (transcriptions and translations: not yet)."""
