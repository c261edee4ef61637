"""Sizes in bytes as people read them: binary IEC units (KiB, MiB, GiB), labelled so.

The one formatter for sizes on pages, in admin, in charts and in command
output; ``static/lakeweb/upload.js`` has its twin (``human``), which must
give the same text for the same number. Django's own size filter divides
by 1024 but says "MB", and the upload page used to divide by 1000: the same
folder read 63.0 MB on one page and 60.1 MB on the next.
"""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()

UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
NBSP = "\xa0"  # a number and its unit stay on one line


def _tenths(size: int, power: int) -> int:
    """``size / 1024**power`` in tenths, halves rounded up, in exact integers (as upload.js)."""
    scale = 1024**power
    return (size * 20 + scale) // (2 * scale)


@register.filter
def size_iec(value: Any) -> str:
    """``1280`` -> ``1.3 KiB``; under 1 KiB in whole bytes; not a number -> ``0 B``."""
    try:
        size = int(value)
    except (TypeError, ValueError):
        size = 0
    sign, size = ("-" if size < 0 else ""), abs(size)
    if size < 1024:
        return f"{sign}{size}{NBSP}B"
    power = 1
    while power < len(UNITS) - 1 and size >= 1024 ** (power + 1):
        power += 1
    tenths = _tenths(size, power)
    if tenths >= 10240 and power < len(UNITS) - 1:  # 1023.96 KiB reads 1.0 MiB
        power += 1
        tenths = _tenths(size, power)
    return f"{sign}{tenths // 10}.{tenths % 10}{NBSP}{UNITS[power]}"
