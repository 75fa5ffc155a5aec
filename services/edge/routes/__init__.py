"""HTTP routes, one module per API path (`/v1/chat/completions` → `chat.py`)."""
