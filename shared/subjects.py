"""NATS subject names, one per API path (`/v1/chat/completions` → `vivian.chat.completions`)."""

CHAT_COMPLETIONS = "vivian.chat.completions"
COMPLETIONS = "vivian.completions"
MODELS_LIST = "vivian.models.list"
MODELS_RETRIEVE = "vivian.models.retrieve"

# Broadcast (no queue group): every replica hears it, the one running the request stops it.
CANCEL = "vivian.cancel"

QUEUE_GROUP = "q"

# JetStream key-value buckets.
KEYS_BUCKET = "vivian_keys"
PROJECTS_BUCKET = "vivian_projects"
