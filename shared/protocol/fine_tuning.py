"""/v1/fine_tuning/jobs: OpenAI's FineTuningJob, FineTuningJobEvent, FineTuningJobCheckpoint and the
create request, as msgspec Structs."""

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from shared.protocol.metadata import Metadata

Auto = Literal["auto"]
# `paused`: not in the spec's enum, but what its own pause example answers (and OpenAI does).
Status = Literal["validating_files", "queued", "running", "paused", "succeeded", "failed", "cancelled"]


class Hyperparameters(Struct, kw_only=True):
    batch_size: Auto | Annotated[int, Meta(ge=1, le=256)] = "auto"
    learning_rate_multiplier: Auto | Annotated[float, Meta(gt=0, le=10)] = "auto"
    n_epochs: Auto | Annotated[int, Meta(ge=1, le=50)] = "auto"


class Supervised(Struct, kw_only=True):
    hyperparameters: Hyperparameters | None = None


class Method(Struct, kw_only=True, omit_defaults=True):
    type: Literal["supervised", "dpo", "reinforcement"]
    supervised: Supervised | None = None
    dpo: msgspec.Raw | None = None
    reinforcement: msgspec.Raw | None = None


class JobCreateRequest(Struct, kw_only=True):
    model: str
    training_file: str
    validation_file: str | None = None
    hyperparameters: Hyperparameters | None = None
    method: Method | None = None
    suffix: Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] | None = None
    seed: Annotated[int, Meta(ge=0, le=2147483647)] | None = None
    metadata: Metadata | None = None
    integrations: list[msgspec.Raw] | None = None


class JobError(Struct, kw_only=True):
    code: str
    message: str
    param: str | None = None


class ResolvedHyperparameters(Struct, kw_only=True):
    batch_size: Auto | int = "auto"
    learning_rate_multiplier: Auto | float = "auto"
    n_epochs: Auto | int = "auto"


class ResolvedSupervised(Struct, kw_only=True):
    hyperparameters: ResolvedHyperparameters


class ResolvedMethod(Struct, kw_only=True):
    type: Literal["supervised"] = "supervised"
    supervised: ResolvedSupervised


class FineTuningJob(Struct, kw_only=True, tag="fine_tuning.job", tag_field="object"):
    id: str
    created_at: int
    error: JobError | None = None
    fine_tuned_model: str | None = None
    finished_at: int | None = None
    hyperparameters: ResolvedHyperparameters
    model: str
    organization_id: str
    result_files: list[str] = []
    status: Status
    trained_tokens: int | None = None
    training_file: str
    validation_file: str | None = None
    integrations: list[msgspec.Raw] | None = None
    seed: int
    estimated_finish: int | None = None
    method: ResolvedMethod
    metadata: dict[str, str] | None = None


class FineTuningJobList(Struct, kw_only=True, tag="list", tag_field="object"):
    data: list[FineTuningJob]
    has_more: bool


class FineTuningJobEvent(Struct, kw_only=True, omit_defaults=True, tag="fine_tuning.job.event", tag_field="object"):
    id: str
    created_at: int
    level: Literal["info", "warn", "error"]
    message: str
    type: Literal["message", "metrics"] = "message"
    data: dict | None = None


class FineTuningJobEventList(Struct, kw_only=True, tag="list", tag_field="object"):
    data: list[FineTuningJobEvent]
    has_more: bool


class CheckpointMetrics(Struct, kw_only=True, omit_defaults=True):
    step: float
    train_loss: float | None = None
    train_mean_token_accuracy: float | None = None
    valid_loss: float | None = None
    valid_mean_token_accuracy: float | None = None
    full_valid_loss: float | None = None
    full_valid_mean_token_accuracy: float | None = None


class FineTuningJobCheckpoint(Struct, kw_only=True, tag="fine_tuning.job.checkpoint", tag_field="object"):
    id: str
    created_at: int
    fine_tuned_model_checkpoint: str
    step_number: int
    metrics: CheckpointMetrics
    fine_tuning_job_id: str


class FineTuningJobCheckpointList(Struct, kw_only=True, tag="list", tag_field="object"):
    data: list[FineTuningJobCheckpoint]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool


class ListQuery(Struct, kw_only=True):
    """The query of every list call here: `after` (an id), `limit`; `job` names the job for the
    events and checkpoints lists."""

    job: str = ""
    after: str | None = None
    limit: Annotated[int, Meta(ge=1, le=100)] = 20
    metadata: dict[str, str] | None = None


class UpstreamTarget(Struct, kw_only=True):
    """Where a model tuned on an upstream provider is served: that upstream, under its name there."""

    base_url: str
    api_key_env: str | None = None  # the variable holding the upstream key (never the key)
    upstream_model: str  # the tuned model's name on the upstream
    timeout: float = 600.0


class FineTunedModel(Struct, kw_only=True):
    """A tuned model in the `FINE_TUNED_BUCKET` KV bucket (key: the job id): what a chat service
    needs to serve it. The adapter GGUF lies in the `ADAPTERS_BUCKET` object store under `adapter`;
    a model tuned upstream has no adapter but an `upstream` to route to."""

    id: str  # ft:<base>:<org>:<suffix>:<job id>
    base: str  # the base model's id in the model config
    adapter: str = ""  # object name
    created: int
    owned_by: str
    project: str = ""  # only keys of this project see and call it
    shared_with: list[str] = []  # and of these projects (checkpoint permissions)
    upstream: UpstreamTarget | None = None


class CheckpointPermission(Struct, kw_only=True, tag="checkpoint.permission", tag_field="object"):
    id: str  # cp_…
    created_at: int
    project_id: str


class CheckpointPermissionList(Struct, kw_only=True, tag="list", tag_field="object"):
    data: list[CheckpointPermission]
    has_more: bool
    first_id: str | None = None
    last_id: str | None = None


class CheckpointPermissionDeleted(Struct, kw_only=True, tag="checkpoint.permission", tag_field="object"):
    id: str
    deleted: bool


class PermissionCreateRequest(Struct, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/fine_tuning/checkpoints/{checkpoint}/permissions (the edge adds `checkpoint`)."""

    project_ids: Annotated[list[Annotated[str, Meta(min_length=1, max_length=128)]], Meta(min_length=1, max_length=100)]
    checkpoint: str = ""


class PermissionQuery(Struct, kw_only=True):
    """The permissions list's query, and (with `permission_id`) a delete's."""

    checkpoint: str
    permission_id: str = ""
    project_id: str | None = None
    after: str | None = None
    limit: Annotated[int, Meta(ge=1, le=100)] = 10
    order: Literal["ascending", "descending"] = "descending"
