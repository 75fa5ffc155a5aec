"""What every handler of the files service works with."""

from dataclasses import dataclass

from services.files.settings import FilesSettings
from services.files.tables import Records
from services.kit.objects import ObjectStore


@dataclass(frozen=True, slots=True)
class Context:
    objects: ObjectStore
    records: Records
    settings: FilesSettings
    # Bytes a list page may take: an answer rides one NATS message (max_payload, about 1 MiB).
    page_budget: int = 900 * 1024
