"""A process's NATS credentials: the file `VIVIAN_NATS_CREDENTIALS` names (mode 600), written by
`python -m devstack.credentials` (and by `make up`), one per role:

    {"user": "chat", "password": "…"}

The user is the role (edge, keys, chat, embeddings, audio, images, files, jobs); the server knows
only a bcrypt hash of the password and what subjects that role may use (devstack/roles.py).
Each role's replies come to inboxes under `_INBOX.<role>.`, the only ones it may subscribe to.
"""

import msgspec


class BusCredentials(msgspec.Struct):
    user: str
    password: str


def inbox_prefix(user: str) -> str:
    return f"_INBOX.{user}"


def read(path: str) -> BusCredentials:
    try:
        with open(path, "rb") as f:
            return msgspec.json.decode(f.read(), type=BusCredentials)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as err:
        # The message names the file, never its content.
        raise SystemExit(f"cannot read the NATS credentials in {path}: {type(err).__name__}") from None


def connect_options(path: str) -> dict[str, str]:
    """`nats.connect` keyword arguments for the credentials at `path` (none when `path` is empty)."""
    if not path:
        return {}
    creds = read(path)
    return {"user": creds.user, "password": creds.password, "inbox_prefix": inbox_prefix(creds.user)}
