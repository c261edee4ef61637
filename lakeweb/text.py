"""Text that cannot be stored: the one check, for the API's bodies and the services.

PostgreSQL keeps no NUL (U+0000) in text or JSON, and UTF-8 has no encoding
for a lone surrogate (U+D800-U+DFFF, which JSON's ``\\ud800`` escapes can
still spell): either would fail when the row is written or the answer is
sent, long after the request was accepted.
"""

from __future__ import annotations

from typing import Any


def text_unstorable(text: str) -> bool:
    """Whether ``text`` holds a NUL or a lone surrogate."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def json_unstorable(value: Any, path: str = "") -> str | None:
    """Where parsed JSON holds ``text_unstorable`` text (``metadata.note``), or None.

    Callers bound the nesting first (``lakeweb.api_parsers.JSONBodyParser``).
    """
    if isinstance(value, str):
        return f"the text at {path or 'the top'}" if text_unstorable(value) else None
    items: Any = ()
    if isinstance(value, dict):
        for key in value:
            if text_unstorable(key):
                return f"a key in {path or 'the top object'}"
        items = ((_joined(path, key), item) for key, item in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    for where, item in items:
        found = json_unstorable(item, where)
        if found:
            return found
    return None


def _joined(path: str, key: str) -> str:
    key = key if len(key) <= 40 else key[:40] + "…"
    return f"{path}.{key}" if path else key
