"""Catalog reads about metadata forms."""

from __future__ import annotations

from ..models import MetadataForm

# A bigint id has at most 19 digits; any more would overflow SQLite's integers.
MAX_ID_DIGITS = 18


def metadata_form_find(*, text: str) -> MetadataForm | None:
    """The form named ``text`` exactly, else the form whose id it is; None when neither.

    A name wins over an id (a form may be named "12"). Only ASCII digits make
    an id: ``str.isdigit()`` also takes '²', which ``int()`` refuses. Text
    longer than any name or id is no form, found without a query. Callers take
    ``text`` from a form or serializer field, which refuses NUL.
    """
    longest = MetadataForm._meta.get_field("name").max_length or 0
    if not text or len(text) > longest:
        return None
    form = MetadataForm.objects.filter(name=text).first()
    if form is None and text.isascii() and text.isdecimal() and len(text) <= MAX_ID_DIGITS:
        form = MetadataForm.objects.filter(pk=int(text)).first()
    return form
