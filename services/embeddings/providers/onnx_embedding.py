"""A sentence-embedding model as ONNX, run by onnxruntime, tokenised by its own tokenizer.json.

Mean pooling over the attention mask and L2 normalisation, as all-MiniLM-L6-v2 was trained and as
sentence-transformers runs it. Concurrent requests share batches (`Batcher`): a request waits up to
`batch_window_ms` for others, and at most `batch_size` texts run together, taken from the waiting
requests in turn (a big request does not hold up a small one for more than one batch).
"""

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from opentelemetry.trace import Tracer

from services.embeddings import embeddings
from services.embeddings.providers.base import Call
from services.embeddings.providers.batcher import Batcher
from shared import errors
from shared.modelconfig import LocalEmbeddingModel

log = logging.getLogger("embeddings")

# WordPiece specials of BERT-style vocabularies.
CLS, SEP = 101, 102


class OnnxEmbedding:
    def __init__(self, entry: LocalEmbeddingModel, *, tracer: Tracer | None = None) -> None:
        self.entry = entry
        self._session = None
        self._tokenizer = None
        self._vocab_size = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"onnx-{entry.id}")
        self._batcher: Batcher | None = None

    async def start(self) -> None:
        for path in (self.entry.path, self.entry.tokenizer):
            if not os.path.isfile(path):
                raise SystemExit(f"model {self.entry.id}: no file at {path}")
        await asyncio.get_running_loop().run_in_executor(self._pool, self._load)
        self._batcher = Batcher(self._embed_batch, pool=self._pool, size=self.entry.batch_size,
                                window=self.entry.batch_window_ms / 1000)

    def _load(self) -> None:
        import onnxruntime
        import tokenizers

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.entry.threads
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = False  # the arena kept ~600 MB after one batch of long texts
        self._session = onnxruntime.InferenceSession(self.entry.path, options, providers=["CPUExecutionProvider"])
        self._tokenizer = tokenizers.Tokenizer.from_file(self.entry.tokenizer)
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._vocab_size = self._tokenizer.get_vocab_size()

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def create(self, call: Call) -> bytes:
        return await embeddings.create(call.request, self, call.model, request_id=call.request_id)

    def token_ids(self, inputs: list[str | list[int]], *, param: str = "input") -> list[list[int]]:
        """Each input as the model's token ids, specials included; over-long inputs refused or cut."""
        limit = self.entry.max_input_tokens
        texts = [i for i in inputs if isinstance(i, str)]
        encoded = iter(self._tokenizer.encode_batch(texts, add_special_tokens=True)) if texts else iter(())
        out = []
        for n, item in enumerate(inputs):
            if isinstance(item, str):
                ids = next(encoded).ids
            else:
                if any(not 0 <= t < self._vocab_size for t in item):
                    raise errors.invalid_request(f"Token ids for model `{self.entry.id}` must be in [0, "
                                                 f"{self._vocab_size}).", param=f"{param}[{n}]")
                ids = [CLS, *item, SEP]
            if len(ids) > limit:
                if not self.entry.truncate:
                    raise errors.invalid_request(
                        f"This model's maximum context length is {limit} tokens, however you requested "
                        f"{len(ids)} tokens in {param}[{n}]. Please reduce your input.",
                        param=param, code="context_length_exceeded")
                ids = [*ids[: limit - 1], SEP]
            out.append(ids)
        return out

    async def embed(self, token_ids: list[list[int]], *, request_id: str = "") -> np.ndarray:
        """L2-normalised float32 vectors, one row per input. The inputs queue as this call's own
        (`Batcher` interleaves the calls' inputs); if the call is cancelled, those not yet in the
        model are dropped. `request_id` names the call in the log."""
        owner = object()
        futures = [self._batcher.submit(ids, owner) for ids in token_ids]
        if len(token_ids) > self.entry.batch_size:  # a long request: the log says when its work began
            log.info("request_id=%s queued %d inputs (%d batches' worth)", request_id, len(token_ids),
                     -(-len(token_ids) // self.entry.batch_size))
        try:
            return np.vstack(await asyncio.gather(*futures))
        except asyncio.CancelledError:
            dropped = self._batcher.drop(owner)
            log.info("request_id=%s cancelled: %d of %d inputs dropped before the model ran them",
                     request_id, dropped, len(token_ids))
            raise
        except Exception:  # the model failed on one batch: the rest of this call need not run
            self._batcher.drop(owner)
            raise

    def _embed_batch(self, batch: list[list[int]]) -> list[np.ndarray]:
        width = max(len(ids) for ids in batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros_like(input_ids)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        hidden = self._session.run(None, {"input_ids": input_ids, "attention_mask": mask,
                                          "token_type_ids": np.zeros_like(input_ids)})[0]
        summed = (hidden * mask[..., None]).sum(axis=1)
        vectors = summed / mask.sum(axis=1, keepdims=True)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return list(vectors.astype(np.float32))
