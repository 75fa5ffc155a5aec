"""The chat service: `/v1/chat/completions`, `/v1/completions` and `/v1/models` over NATS."""
