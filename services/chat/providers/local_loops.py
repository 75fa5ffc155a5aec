"""Repetition loops in a local generation, found within a bounded number of tokens.

Small models, asked for no `max_tokens`, can repeat one phrase until the context is full (minutes on
a CPU). A loop is the last tokens repeating one unit of at most `max_period` tokens, over at least
`min_tokens` tokens and at least three times the unit. So a loop is found at most
`max(min_tokens, 3 × max_period)` tokens after it starts; the generation then ends as if `max_tokens`
had been hit.
"""


class LoopGuard:
    def __init__(self, min_tokens: int, max_period: int) -> None:
        self.min_tokens = min_tokens
        self.max_period = max_period
        self.keep = max(min_tokens, 3 * max_period)
        self.tokens: list[str] = []

    def looping(self, token: str) -> bool:
        """Add one token; whether the generation is now in a loop."""
        tokens = self.tokens
        tokens.append(token)
        if len(tokens) > 2 * self.keep:
            del tokens[: len(tokens) - self.keep]
        n = len(tokens)
        for period in range(1, self.max_period + 1):
            span = max(self.min_tokens, 3 * period)
            if span > n:
                return False
            if all(tokens[n - i] == tokens[n - i - period] for i in range(1, span - period + 1)):
                return True
        return False
