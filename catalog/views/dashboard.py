"""The dashboard (charts of the lake) and the layers page (SPEC §3 item 2).

Both read the tallies through ``catalog.stats``: a fixed, small number of
queries however many datasets the lake holds.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.dateformat import format as date_format

from lakeweb.access import browse_required

from .. import charts, stats
from ..models import DatasetStatus

# Sources past this many share one bar, so the chart stays readable with
# hundreds of sources; the layers of the lake are few and always all shown.
SOURCE_BARS = 12


def source_bars(sources: list[stats.SourceTotal]) -> list[tuple[str, int]]:
    """(name, bytes) of the largest sources, the rest summed as one last bar."""
    bars = [(source.name, source.bytes) for source in sources[:SOURCE_BARS]]
    rest = sources[SOURCE_BARS:]
    if rest:
        bars.append((f"{len(rest)} other sources", sum(source.bytes for source in rest)))
    return bars


@browse_required
def dashboard(request: HttpRequest) -> HttpResponse:
    figures = stats.dashboard_figures()
    context = {
        "figures": figures,
        "layers_chart": charts.bar_chart(
            title="Ready datasets per layer",
            items=[(total.layer, total.datasets) for total in figures.layers],
            unit="datasets",
        ),
        "sources_chart": charts.bar_chart(
            title="Storage per source",
            items=source_bars(figures.sources),
            unit=charts.BYTES,
        ),
        "months_chart": charts.column_chart(
            title=f"Datasets uploaded per month, last {len(figures.months)} months",
            items=[(date_format(row.month, "M Y"), row.datasets) for row in figures.months],
            unit="datasets",
        ),
    }
    return render(request, "catalog/dashboard.html", context)


@browse_required
def layers(request: HttpRequest) -> HttpResponse:
    totals = stats.layer_totals()
    context = {
        "layers": totals,
        "datasets": sum(total.datasets for total in totals),
        "bytes": sum(total.bytes for total in totals),
        "promotions": stats.promotions_recent(limit=10),
        # The dataset page opens ready datasets and tombstones, nothing else.
        "browsable": (DatasetStatus.READY, DatasetStatus.DELETED),
    }
    return render(request, "catalog/layers.html", context)
