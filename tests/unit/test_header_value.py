"""`header_value`: one header-safe line, the same whichever of its two paths a text takes."""

import random
import string

import pytest

from specialistly.notifications.message import _one_line, header_value


def test_printable_ascii_takes_the_short_path_to_the_same_line() -> None:
    # Printable ASCII skips the character-by-character look: for it, that look would give
    # exactly the same line (runs of spaces and the ends trimmed, nothing dropped).
    rng = random.Random(822)
    alphabet = string.ascii_letters + string.digits + string.punctuation + "    "
    texts = ["", " ", "  a  b  ", "Ann O'Neil-Smith", "Booked: Dr. X <x@y>"]
    texts += ["".join(rng.choices(alphabet, k=rng.randrange(0, 120))) for _ in range(3000)]
    for text in texts:
        assert text.isascii()
        assert text.isprintable()
        assert header_value(text, 10_000) == _one_line(text)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("Eve\r\nBcc: all@example.com", "Eve Bcc: all@example.com"),
        ("Tab\there\x00and\x1bcontrol", "Tab hereandcontrol"),
        ("a\u2028b\u2029c\u00a0d", "a b c d"),
        ("\u200bzero\u200dwidth\u200c", "zero\u200dwidth\u200c"),
        ("名前  テスト", "名前 テスト"),
    ],
)
def test_other_text_is_cleaned_character_by_character(text: str, line: str) -> None:
    assert header_value(text) == line


def test_a_long_line_is_cut_with_an_ellipsis_on_either_path() -> None:
    assert header_value("x" * 300, 200) == "x" * 199 + "…"
    assert header_value("é" * 300, 200) == "é" * 199 + "…"
    assert header_value("word " * 60, 11) == "word word…"
