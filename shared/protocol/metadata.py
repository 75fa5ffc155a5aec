"""`metadata` (and vector store files' `attributes`) as OpenAI bounds them: at most 16 pairs, keys up
to 64 characters, string values up to 512. A key holds no NUL: MongoDB, where they are kept, cannot
store one in a field name."""

from typing import Annotated

from msgspec import Meta

Key = Annotated[str, Meta(max_length=64, pattern="^[^\x00]*$")]
Value = Annotated[str, Meta(max_length=512)]
Metadata = Annotated[dict[Key, Value], Meta(max_length=16)]
