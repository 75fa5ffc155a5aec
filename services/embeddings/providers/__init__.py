"""Embedding and moderation providers, one module each, all behind `base.EmbeddingsProvider`."""
