"""The bounded memory shared by the matcher's and the renderer's caches."""

from __future__ import annotations

from bot.memo import remember


def test_remember_keeps_and_returns_the_value() -> None:
    memory: dict[str, int] = {}
    assert remember(memory, "a", 1, limit=3) == 1
    assert memory == {"a": 1}


def test_a_full_memory_is_emptied_before_the_next_value() -> None:
    memory: dict[str, int] = {}
    for number, key in enumerate("abc"):
        remember(memory, key, number, limit=3)
    assert len(memory) == 3
    remember(memory, "d", 9, limit=3)
    assert memory == {"d": 9}
