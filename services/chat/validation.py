"""Checks on token ids that a request struct cannot express: `logit_bias` keys and token-id
prompts. Without a vocabulary size (a model routed to an upstream) only the form is checked and
the upstream judges the rest; a local model passes its own."""

import re

from shared import errors
from shared.protocol.completions import Prompt

_TOKEN_ID = re.compile(r"[0-9]+")


def logit_bias(bias: dict[str, int] | None, *, vocab_size: int | None = None) -> None:
    """Every key a token id (OpenAI's messages; the value range is the struct's)."""
    for key in bias or ():
        if not _TOKEN_ID.fullmatch(key):
            raise errors.invalid_request(f"Invalid key in 'logit_bias': {key[:40]}. You should only be submitting "
                                         "non-negative integers.", param="logit_bias")
        if vocab_size is not None and (len(key) > 18 or int(key) >= vocab_size):  # (no int() of 5,000 digits)
            raise errors.invalid_request(f"Invalid key in 'logit_bias': {key[:40]}. Maximum value is {vocab_size - 1}.",
                                         param="logit_bias")


def prompt_tokens(prompt: Prompt, *, vocab_size: int) -> None:
    """Every token id of a prompt given as token ids (one list, or a list of lists) in the vocabulary."""
    if isinstance(prompt, str):
        return
    for item in prompt:
        for token in item if isinstance(item, list) else (item,):
            if isinstance(token, int) and not 0 <= token < vocab_size:
                raise errors.invalid_request(f"Invalid token in prompt: {token}. Minimum value is 0, maximum "
                                             f"value is {vocab_size - 1}.", param="prompt")
