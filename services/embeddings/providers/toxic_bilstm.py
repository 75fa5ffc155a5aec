"""Moderation with the Jigsaw toxic-comment BiLSTM of the `toxic-comment-classifier` package.

That package needs TensorFlow to run its model; the network is small (Embedding → BiLSTM →
GlobalMaxPool → Dense → Dense), so it runs here in numpy from the same weights file (h5py) and
tokenizer. It scores six Jigsaw labels, mapped onto OpenAI's categories by `CATEGORY_SOURCES`.
"""

import asyncio
import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from opentelemetry.trace import Tracer

from services.embeddings import moderations
from services.embeddings.providers.base import Call
from shared.modelconfig import LocalModerationModel
from shared.protocol.moderations import CATEGORIES

LABELS = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")
MAXLEN = 100
# Which Jigsaw labels inform each OpenAI category (the highest counts). The rest have no source in
# this model and always score 0: sexual content ("obscene" means profanity), self-harm, illicit,
# graphic violence.
CATEGORY_SOURCES = {
    "harassment": ("insult", "toxic"),
    "harassment/threatening": ("threat",),
    "hate": ("identity_hate",),
    "hate/threatening": (),  # needs hate *and* threat: scored as the lower of the two, below
    "violence": ("threat",),
}


class _Tokenizer:
    """What the pickled Keras Tokenizer holds; restored without Keras."""

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


class _Unpickler(pickle.Unpickler):
    """Only the Tokenizer and plain containers: a pickle cannot run anything else through us."""

    def find_class(self, module: str, name: str):
        if name == "Tokenizer" and module.startswith("keras"):
            return _Tokenizer
        if (module, name) in {("collections", "OrderedDict"), ("collections", "defaultdict"), ("builtins", "int")}:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing {module}.{name} in the tokenizer pickle")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class ToxicBiLSTM:
    def __init__(self, entry: LocalModerationModel, *, tracer: Tracer | None = None) -> None:
        self.entry = entry
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"moderation-{entry.id}")
        self._w: dict[str, np.ndarray] = {}
        self._word_index: dict[str, int] = {}

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._pool, self._load)

    def _load(self) -> None:
        import h5py

        with open(self.entry.tokenizer, "rb") as f:
            tokenizer = _Unpickler(f).load()
        self._num_words = tokenizer.num_words
        self._word_index = {w: i for w, i in tokenizer.word_index.items() if i < tokenizer.num_words}
        self._filters = str.maketrans({c: " " for c in tokenizer.filters})
        with h5py.File(self.entry.weights, "r") as f:
            layers = f["layers"]
            self._w = {
                "embedding": layers["embedding/vars/0"][()],
                **{f"{side}_{k}": layers[f"bidirectional/{side}_layer/cell/vars/{i}"][()]
                   for side in ("forward", "backward") for i, k in enumerate(("kernel", "recurrent", "bias"))},
                "dense_w": layers["dense/vars/0"][()], "dense_b": layers["dense/vars/1"][()],
                "out_w": layers["dense_1/vars/0"][()], "out_b": layers["dense_1/vars/1"][()],
            }

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def create(self, call: Call) -> bytes:
        return await moderations.create(call.request, self, call.model)

    async def scores(self, texts: list[str]) -> list[dict[str, float]]:
        """OpenAI category → score in [0, 1], per text."""
        labels = await asyncio.get_running_loop().run_in_executor(self._pool, self.label_scores, texts)
        return [_categories(row) for row in labels]

    def label_scores(self, texts: list[str]) -> np.ndarray:
        """The six Jigsaw label probabilities per text, as the Keras model computes them."""
        x = self._w["embedding"][self._sequences(texts)]  # [batch, MAXLEN, 50]
        forward = self._lstm(x, "forward")
        backward = self._lstm(x[:, ::-1], "backward")
        pooled = np.concatenate([forward.max(axis=1), backward.max(axis=1)], axis=1)
        hidden = np.maximum(pooled @ self._w["dense_w"] + self._w["dense_b"], 0)
        return _sigmoid(hidden @ self._w["out_w"] + self._w["out_b"])

    def _sequences(self, texts: list[str]) -> np.ndarray:
        """Keras' texts_to_sequences, then pad_sequences(maxlen=100): pad and cut at the front."""
        out = np.zeros((len(texts), MAXLEN), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self._word_index[w] for w in text.lower().translate(self._filters).split(" ")
                   if w in self._word_index][-MAXLEN:]
            if ids:
                out[row, MAXLEN - len(ids):] = ids
        return out

    def _lstm(self, x: np.ndarray, side: str) -> np.ndarray:
        kernel, recurrent, bias = (self._w[f"{side}_{k}"] for k in ("kernel", "recurrent", "bias"))
        batch, steps, _ = x.shape
        units = recurrent.shape[0]
        h = np.zeros((batch, units), dtype=np.float32)
        c = np.zeros_like(h)
        inputs = x @ kernel + bias  # all steps at once: [batch, steps, 4 units]
        outputs = np.empty((batch, steps, units), dtype=np.float32)
        for t in range(steps):
            z = inputs[:, t] + h @ recurrent
            i, f, g, o = np.split(z, 4, axis=1)  # Keras' gate order
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
            outputs[:, t] = h
        return outputs


def _categories(labels: np.ndarray) -> dict[str, float]:
    by_label = dict(zip(LABELS, (float(v) for v in labels), strict=True))
    scores = {category: 0.0 for category in CATEGORIES}
    for category, sources in CATEGORY_SOURCES.items():
        scores[category] = max((by_label[s] for s in sources), default=0.0)
    scores["hate/threatening"] = min(by_label["identity_hate"], by_label["threat"])
    return scores
