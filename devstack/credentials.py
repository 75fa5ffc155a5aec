"""The bus's users: one password per role (devstack/roles.py), and the nats-server config
that knows them by bcrypt hash, with each role's subject permissions.

    python -m devstack.credentials DIR [--readable]

writes (or, where they exist, reuses) in DIR (mode 700):

    nats-auth.conf      the server's `authorization` block: `nats-server -c DIR/nats-auth.conf …`
    nats-<role>.json    each role's credentials, mode 600: VIVIAN_NATS_CREDENTIALS=DIR/nats-<role>.json

`make up` does this in `$VIVIAN_HOME/credentials` on every start: passwords made once and kept, the
config rewritten from them (so it follows the permissions of the code that runs). `--readable`
(for docker compose) makes the role files mode 644 inside the mode-700 directory, so a container's
own user can read the one file mounted into it while nobody else on the host can reach them.

Why passwords and not NKEYs: nats-py signs NKEY challenges only through the `nkeys` package
(and PyNaCl); a 256-bit random password, bcrypt-hashed in the server config, needs one small
wheel and keeps no usable secret in the config the server reads.
"""

import argparse
import json
import os
import secrets
import sys
from dataclasses import dataclass

import bcrypt

from devstack import roles
from shared.buscredentials import read

CONFIG = "nats-auth.conf"
# The passwords are 256 random bits: no guessing them, so bcrypt's cost only slows every connect
# (the server checks the hash each time): 6 rounds take about 4 ms.
BCRYPT_ROUNDS = 6


@dataclass(frozen=True)
class BusAuth:
    directory: str

    @property
    def config(self) -> str:
        return os.path.join(self.directory, CONFIG)

    def path(self, role: str) -> str:
        if role not in roles.ROLES:
            raise KeyError(f"no NATS role {role!r}")
        return os.path.join(self.directory, f"nats-{role}.json")

    def env(self, role: str) -> dict[str, str]:
        """The setting a process of `role` needs."""
        return {"VIVIAN_NATS_CREDENTIALS": self.path(role)}


def _write(path: str, text: str, mode: int) -> None:
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path + ".tmp", mode)
    os.replace(path + ".tmp", path)


def _password(auth: BusAuth, role: str, mode: int) -> str:
    path = auth.path(role)
    if os.path.exists(path):
        os.chmod(path, mode)
        return read(path).password
    password = secrets.token_urlsafe(32)
    _write(path, json.dumps({"user": role, "password": password}) + "\n", mode)
    return password


def server_config(passwords: dict[str, str]) -> str:
    """nats-server's `authorization` block (JSON is valid NATS config) for these passwords."""
    permissions = roles.permissions()
    users = [{"user": role, "password": bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS, b"2a")).decode(),
              "permissions": permissions[role]} for role, password in passwords.items()]
    return json.dumps({"authorization": {"users": users}}, indent=1) + "\n"


def ensure(directory: str, *, readable: bool = False) -> BusAuth:
    """Every role's credentials in `directory` (made once, then reused) and the server config."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    auth = BusAuth(os.path.abspath(directory))
    mode = 0o644 if readable else 0o600
    passwords = {role: _password(auth, role, mode) for role in roles.ROLES}
    _write(auth.config, server_config(passwords), 0o600)
    return auth


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.credentials",
                                     description="Write (or reuse) the NATS users of every Vivian role.")
    parser.add_argument("directory", help="where the server config and the role files go (made mode 700)")
    parser.add_argument("--readable", action="store_true",
                        help="role files mode 644 (inside the 700 directory), for containers' own users")
    args = parser.parse_args(argv)
    auth = ensure(args.directory, readable=args.readable)
    print(f"nats-server config: {auth.config}")
    for role in roles.ROLES:
        print(f"{role}: VIVIAN_NATS_CREDENTIALS={auth.path(role)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
