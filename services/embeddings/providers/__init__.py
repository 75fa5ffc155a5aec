"""Embedding and moderation providers, one module each."""
