"""Keep secrets out of logs and error messages."""

from __future__ import annotations

from collections.abc import Iterable

MASK = "***"


class Redactor:
    """Replace every known secret in a text with a mask."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """Return `text` with every secret masked."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def extend(self, *secrets: str | None) -> Redactor:
        """Return a redactor that also masks `secrets`."""
        return Redactor([*self._secrets, *secrets])
