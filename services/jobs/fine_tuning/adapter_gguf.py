"""A peft LoRA adapter written as llama.cpp's GGUF LoRA adapter, with the PyPI `gguf` writer only.

llama.cpp wants `blk.N.<tensor>.weight.lora_a` (peft's `lora_A`, shape r × in) and `.lora_b`
(peft's `lora_B`, out × r), plus `general.type = adapter`, `adapter.type = lora` and
`adapter.lora.alpha`. The GGUF file stores the q and k projections with their rows permuted
(llama.cpp's rotary layout; transformers undoes it when it reads the GGUF), so B's rows of those two
get the same permutation here.
"""

import re

import numpy as np

# Hugging Face Llama module names → llama.cpp tensor names.
_NAMES = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
          "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
          "mlp.down_proj": "ffn_down"}
_KEY = re.compile(r"(?:.*\.)?layers\.(\d+)\.(self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)\.lora_([AB])\.weight$")


def permute_rows(w: np.ndarray, heads: int) -> np.ndarray:
    """convert_hf_to_gguf's `permute` for the q/k output rows."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def gguf_tensors(state: dict[str, np.ndarray], *, n_head: int, n_head_kv: int) -> dict[str, np.ndarray]:
    """peft's adapter state dict (numpy) → the adapter GGUF's tensors, named and laid out for llama.cpp."""
    out = {}
    for key, value in state.items():
        match = _KEY.match(key)
        if match is None:
            raise ValueError(f"unexpected adapter tensor {key!r}")
        layer, module, ab = match.groups()
        name = _NAMES[module]
        value = np.asarray(value, dtype=np.float32)
        if ab == "B" and name in ("attn_q", "attn_k"):
            value = permute_rows(value, n_head if name == "attn_q" else n_head_kv)
        out[f"blk.{layer}.{name}.weight.lora_{ab.lower()}"] = value
    return out


def write(path: str, state: dict[str, np.ndarray], *, alpha: float, n_head: int, n_head_kv: int,
          name: str = "") -> None:
    import gguf

    writer = gguf.GGUFWriter(path, arch="llama")
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(alpha))
    if name:
        writer.add_name(name)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    for tensor_name, value in sorted(gguf_tensors(state, n_head=n_head, n_head_kv=n_head_kv).items()):
        writer.add_tensor(tensor_name, value.astype(np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
