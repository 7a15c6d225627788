"""Text the database and hashers can take: no lone surrogates, no NUL characters."""

from typing import Annotated

from pydantic import AfterValidator


def clean_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def is_clean(value: str) -> bool:
    try:
        clean_text(value)
    except ValueError:
        return False
    return True


Text = Annotated[str, AfterValidator(clean_text)]
