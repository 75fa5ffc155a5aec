"""NATS subject names, one per API path (`/v1/chat/completions` → `vivian.chat.completions`)."""

CHAT_COMPLETIONS = "vivian.chat.completions"
# A Responses request the responses service relays to an upstream that has the Responses API.
CHAT_RESPONSES = "vivian.chat.responses"
COMPLETIONS = "vivian.completions"
MODELS_LIST = "vivian.models.list"
MODELS_RETRIEVE = "vivian.models.retrieve"
# DELETE /v1/models/{model}: a fine-tuned model, served by the jobs service (which publishes them).
MODELS_DELETE = "vivian.models.delete"
EMBEDDINGS = "vivian.embeddings"
AUDIO_SPEECH = "vivian.audio.speech"
AUDIO_TRANSCRIPTIONS = "vivian.audio.transcriptions"
AUDIO_TRANSLATIONS = "vivian.audio.translations"
MODERATIONS = "vivian.moderations"
IMAGES_GENERATIONS = "vivian.images.generations"
IMAGES_EDITS = "vivian.images.edits"
IMAGES_VARIATIONS = "vivian.images.variations"
# The edge's, not paths: room for an edit's input images, a stage given up, and the bytes behind a
# link to a stored image (`GET /v1/images/content/{id}`).
IMAGES_STAGE = "vivian.images.stage"
IMAGES_STAGE_ABORT = "vivian.images.stage.abort"
IMAGES_CONTENT = "vivian.images.content"

# /v1/files and /v1/uploads. The `stage` calls are the edge's, not paths: room for a file's bytes,
# which travel beside the bus on presigned object-store URLs (see services/files/staging.py).
FILES_CREATE = "vivian.files.create"
FILES_LIST = "vivian.files.list"
FILES_RETRIEVE = "vivian.files.retrieve"
FILES_DELETE = "vivian.files.delete"
FILES_CONTENT = "vivian.files.content"
FILES_STAGE = "vivian.files.stage"
FILES_STAGE_PARTS = "vivian.files.stage.parts"
FILES_STAGE_ABORT = "vivian.files.stage.abort"
UPLOADS_CREATE = "vivian.uploads.create"
UPLOADS_PARTS = "vivian.uploads.parts"
UPLOADS_COMPLETE = "vivian.uploads.complete"
UPLOADS_CANCEL = "vivian.uploads.cancel"
FILES_SERVICE = "vivian-files"  # its NATS micro service name

# /v1/batches, served by the jobs service (services/jobs/).
BATCHES_CREATE = "vivian.batches.create"
BATCHES_LIST = "vivian.batches.list"
BATCHES_RETRIEVE = "vivian.batches.retrieve"
BATCHES_CANCEL = "vivian.batches.cancel"
JOBS_SERVICE = "vivian-jobs"  # its NATS micro service name
# The jobs service's durable work: a JetStream work-queue stream of tasks, one subject per kind
# (`vivian.jobs.tasks.batches.<step>`, `vivian.jobs.tasks.fine_tuning.<step>`).
JOBS_STREAM = "VIVIAN_JOBS"
JOBS_TASKS = "vivian.jobs.tasks"

# Broadcast (no queue group): every replica hears it, the one running the request stops it.
CANCEL = "vivian.cancel"

QUEUE_GROUP = "q"

# Each domain's NATS micro service name (`nats micro ls`, `$SRV.PING.<name>`). The edge is ready
# when every one of them answers a ping.
SERVICES = {"chat": "vivian-chat", "embeddings": "vivian-embeddings", "files": FILES_SERVICE, "audio": "vivian-audio",
            "images": "vivian-images", "jobs": JOBS_SERVICE, "responses": "vivian-responses",
            "vector_stores": "vivian-vector-stores"}

# JetStream key-value buckets.
KEYS_BUCKET = "vivian_keys"
PROJECTS_BUCKET = "vivian_projects"
# JetStream object store: the audio file of a transcription on its way from the edge to the audio
# service, which deletes it when done (a TTL removes what a crash leaves).
AUDIO_BUCKET = "vivian_audio"
# JetStream object store: request bodies too large for one NATS message (shared/bodystore.py).
BODIES_BUCKET = "vivian_bodies"

