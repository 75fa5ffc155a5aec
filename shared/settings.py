"""Settings come from the environment: each field `foo_bar` of a settings struct is `VIVIAN_FOO_BAR`."""

import os
from typing import TypeVar

import msgspec

S = TypeVar("S", bound=msgspec.Struct)

PREFIX = "VIVIAN_"


def from_env(cls: type[S], environ: dict[str, str] | None = None) -> S:
    environ = os.environ if environ is None else environ
    values = {}
    for field in msgspec.structs.fields(cls):
        name = PREFIX + field.name.upper()
        if name in environ:
            values[field.name] = environ[name]
    try:
        return msgspec.convert(values, cls, strict=False)
    except msgspec.ValidationError as err:
        raise SystemExit(f"bad setting: {err} (environment variables {PREFIX}*)") from None
