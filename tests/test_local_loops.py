"""Unit tests: the repetition-loop guard of local generations."""

from services.chat.providers.local_loops import LoopGuard


def first_loop(tokens: list[str], min_tokens: int = 64, max_period: int = 64) -> int | None:
    guard = LoopGuard(min_tokens, max_period)
    return next((i + 1 for i, t in enumerate(tokens) if guard.looping(t)), None)


def test_one_token_repeated_is_found_at_min_tokens():
    assert first_loop(["gun"] + [" test"] * 500) == 1 + 64


def test_a_long_repeated_unit_is_found_after_three_repeats():
    unit = [f" w{i}" for i in range(40)]
    assert first_loop([" start"] * 3 + [" intro", " text"] + unit * 10) == 5 + 3 * 40


def test_counting_and_plain_text_are_not_loops():
    assert first_loop([f" {n}," for n in range(1, 1000)]) is None
    assert first_loop([f" word{i % 97}x{i // 97}" for i in range(2000)]) is None


def test_a_unit_longer_than_max_period_is_not_looked_for():
    unit = [f" w{i}" for i in range(80)]
    assert first_loop(unit * 6) is None
    assert first_loop(unit * 6, max_period=80) == 3 * 80


def test_short_legitimate_repetition_passes():
    assert first_loop(["-"] * 40 + [" done"]) is None  # a markdown rule: fewer than min_tokens
