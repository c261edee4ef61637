"""The catalog's result rows and facet lists: the results page's two hot loops.

A page of results has 25 rows and some 50 facet links. Written with template
tags and filters, each row or link costs a tenth of a millisecond or more
(URL reversing, a query-string copy per link, three filters per row); built
here with ``format_html`` the whole of them costs about a millisecond. The
markup is the same as the template's would be; ``_results.html`` places it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from lakeweb.templatetags.sizes import size_iec

from ..models import Dataset
from ..selectors.facets import FacetValue
from .catalog_query import PAGING

register = template.Library()

_PLACEHOLDER = uuid.UUID(int=0)


def _other_params(request: Any, key: str) -> list[tuple[str, str]]:
    """The query string's pairs but ``key`` and paging: a facet link starts at page 1."""
    return [
        (name, value)
        for name, values in request.GET.lists()
        if name != key and name not in PAGING
        for value in values
    ]


def _href(pairs: list[tuple[str, str]]) -> str:
    return f"?{urlencode(pairs)}"


@register.simple_tag(takes_context=True)
def facet_items(context: dict[str, Any], facets: list[FacetValue], key: str) -> SafeString:
    """``<li>`` links choosing one value of ``key`` (chosen again: no longer chosen)."""
    rest = _other_params(context["request"], key)
    links = (
        (_href(rest if facet.selected else [*rest, (key, facet.value)]), facet) for facet in facets
    )
    return _items(links) or mark_safe('<li class="text-muted">—</li>')


@register.simple_tag(takes_context=True)
def facet_toggles(context: dict[str, Any], facets: list[FacetValue], key: str) -> SafeString:
    """``<li>`` links adding a value to the repeated ``key``, or taking it out."""
    request = context["request"]
    rest = _other_params(request, key)
    chosen = [value for value in request.GET.getlist(key) if value]

    def toggled(value: str) -> list[str]:
        return [v for v in chosen if v != value] if value in chosen else [*chosen, value]

    links = ((_href([*rest, *((key, v) for v in toggled(facet.value))]), facet) for facet in facets)
    return _items(links)


def _items(links: Iterable[tuple[str, FacetValue]]) -> SafeString:
    return format_html_join(
        "\n",
        '<li><a href="{}"{}>{}</a>{}{}</li>',
        (
            (
                href,
                mark_safe(' class="fw-bold" aria-current="true"') if facet.selected else "",
                facet.label,
                format_html(' <span class="text-muted">{}</span>', intcomma(facet.count))
                if facet.count is not None
                else "",
                " ✕" if facet.selected else "",
            )
            for href, facet in links
        ),
    )


@register.simple_tag
def dataset_rows(datasets: list[Dataset]) -> SafeString:
    """The results table's rows; each dataset carries ``tag_names`` (selectors/paging.py)."""
    # One reverse for the page: the detail URL differs between rows only by the id.
    url = reverse("catalog:dataset_detail", args=[_PLACEHOLDER])
    return format_html_join(
        "\n",
        "<tr><td>"
        '<a href="{}">{}</a>{}</td>'
        '<td><span class="badge text-bg-secondary">{}</span></td>'
        "<td>{}</td><td>{}</td>"
        '<td class="text-end">{}</td><td class="text-end">{}</td>'
        "<td>{}</td></tr>",
        (
            (
                url.replace(str(_PLACEHOLDER), str(dataset.pk)),
                dataset.name,
                format_html_join(
                    "",
                    ' <span class="badge text-bg-light border fw-normal">{}</span>',
                    ((name,) for name in dataset.tag_names),
                ),
                dataset.layer,
                dataset.source.name,
                dataset.external_id,
                intcomma(dataset.file_count),
                size_iec(dataset.total_size),
                timezone.localtime(dataset.created_at).strftime("%Y-%m-%d %H:%M"),
            )
            for dataset in datasets
        ),
    )
