"""The stack these client suites talk to: its URL and key, from tests/test_clients.py."""

import os

BASE_URL = os.environ["VIVIAN_BASE_URL"]
API_KEY = os.environ["VIVIAN_API_KEY"]
CHAT_MODEL = os.environ.get("VIVIAN_CHAT_MODEL", "gpt-4")
EMBEDDING_MODEL = os.environ.get("VIVIAN_EMBEDDING_MODEL", "text-embedding-3-small")
TIMEOUT = 300
