"""The dataset page's file tree: one folder at a time, paged, in a fixed number of queries."""

from __future__ import annotations

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog import services
from catalog.models import DataFile, DataFolder, Dataset
from catalog.selectors.tree import dataset_folder, folder_breadcrumbs, folder_children
from conftest import ROLES

from .factories import promote_dataset, upload_dataset

pytestmark = pytest.mark.django_db

BROWSE = {"anonymous": 302, "viewer": 200, "member": 200, "curator": 200, "admin": 200}

NESTED = {
    "README.md": b"# top\n",
    "a/one.csv": b"x,y\n1,2\n",
    "a/b/two.txt": b"two\n",
    "a/b/c/three.bin": b"\x00\x01\x02",
    "z/empty.dat": b"",
    "<img src=x onerror=alert(1)>.txt": b"",
    "<script>alert(1)</script>.txt": b"",  # a folder "<script>alert(1)<" holding "script>.txt"
}


@pytest.fixture
def nested(member) -> Dataset:
    return upload_dataset(member, files=NESTED, name="Nested")


def page(client, dataset: Dataset, **params):
    return client.get(reverse("catalog:dataset_detail", args=[dataset.pk]), params)


def fragment(client, dataset: Dataset, **params):
    return client.get(reverse("catalog:dataset_tree", args=[dataset.pk]), params)


def sha(dataset: Dataset, path: str) -> str:
    return dataset.files.get(path=path).sha256


@pytest.mark.parametrize("role", ROLES)
def test_folder_page_permissions(client_for, nested, role: str) -> None:
    response = page(client_for(role), nested, dir="a/b")
    assert response.status_code == BROWSE[role]
    if response.status_code == 200:
        assert sha(nested, "a/b/two.txt") in response.content.decode()


@pytest.mark.parametrize("role", ROLES)
def test_tree_fragment_permissions(client_for, nested, role: str) -> None:
    response = fragment(client_for(role), nested, dir="a")
    assert response.status_code == BROWSE[role]
    if response.status_code == 200:
        assert sha(nested, "a/one.csv") in response.content.decode()
    else:
        assert response["Location"].startswith(reverse("account_login"))


def test_user_without_a_role_is_refused(client, django_user_model, nested) -> None:
    nobody = django_user_model.objects.create_user(username="n", email="n@lab.example")
    client.force_login(nobody)
    for response in (page(client, nested, dir="a"), fragment(client, nested, dir="a")):
        assert response.status_code == 403
        assert "ask an admin" in response.content.decode()


def test_public_browsing_opens_the_tree_to_anonymous(client, settings, nested) -> None:
    settings.LAKEWEB_PUBLIC_BROWSING = True
    assert page(client, nested, dir="a").status_code == 200
    response = fragment(client, nested, dir="a/b")
    assert response.status_code == 200
    assert sha(nested, "a/b/two.txt") in response.content.decode()


def test_top_folder_lists_subfolders_and_its_own_files_only(client_for, nested) -> None:
    html = page(client_for("viewer"), nested).content.decode()
    assert sha(nested, "README.md") in html
    assert sha(nested, "a/one.csv") not in html  # one level at a time
    top = reverse("catalog:dataset_detail", args=[nested.pk])
    tree = reverse("catalog:dataset_tree", args=[nested.pk])
    assert f'href="{top}?dir=a#files"' in html  # works without JavaScript
    assert f'data-tree-src="{tree}?dir=a"' in html  # opened in place by tree.js
    assert re.search(r">a/</a>.*?3 files", html, re.S)  # every level below a
    assert "lakeweb/tree.js" in html and "<script>" not in html.split("<main", 1)[1]


def test_nested_folder_with_breadcrumbs(client_for, nested) -> None:
    html = page(client_for("viewer"), nested, dir="a/b").content.decode()
    top = reverse("catalog:dataset_detail", args=[nested.pk])
    assert f'href="{top}?dir=#files">top folder</a>' in html
    assert f'href="{top}?dir=a#files">a</a>' in html
    assert 'aria-current="page">b</li>' in html
    assert sha(nested, "a/b/two.txt") in html
    assert ">c/</a>" in html and sha(nested, "a/b/c/three.bin") not in html
    assert sha(nested, "a/one.csv") not in html


def test_fragment_is_the_folder_children_only(client_for, nested) -> None:
    response = fragment(client_for("viewer"), nested, dir="a/b/c")
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert sha(nested, "a/b/c/three.bin") in html
    assert "Download" in html and "Preview" not in html  # no preview for .bin


