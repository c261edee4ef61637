"""Metadata values on the dataset page: escaped, line breaks kept, web addresses as links.

A long-text value keeps its lines; ``http://`` and ``https://`` addresses,
whole values (a URL field) or inside text, become links that pass nothing on
to the site they open (``rel="noopener noreferrer nofollow"``). Every other
character is escaped (SPEC §5): ``javascript:`` and the like stay text.
"""

from __future__ import annotations

import re
from typing import Any

from django import template
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

ADDRESS = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)
# Punctuation that ends a sentence rather than the address ("see https://x.org.").
TRAILING = ".,;:!?'\"]}*"
LINK = '<a href="{}" rel="noopener noreferrer nofollow">{}</a>'
LINE_BREAK = mark_safe("<br>")


def _address_end(found: str) -> str:
    """The address without the punctuation after it; an unmatched ")" is the text's."""
    while found and (
        found[-1] in TRAILING or (found[-1] == ")" and found.count(")") > found.count("("))
    ):
        found = found[:-1]
    return found


def _linked(line: str) -> SafeString:
    pieces: list[SafeString] = []
    done = 0
    for match in ADDRESS.finditer(line):
        address = _address_end(match.group())
        if address.endswith("://"):
            continue  # nothing after the scheme: not an address
        pieces += [escape(line[done : match.start()]), format_html(LINK, address, address)]
        done = match.start() + len(address)
    pieces.append(escape(line[done:]))
    return format_html_join("", "{}", ((piece,) for piece in pieces))


@register.filter
def metadata_value(value: Any) -> SafeString:
    """The value as HTML: escaped, each line break a ``<br>``, http(s) addresses linked."""
    lines = str(value).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return format_html_join(LINE_BREAK, "{}", ((_linked(line),) for line in lines))
