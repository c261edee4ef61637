"""Sizes read the same everywhere: binary IEC units, labelled KiB/MiB/GiB (``size_iec``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from lakeweb.templatetags.sizes import size_iec

NBSP = "\xa0"


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1280, "1.3 KiB"),  # an exact half rounds up, as upload.js's twin does
        (1536, "1.5 KiB"),
        (1024 * 1024 - 1, "1.0 MiB"),  # 1023.999 KiB is not shown as "1024.0 KiB"
        (63_000_000, "60.1 MiB"),  # the folder the upload page called "63.0 MB"
        (32 * 1024**2, "32.0 MiB"),
        (5 * 1024**4, "5.0 TiB"),
        (3 * 1024**6, "3072.0 PiB"),  # the largest unit grows rather than running out
        (-2048, "-2.0 KiB"),
        ("4096", "4.0 KiB"),
        (None, "0 B"),
        ("not a number", "0 B"),
    ],
)
def test_sizes_are_binary_and_labelled_iec(size: object, shown: str) -> None:
    assert size_iec(size) == shown.replace(" ", NBSP)


def test_no_template_or_module_uses_djangos_mislabelled_filesizeformat() -> None:
    """filesizeformat divides by 1024 but says "MB": every size goes through size_iec."""
    root = Path(settings.BASE_DIR)
    sources = [
        path
        for folder in ("templates", "lakeweb", "catalog", "provenance", "backups")
        for path in (root / folder).rglob("*")
        if path.suffix in (".html", ".py") and "tests" not in path.parts
    ]
    assert len(sources) > 50
    using = [str(p.relative_to(root)) for p in sources if "filesizeformat" in p.read_text()]
    assert using == []


@pytest.mark.django_db
def test_a_dataset_reads_the_same_size_on_every_page_and_in_admin(client_for, users) -> None:
    from catalog.tests.factories import upload_dataset

    dataset = upload_dataset(users["admin"], files={"a.bin": b"x" * 1000, "b.bin": b"y" * 536})
    shown = "1.5\xa0KiB"  # 1,536 bytes
    client = client_for("admin")
    pages = {
        "dataset page": reverse("catalog:dataset_detail", args=[dataset.pk]),
        "catalog": reverse("catalog:dataset_list"),
        "layers": reverse("catalog:layers"),
        "admin list": reverse("admin:catalog_dataset_changelist"),
        "admin page": reverse("admin:catalog_dataset_change", args=[dataset.pk]),
    }
    for name, url in pages.items():
        html = client.get(url).content.decode()
        assert shown in html, name
        assert "\xa0KB" not in html and "\xa0MB" not in html, name
