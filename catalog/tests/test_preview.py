"""Safe previews: the head of CSV/TSV as a table, of text in <pre>, images proven by their bytes."""

from __future__ import annotations

import pytest
from django.urls import reverse

from catalog import services
from catalog.models import DataFile, Dataset
from catalog.selectors.preview import HEAD_BYTES, IMAGE_MAX_BYTES, image_type, preview_kind
from conftest import ROLES

from .factories import promote_dataset, upload_dataset

pytestmark = pytest.mark.django_db

BROWSE = {"anonymous": 302, "viewer": 200, "member": 200, "curator": 200, "admin": 200}

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
GIF = b"GIF89a" + bytes(40)
HTML = b"<html><script>alert(document.cookie)</script></html>"
CSV = "name,note\n" + "".join(f"s{i},<b>cell {i}</b>\n" for i in range(100))

FILES = {
    "tables/plate.csv": CSV.encode(),
    "tables/plate.tsv": b"a\tb\tc\n1\t2\n3\t4\t5\t6\n",
    "notes/readme.txt": b"Temp\xc3\xa9rature <script>alert(1)</script> \xff end\n",
    "notes/empty.txt": b"",
    "images/cell.png": PNG,
    "images/named-wrong.jpg": GIF,
    "images/fake.png": HTML,
    "images/logo.svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    "data/frame.bin": b"\x00\x01\x02",
}


@pytest.fixture
def dataset(member) -> Dataset:
    return upload_dataset(member, files=FILES, name="Previews")


def file_of(dataset: Dataset, path: str) -> DataFile:
    return dataset.files.get(path=path)


def preview(client, dataset: Dataset, path: str):
    url = reverse("catalog:datafile_preview", args=[dataset.pk, file_of(dataset, path).pk])
    return client.get(url)


def inline(client, dataset: Dataset, path: str):
    url = reverse("catalog:datafile_inline", args=[dataset.pk, file_of(dataset, path).pk])
    return client.get(url)


# -- who may see ---------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_preview_permissions(client_for, dataset, role: str) -> None:
    response = preview(client_for(role), dataset, "notes/readme.txt")
    assert response.status_code == BROWSE[role]
    if response.status_code == 200:
        assert "Température" in response.content.decode()
    else:
        assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("role", ROLES)
def test_inline_image_permissions(client_for, dataset, role: str) -> None:
    response = inline(client_for(role), dataset, "images/cell.png")
    assert response.status_code == BROWSE[role]
    if response.status_code == 200:
        assert b"".join(response.streaming_content) == PNG
    else:
        assert not response.streaming


def test_user_without_a_role_sees_no_preview(client, django_user_model, dataset) -> None:
    client.force_login(django_user_model.objects.create_user(username="n", email="n@lab.example"))
    for response in (
        preview(client, dataset, "notes/readme.txt"),
        inline(client, dataset, "images/cell.png"),
    ):
        assert response.status_code == 403
        assert "ask an admin" in response.content.decode()


def test_public_browsing_shows_previews_to_anonymous(client, settings, dataset) -> None:
    settings.LAKEWEB_PUBLIC_BROWSING = True
    assert preview(client, dataset, "tables/plate.csv").status_code == 200
    assert inline(client, dataset, "images/cell.png").status_code == 200


# -- what is shown ---------------------------------------------------------------


def test_csv_first_50_rows_escaped(lake, client_for, dataset) -> None:
    html = preview(client_for("viewer"), dataset, "tables/plate.csv").content.decode()
    assert "The first 50 rows." in html
    assert "<td>s48</td>" in html and "<td>s49</td>" not in html  # header + 49 rows
    assert "<b>cell" not in html and "<td>&lt;b&gt;cell 1&lt;/b&gt;</td>" in html


def test_tsv_split_on_tabs_and_ragged_rows_padded(client_for, dataset) -> None:
    html = preview(client_for("viewer"), dataset, "tables/plate.tsv").content.decode()
    assert "All 3 rows." in html
    assert "<tr><td>1</td><td>2</td><td></td><td></td></tr>" in html
    assert "<tr><td>3</td><td>4</td><td>5</td><td>6</td></tr>" in html