def test_preview_link_only_where_a_preview_exists(client_for, nested) -> None:
    html = fragment(client_for("viewer"), nested, dir="a").content.decode()
    csv_file = nested.files.get(path="a/one.csv")
    assert reverse("catalog:datafile_preview", args=[nested.pk, csv_file.pk]) in html
    html = fragment(client_for("viewer"), nested, dir="z").content.decode()
    empty = nested.files.get(path="z/empty.dat")
    assert reverse("catalog:datafile_download", args=[nested.pk, empty.pk]) in html
    assert "/preview/" not in html


def test_file_and_folder_names_are_escaped(client_for, nested) -> None:
    client = client_for("viewer")
    html = page(client, nested).content.decode()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;.txt" in html
    assert "<script>alert(1)<" not in html and "&lt;script&gt;alert(1)&lt;/" in html
    assert "?dir=%3Cscript%3Ealert%281%29%3C" in html  # the path is a query value, encoded
    html = fragment(client, nested, dir="<script>alert(1)<").content.decode()
    assert "<script>" not in html and "script&gt;.txt" in html


@pytest.mark.parametrize(
    "params, message",
    [
        ({"dir": "nope"}, "This dataset has no folder “nope”."),
        ({"dir": "a/b/two.txt"}, "This dataset has no folder “a/b/two.txt”."),
        ({"dir": "a\x00"}, "A folder path never contains control characters."),
        ({"dir": "a\u202eb"}, "A folder path never contains control characters."),
        ({"dir": " a"}, "This dataset has no folder “ a”."),
        ({"fpage": "x"}, "The page number must be a whole number from 1 up."),
        ({"fpage": "0"}, "The page number must be a whole number from 1 up."),
        ({"fpage": "2"}, "This folder has 1 page of files."),
    ],
)
def test_bad_folder_or_page_is_404_with_a_reason(client_for, nested, params, message) -> None:
    before = (DataFile.objects.count(), DataFolder.objects.count())
    client = client_for("viewer")
    for response in (page(client, nested, **params), fragment(client, nested, **params)):
        assert response.status_code == 404
        assert message in response.content.decode()
    assert (DataFile.objects.count(), DataFolder.objects.count()) == before


def test_slashes_around_the_folder_are_ignored_and_spaces_kept(client_for, member) -> None:
    dataset = upload_dataset(member, files={"run 1 /x.txt": b"x", "run 1/y.txt": b"y"})
    client = client_for("viewer")
    html = page(client, dataset, dir="/run 1 /").content.decode()
    assert sha(dataset, "run 1 /x.txt") in html and sha(dataset, "run 1/y.txt") not in html


def test_unknown_or_malformed_dataset_is_404(client_for) -> None:
    client = client_for("viewer")
    response = client.get(reverse("catalog:dataset_tree", args=[uuid.uuid4()]))
    assert response.status_code == 404 and "No such dataset." in response.content.decode()
    assert client.get("/datasets/not-a-uuid/tree/").status_code == 404


def test_deleted_dataset_shows_no_files(client_for, nested, curator) -> None:
    processed = promote_dataset(nested, curator)
    services.dataset_delete(dataset=processed, user=curator)
    client = client_for("viewer")
    html = page(client, processed).content.decode()
    assert "This dataset was deleted; its files are gone." in html
    assert "/files/" not in html and "/zip/" not in html
    response = fragment(client, processed)
    assert response.status_code == 404
    assert "This dataset was deleted; its files are gone." in response.content.decode()
    assert page(client, processed, dir="a").status_code == 404


TREE_TABLES = re.compile(r'"catalog_data(file|folder)"')


def test_a_ready_datasets_folder_pages_are_read_once(client_for, nested, curator) -> None:
    client = client_for("viewer")
    for params in ({}, {"dir": "a"}):
        page(client, nested, **params)
        with CaptureQueriesContext(connection) as again:
            html = page(client, nested, **params).content.decode()
        tree = [q["sql"] for q in again.captured_queries if TREE_TABLES.search(q["sql"])]
        assert not tree, tree  # its folders and files never change
    assert sha(nested, "a/one.csv") in html and "b/" in html
    # Deleting is a new state: nothing kept from before is shown.
    processed = promote_dataset(nested, curator)
    assert sha(nested, "README.md") in page(client, processed).content.decode()
    services.dataset_delete(dataset=processed, user=curator)
    html = page(client, processed).content.decode()
    assert "its files are gone" in html and "/files/" not in html
    assert fragment(client, processed).status_code == 404


