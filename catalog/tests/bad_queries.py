"""Query strings that once cost a 500 or held a core, for the page's and the API's tests.

Each pairs parameters with a part of the refusal's message that reads the
same in JSON and in HTML (no quotes, which the page escapes).
"""

from __future__ import annotations

import base64
import json

from django.contrib.auth.models import User

from catalog.models import Dataset, MetadataForm, Tag


def cursor(*payload: object) -> str:
    """A page link's cursor as a forger would write it (``paging.cursor_encode``'s format)."""
    raw = json.dumps(list(payload)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


NIL = "00000000-0000-0000-0000-000000000000"
# Each once cost a 500 or held a core; the page and the API (test_api_search.py)
# refuse them with these messages (HTML-escaped on the page, hence no quotes).
BAD_QUERIES = [
    # A short text but a million-digit integer: 40 s of a core, then a 500.
    ({"field": "magnification=1e999999"}, "is too large a number to search for"),
    ({"field": "magnification=-1e999999"}, "is too large a number to search for"),
    ({"field": "magnification=" + "9" * 30}, "is too large a number to search for"),
    ({"field": "magnification=1e-999999"}, "is too small a number to search for"),
    ({"field": "operator=al\x00ice"}, "holds a NUL character"),
    ({"tags": "micro\x00scopy"}, "holds a NUL character"),
    ({"field": [f"operator=n{n}" for n in range(6)]}, "field: At most 5 values."),
    ({"tags": ",".join(f"t{n}" for n in range(11))}, "tags: At most 10 values."),
    ({"tags": "x" * 101}, "is longer than 100"),
    ({"page": "1" + "0" * 30}, "page: Ensure this value is less than or equal to 10000000"),
    ({"sort": "name", "after": cursor("name", "a\x00", NIL)}, "This page link is damaged"),
    ({"sort": "name", "after": cursor("name", "\ud800", NIL)}, "This page link is damaged"),
    ({"sort": "largest", "after": cursor("largest", 10**30, NIL)}, "This page link is damaged"),
    ({"sort": "largest", "after": cursor("largest", 1e300, NIL)}, "This page link is damaged"),
    ({"sort": "largest", "after": cursor("largest", True, NIL)}, "This page link is damaged"),
    ({"after": cursor("newest", "2024-01-01T00:00:00", NIL)}, "This page link is damaged"),
]


def stored() -> tuple[int, int, int, list[tuple[object, str]]]:
    """What a search must leave as it was: users, tags, metadata forms and datasets."""
    datasets = list(Dataset.objects.order_by("pk").values_list("pk", "status"))
    return User.objects.count(), Tag.objects.count(), MetadataForm.objects.count(), datasets
