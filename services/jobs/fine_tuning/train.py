"""LoRA supervised fine-tuning of a local GGUF chat model, on CPU, in a process of its own.

`python -m services.jobs.fine_tuning.train SPEC.json` reads a `Spec`, prints one JSON `Event` per
line on stdout, and leaves in `out_dir`: a checkpoint per epoch (`ckpt-step-N/`: the peft adapter,
the optimizer state) and, at the end, `adapter.gguf`, the LoRA adapter llama.cpp serves over the
base GGUF. Started again with the same spec it resumes after its last checkpoint.

The stack (see README, "Fine-tuning"): transformers reads the GGUF (dequantized to fp32), peft adds
LoRA to every projection, a plain torch loop trains it with the loss on the assistant tokens only.
"""

import json
import math
import os
import sys
import time
from pathlib import Path

import msgspec

from services.jobs.fine_tuning import adapter_gguf, dataset

MAX_TOKENS = 1024  # an example longer than this is cut (its tail is not trained on)
TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class Spec(msgspec.Struct, kw_only=True):
    base_gguf: str
    training_file: str  # JSONL on local disk
    validation_file: str | None = None
    out_dir: str
    n_epochs: int
    batch_size: int
    learning_rate: float
    seed: int
    threads: int = 2
    lora_rank: int = 16
    lora_alpha: float = 32.0


class Event(msgspec.Struct, kw_only=True, omit_defaults=True):
    event: str  # loaded | step | checkpoint | done
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    train_loss: float | None = None
    train_accuracy: float | None = None
    valid_loss: float | None = None
    valid_accuracy: float | None = None
    path: str = ""  # checkpoint dir, or the adapter GGUF when done
    trained_tokens: int = 0
    examples: int = 0


def emit(event: Event) -> None:
    sys.stdout.write(msgspec.json.encode(event).decode() + "\n")
    sys.stdout.flush()