# /v1/fine_tuning/jobs (served by the jobs service).
FINE_TUNING_JOBS_CREATE = "vivian.fine_tuning.jobs.create"
FINE_TUNING_JOBS_LIST = "vivian.fine_tuning.jobs.list"
FINE_TUNING_JOBS_RETRIEVE = "vivian.fine_tuning.jobs.retrieve"
FINE_TUNING_JOBS_CANCEL = "vivian.fine_tuning.jobs.cancel"
FINE_TUNING_JOBS_PAUSE = "vivian.fine_tuning.jobs.pause"
FINE_TUNING_JOBS_RESUME = "vivian.fine_tuning.jobs.resume"
FINE_TUNING_JOBS_EVENTS = "vivian.fine_tuning.jobs.events"
FINE_TUNING_JOBS_CHECKPOINTS = "vivian.fine_tuning.jobs.checkpoints"
# /v1/fine_tuning/checkpoints/{checkpoint}/permissions (served by the jobs service).
FINE_TUNING_CHECKPOINTS_PERMISSIONS_CREATE = "vivian.fine_tuning.checkpoints.permissions.create"
FINE_TUNING_CHECKPOINTS_PERMISSIONS_LIST = "vivian.fine_tuning.checkpoints.permissions.list"
FINE_TUNING_CHECKPOINTS_PERMISSIONS_DELETE = "vivian.fine_tuning.checkpoints.permissions.delete"
# Tuned models: their entries (KV, watched by every chat replica) and their adapters (object store).
FINE_TUNED_BUCKET = "vivian_fine_tuned"
ADAPTERS_BUCKET = "vivian_adapters"

# Stored chat completions (`store: true`), served by the chat service: GET /v1/chat/completions,
# GET/POST/DELETE /v1/chat/completions/{completion_id}, GET /v1/chat/completions/{completion_id}/messages.
CHAT_COMPLETIONS_LIST = "vivian.chat.completions.list"
CHAT_COMPLETIONS_RETRIEVE = "vivian.chat.completions.retrieve"
CHAT_COMPLETIONS_UPDATE = "vivian.chat.completions.update"
CHAT_COMPLETIONS_DELETE = "vivian.chat.completions.delete"
CHAT_COMPLETIONS_MESSAGES = "vivian.chat.completions.messages"

# /v1/responses and /v1/conversations, served by the responses service (services/responses/).
RESPONSES = "vivian.responses"
RESPONSES_RETRIEVE = "vivian.responses.retrieve"
RESPONSES_DELETE = "vivian.responses.delete"
RESPONSES_INPUT_ITEMS = "vivian.responses.input_items"
RESPONSES_CANCEL = "vivian.responses.cancel"
RESPONSES_INPUT_TOKENS = "vivian.responses.input_tokens"
RESPONSES_COMPACT = "vivian.responses.compact"
CONVERSATIONS_CREATE = "vivian.conversations.create"
CONVERSATIONS_RETRIEVE = "vivian.conversations.retrieve"
CONVERSATIONS_UPDATE = "vivian.conversations.update"
CONVERSATIONS_DELETE = "vivian.conversations.delete"
CONVERSATIONS_ITEMS_LIST = "vivian.conversations.items.list"
CONVERSATIONS_ITEMS_CREATE = "vivian.conversations.items.create"
CONVERSATIONS_ITEMS_RETRIEVE = "vivian.conversations.items.retrieve"
CONVERSATIONS_ITEMS_DELETE = "vivian.conversations.items.delete"
# Background responses: a JetStream work-queue stream of turns, shared by every responses replica.
RESPONSES_STREAM = "VIVIAN_RESPONSES"
RESPONSES_TASKS = "vivian.tasks.responses"

# /v1/vector_stores (+ /files, /file_batches, /search), served by the vector stores service
# (services/vector_stores/).
VECTOR_STORES_CREATE = "vivian.vector_stores.create"
VECTOR_STORES_LIST = "vivian.vector_stores.list"
VECTOR_STORES_RETRIEVE = "vivian.vector_stores.retrieve"
VECTOR_STORES_UPDATE = "vivian.vector_stores.update"
VECTOR_STORES_DELETE = "vivian.vector_stores.delete"
VECTOR_STORES_SEARCH = "vivian.vector_stores.search"
VECTOR_STORES_FILES_CREATE = "vivian.vector_stores.files.create"
VECTOR_STORES_FILES_LIST = "vivian.vector_stores.files.list"
VECTOR_STORES_FILES_RETRIEVE = "vivian.vector_stores.files.retrieve"
VECTOR_STORES_FILES_UPDATE = "vivian.vector_stores.files.update"
VECTOR_STORES_FILES_DELETE = "vivian.vector_stores.files.delete"
VECTOR_STORES_FILES_CONTENT = "vivian.vector_stores.files.content"
VECTOR_STORES_FILE_BATCHES_CREATE = "vivian.vector_stores.file_batches.create"
VECTOR_STORES_FILE_BATCHES_RETRIEVE = "vivian.vector_stores.file_batches.retrieve"
VECTOR_STORES_FILE_BATCHES_CANCEL = "vivian.vector_stores.file_batches.cancel"
VECTOR_STORES_FILE_BATCHES_FILES = "vivian.vector_stores.file_batches.files"
# Ingestion: a JetStream work-queue stream of files to parse, chunk, embed and index.
VECTOR_STORES_STREAM = "VIVIAN_VECTOR_STORES"
VECTOR_STORES_TASKS = "vivian.tasks.vector_stores"
