"""The embeddings service: `/v1/embeddings` and `/v1/moderations` over NATS."""