def encode(tokenizer, messages: list[dict]) -> tuple[list[int], list[int]]:
    """Token ids of a whole conversation, and labels that are -100 except on the trained assistant
    messages (their text and end-of-turn token)."""
    chat = [{"role": m["role"], "content": m["content"]} for m in messages]
    render = tokenizer.apply_chat_template

    def ids(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    full = ids(render(chat, tokenize=False))
    labels = [-100] * len(full)
    for i, message in enumerate(messages):
        if message["role"] != "assistant" or not message["weight"]:
            continue
        start = len(ids(render(chat[:i], tokenize=False, add_generation_prompt=True)))
        end = len(ids(render(chat[:i + 1], tokenize=False)))
        labels[start:end] = full[start:end]
    return full[:MAX_TOKENS], labels[:MAX_TOKENS]


def read(path: str, tokenizer, minimum: int) -> list[tuple[list[int], list[int]]]:
    with open(path, "rb") as f:
        return [encode(tokenizer, ex) for ex in dataset.examples(f, minimum=minimum)]


def batches(rows, size: int, pad_id: int):
    import torch

    for i in range(0, len(rows), size):
        chunk = rows[i:i + size]
        width = max(len(ids) for ids, _ in chunk)
        input_ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        labels = torch.full((len(chunk), width), -100, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, (ids, lab) in enumerate(chunk):
            input_ids[row, :len(ids)] = torch.tensor(ids)
            labels[row, :len(lab)] = torch.tensor(lab)
            mask[row, :len(ids)] = 1
        yield input_ids, mask, labels


def loss_and_accuracy(model, input_ids, mask, labels):
    """Mean loss over the labelled tokens and the share of them the model predicts exactly."""

    out = model(input_ids=input_ids, attention_mask=mask, labels=labels)
    target = labels[:, 1:]
    predicted = out.logits[:, :-1].argmax(-1)
    counted = target != -100
    accuracy = ((predicted == target) & counted).sum().item() / max(1, counted.sum().item())
    return out.loss, accuracy


def evaluate(model, rows, size: int, pad_id: int) -> tuple[float, float]:
    import torch

    losses, accuracies = [], []
    with torch.no_grad():
        for input_ids, mask, labels in batches(rows, size, pad_id):
            loss, accuracy = loss_and_accuracy(model, input_ids, mask, labels)
            losses.append(loss.item())
            accuracies.append(accuracy)
    return sum(losses) / len(losses), sum(accuracies) / len(accuracies)


def last_checkpoint(out_dir: Path) -> Path | None:
    found = [p for p in out_dir.glob("ckpt-step-*") if (p / "state.json").exists()]
    return max(found, key=lambda p: int(p.name.rsplit("-", 1)[1]), default=None)


def train(spec: Spec) -> None:
    import torch
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(spec.threads)
    torch.manual_seed(spec.seed)
    out_dir = Path(spec.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    folder, file = os.path.split(spec.base_gguf)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=file)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=file, dtype=torch.float32)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    rows = read(spec.training_file, tokenizer, dataset.MIN_EXAMPLES)
    valid = read(spec.validation_file, tokenizer, 1) if spec.validation_file else []

    model = get_peft_model(model, LoraConfig(r=spec.lora_rank, lora_alpha=spec.lora_alpha, lora_dropout=0.0,
                                             target_modules=TARGET_MODULES, task_type="CAUSAL_LM"))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=spec.learning_rate)
    per_epoch = math.ceil(len(rows) / spec.batch_size)
    total = per_epoch * spec.n_epochs
    step, first_epoch = 0, 0
    resumed = last_checkpoint(out_dir)
    if resumed is not None:
        state = json.loads((resumed / "state.json").read_text())
        set_peft_model_state_dict(model, load_file(str(resumed / "adapter_model.safetensors")))
        optimizer.load_state_dict(torch.load(resumed / "optimizer.pt"))
        step, first_epoch = state["step"], state["epoch"]
    epoch_tokens = sum(len(ids) for ids, _ in rows)
    emit(Event(event="loaded", step=step, total_steps=total, examples=len(rows)))

    model.train()
    for epoch in range(first_epoch, spec.n_epochs):
        order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(spec.seed + epoch)).tolist()
        shuffled = [rows[i] for i in order]
        for input_ids, mask, labels in batches(shuffled, spec.batch_size, pad_id):
            loss, accuracy = loss_and_accuracy(model, input_ids, mask, labels)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            step += 1
            event = Event(event="step", step=step, total_steps=total, epoch=epoch + 1,
                          train_loss=loss.item(), train_accuracy=accuracy)
            if step % per_epoch == 0 and valid:
                model.eval()
                event.valid_loss, event.valid_accuracy = evaluate(model, valid, spec.batch_size, pad_id)
                model.train()
            emit(event)
        checkpoint = out_dir / f"ckpt-step-{step}"
        model.save_pretrained(str(checkpoint))
        torch.save(optimizer.state_dict(), checkpoint / "optimizer.pt")
        (checkpoint / "state.json").write_text(json.dumps({"step": step, "epoch": epoch + 1}))
        emit(Event(event="checkpoint", step=step, total_steps=total, epoch=epoch + 1, path=str(checkpoint)))

    state = {k: v.detach().cpu().numpy() for k, v in get_peft_model_state_dict(model).items()}
    adapter = out_dir / "adapter.gguf"
    partial = out_dir / "adapter.gguf.partial"
    adapter_gguf.write(str(partial), state, alpha=spec.lora_alpha, n_head=model.config.num_attention_heads,
                       n_head_kv=model.config.num_key_value_heads)
    os.replace(partial, adapter)
    emit(Event(event="done", step=step, total_steps=total, path=str(adapter),
               trained_tokens=epoch_tokens * spec.n_epochs))


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    spec = msgspec.json.decode(Path(sys.argv[1]).read_bytes(), type=Spec)
    started = time.monotonic()
    try:
        train(spec)
    except dataset.InvalidFile as err:
        sys.stderr.write(f"invalid file: {err}\n")
        sys.exit(2)
    sys.stderr.write(f"trained in {time.monotonic() - started:.1f} s\n")


if __name__ == "__main__":
    main()