def test_pages_list_subfolders_first_then_files(member) -> None:
    dataset = upload_dataset(member, files={"f1": b"1", "f2": b"2", "f3": b"3", "d/x": b"x"})
    top = dataset_folder(dataset=dataset, path="")
    pages = [folder_children(folder=top, page=n, per_page=2) for n in (1, 2)]
    assert [f.path for f in pages[0].subfolders] == ["d"]
    assert [e.file.path for e in pages[0].files] == ["f1"]
    assert pages[1].subfolders == [] and [e.file.path for e in pages[1].files] == ["f2", "f3"]
    assert (pages[0].pages, pages[0].entries, pages[0].next_page, pages[1].next_page) == (
        2,
        4,
        2,
        None,
    )


def test_breadcrumbs() -> None:
    assert [(c.name, c.path) for c in folder_breadcrumbs(path="a/b c/d")] == [
        ("", ""),
        ("a", "a"),
        ("b c", "a/b c"),
        ("d", "a/b c/d"),
    ]


# -- the number of queries does not grow with the number of files ------------


def many_files(count: int) -> dict[str, bytes]:
    """Half the files at the top, the rest spread over nested folders."""
    files = {f"top-{i:05}.txt": b"t" for i in range(count // 2)}
    files |= {f"d{i % 5}/s{i % 3}/f-{i:05}.txt": b"x" for i in range(count - count // 2)}
    return files


def queries_for(client, url: str, **params) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def test_query_count_does_not_grow_with_the_files(client_for, member) -> None:
    small = upload_dataset(member, files=many_files(50), name="Small")
    large = upload_dataset(member, files=many_files(2000), name="Large")
    client = client_for("viewer")
    counts = {}
    for dataset in (small, large):
        detail = reverse("catalog:dataset_detail", args=[dataset.pk])
        tree = reverse("catalog:dataset_tree", args=[dataset.pk])
        client.get(detail)  # warm the session and permission caches alike for both
        runs = [
            queries_for(client, detail),
            queries_for(client, detail, dir="d1/s2"),
            queries_for(client, tree, dir="d3"),
        ]
        counts[dataset.name] = [len(run) for run in runs]
        for sql in (sql for run in runs for sql in run if '"catalog_datafile"' in sql):
            # The files of one folder of one dataset, one page of them: never the whole table.
            assert '"dataset_id" =' in sql and '"folder" =' in sql and "LIMIT" in sql, sql
    assert counts["Small"] == counts["Large"]
    assert max(counts["Large"]) <= 20


def test_large_folder_is_paged(client_for, member) -> None:
    dataset = upload_dataset(member, files=many_files(1000), name="Large")
    client = client_for("viewer")
    first = page(client, dataset).content.decode()
    assert "Page 1 of 3 (505 entries)" in first  # 5 folders + 500 files, 200 a page
    assert "top-00194.txt" in first and "top-00195.txt" not in first
    last = page(client, dataset, fpage="3").content.decode()
    assert "top-00495.txt" in last and "top-00499.txt" in last and "top-00394.txt" not in last
    assert 'rel="prev"' in last and 'rel="next"' not in last


# -- in a real browser: folders open in place (static/lakeweb/tree.js) -------


@pytest.fixture
def browser_page(chromium_page, settings):
    settings.LAKEWEB_PUBLIC_BROWSING = True  # no login form to drive: the tree is the subject
    return chromium_page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_folders_open_and_page_in_place(browser_page, live_server, member) -> None:
    files = dict(NESTED) | {f"big/f-{i:03}.txt": b"x" for i in range(205)}
    dataset = upload_dataset(member, files=files, name="Nested")
    url = live_server.url + reverse("catalog:dataset_detail", args=[dataset.pk])
    page = browser_page
    page.goto(url)

    folder_a = page.locator("details", has=page.locator("a.tree-open", has_text="a/")).first
    folder_a.locator("a.tree-open").first.click()
    folder_a.locator(".tree-name", has_text="one.csv").wait_for()
    folder_b = folder_a.locator("details", has=page.locator("a.tree-open", has_text="b/"))
    folder_b.locator("a.tree-open").click()
    folder_b.locator(".tree-name", has_text="two.txt").wait_for()
    assert page.url == url  # opened in place, not by leaving the page

    folder_a.locator("a.tree-open").first.click()
    assert folder_a.evaluate("d => d.open") is False

    folder_big = page.locator("details", has=page.locator("a.tree-open", has_text="big/"))
    folder_big.locator("a.tree-open").click()
    folder_big.locator("text=Page 1 of 2").wait_for()
    assert folder_big.locator(".tree-name", has_text="f-204.txt").count() == 0
    folder_big.locator("a[rel=next]").click()
    folder_big.locator(".tree-name", has_text="f-204.txt").wait_for()
    assert folder_big.locator(".tree-name", has_text="f-000.txt").count() == 0
    assert page.url == url