def test_text_in_pre_escaped_and_decoded_with_replacement(lake, client_for, dataset) -> None:
    html = preview(client_for("viewer"), dataset, "notes/readme.txt").content.decode()
    assert (
        '<pre class="preview-text">Température &lt;script&gt;alert(1)&lt;/script&gt; \ufffd' in html
    )
    assert "<script>alert(1)" not in html


def test_only_the_head_of_a_large_file_is_read(client_for, member) -> None:
    text = ("line of text\n" * (3 * HEAD_BYTES // 13)) + "END-MARKER\n"
    rows = "a,b\n" + "1,2\n" * HEAD_BYTES + "END,MARKER\n"
    dataset = upload_dataset(member, files={"big.log": text.encode(), "big.csv": rows.encode()})
    client = client_for("viewer")
    html = preview(client, dataset, "big.log").content.decode()
    assert "Only the beginning of this file is shown." in html and "END-MARKER" not in html
    assert html.count("line of text") <= HEAD_BYTES // 13 + 1
    html = preview(client, dataset, "big.csv").content.decode()
    assert "The first 50 rows." in html and "MARKER" not in html


def test_empty_text_file(client_for, dataset) -> None:
    html = preview(client_for("viewer"), dataset, "notes/empty.txt").content.decode()
    assert "This file is empty." in html


def test_png_shown_through_the_inline_endpoint(lake, client_for, dataset) -> None:
    client = client_for("viewer")
    datafile = file_of(dataset, "images/cell.png")
    html = preview(client, dataset, "images/cell.png").content.decode()
    src = reverse("catalog:datafile_inline", args=[dataset.pk, datafile.pk])
    assert f'<img class="preview-image" src="{src}"' in html
    response = client.get(src)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="cell.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("default-src 'none'")
    assert b"".join(response.streaming_content) == PNG


def test_image_type_comes_from_the_bytes_not_the_name(client_for, dataset) -> None:
    response = inline(client_for("viewer"), dataset, "images/named-wrong.jpg")
    assert response["Content-Type"] == "image/gif"
    assert b"".join(response.streaming_content) == GIF


def test_png_whose_bytes_are_html_is_not_served(lake, client_for, dataset) -> None:
    client = client_for("viewer")
    html = preview(client, dataset, "images/fake.png").content.decode()
    assert "does not start like a PNG, JPEG, GIF or WebP image" in html
    assert "<img" not in html and "/inline/" not in html
    response = inline(client, dataset, "images/fake.png")
    assert response.status_code == 404
    assert not response.streaming and b"alert(document.cookie)" not in response.content
    assert "does not start like a PNG, JPEG, GIF or WebP image" in response.content.decode()


def test_svg_never_shown_as_an_image(client_for, dataset) -> None:
    client = client_for("viewer")
    html = preview(client, dataset, "images/logo.svg").content.decode()
    assert "No preview for this kind of file." in html and "<img" not in html
    assert 'onload="alert(1)"' not in html
    response = inline(client, dataset, "images/logo.svg")
    assert response.status_code == 404
    assert "Only PNG, JPEG, GIF and WebP images are shown inline." in response.content.decode()


def test_too_large_image_is_not_shown(client_for, member) -> None:
    big = PNG + bytes(IMAGE_MAX_BYTES)
    dataset = upload_dataset(member, files={"huge.png": big})
    client = client_for("viewer")
    html = preview(client, dataset, "huge.png").content.decode()
    assert "This image is too large to show here (over 20 MiB)." in html and "<img" not in html
    response = inline(client, dataset, "huge.png")
    assert response.status_code == 404 and "too large" in response.content.decode()


def test_other_files_offer_the_download(client_for, dataset) -> None:
    html = preview(client_for("viewer"), dataset, "data/frame.bin").content.decode()
    download = reverse(
        "catalog:datafile_download", args=[dataset.pk, file_of(dataset, "data/frame.bin").pk]
    )
    assert "No preview for this kind of file." in html and f'href="{download}">Download it' in html


def test_breadcrumbs_lead_back_to_the_folder(client_for, dataset) -> None:
    html = preview(client_for("viewer"), dataset, "tables/plate.csv").content.decode()
    page = reverse("catalog:dataset_detail", args=[dataset.pk])
    assert f'href="{page}?dir=tables#files">tables</a>' in html


# -- bad input -------------------------------------------------------------------


def test_file_of_another_dataset_is_404(client_for, dataset, member) -> None:
    other = upload_dataset(member, files={"x.txt": b"secret of another dataset"}, name="Other")
    foreign = other.files.get()
    client = client_for("viewer")
    before = DataFile.objects.count()
    for name in ("catalog:datafile_preview", "catalog:datafile_inline"):
        response = client.get(reverse(name, args=[dataset.pk, foreign.pk]))
        assert response.status_code == 404
        page = response.content.decode()
        assert "This dataset has no such file." in page and "secret" not in page
    assert DataFile.objects.count() == before


@pytest.mark.parametrize("file_id", ["0", "99999999999999999999", "abc", "-1"])
def test_unknown_or_malformed_file_id_is_404(client_for, dataset, file_id: str) -> None:
    client = client_for("viewer")
    for suffix in ("preview", "inline"):
        response = client.get(f"/datasets/{dataset.pk}/files/{file_id}/{suffix}/")
        assert response.status_code == 404
        if file_id.isdigit():
            assert "This dataset has no such file." in response.content.decode()


def test_files_of_a_deleted_dataset_have_no_preview(client_for, dataset, curator) -> None:
    processed = promote_dataset(dataset, curator)
    datafile = processed.files.get(path="notes/readme.txt")
    services.dataset_delete(dataset=processed, user=curator)
    client = client_for("viewer")
    for name in ("catalog:datafile_preview", "catalog:datafile_inline"):
        response = client.get(reverse(name, args=[processed.pk, datafile.pk]))
        assert response.status_code == 404
        assert "This dataset has no such file." in response.content.decode()


def test_missing_object_in_storage_is_reported(client_for, dataset) -> None:
    from catalog.models import FixityFailure
    from lakeweb.storage import layer_store

    datafile = file_of(dataset, "notes/readme.txt")
    layer_store("raw").delete(datafile.storage_key)
    response = preview(client_for("viewer"), dataset, "notes/readme.txt")
    assert response.status_code == 404
    page = response.content.decode()
    assert "&#x27;notes/readme.txt&#x27; of this dataset is missing" in page
    assert datafile.storage_key not in page
    failure = FixityFailure.objects.get(datafile=datafile)
    assert (failure.kind, failure.found_by) == ("missing", "preview")


# -- kinds -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, content_type, kind",
    [
        ("a.csv", "text/csv", "table"),
        ("a.TSV", "", "table"),
        ("a", "text/tab-separated-values", "table"),
        ("run.log", "application/octet-stream", "text"),
        ("a.json", "application/json", "text"),
        ("Makefile", "text/plain", "text"),
        ("a.png", "image/png", "image"),
        ("a.JPEG", "", "image"),
        ("a.webp", "", "image"),
        ("a.svg", "image/svg+xml", None),
        ("a.tif", "image/tiff", None),
        ("a.bin", "application/octet-stream", None),
        (".csv", "", None),  # a hidden file named ".csv" has no extension
    ],
)
def test_preview_kind(name: str, content_type: str, kind: str | None) -> None:
    assert preview_kind(name=name, content_type=content_type) == kind


@pytest.mark.parametrize(
    "head, found",
    [
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF87a....", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),
        (HTML, None),
        (b"<svg", None),
        (b"", None),
    ],
)
def test_image_type_from_magic_bytes(head: bytes, found: str | None) -> None:
    assert image_type(head) == found
