from __future__ import annotations

import hashlib
import io
import os
import pwd
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from catalog.models import (
    Activity,
    DataFile,
    Dataset,
    DatasetStatus,
    FieldType,
    MetadataForm,
    ProvenanceEvent,
    Source,
)
from catalog.services import DatasetDraft, form_version_current
from catalog.services.ingest import dataset_ingest
from conftest import make_user, read_object
from lakeweb.roles import MEMBER
from lakeweb.storage import StorageError, layer_store

from .factories import microscopy_form

pytestmark = pytest.mark.django_db

NFD_NAME = "cafe\u0301.txt"  # as macOS writes it; stored in NFC
FOLDER = {
    "frame 001.tif": b"\x49\x49\x2a\x00" + b"a" * 3000,
    "día 2/señal ü.txt": "Température 37 °C\n".encode(),
    "nested/deeper/deepest/data.bin": bytes(range(256)) * 4,
    "nested/empty.dat": b"",
    NFD_NAME: b"espresso\n",
}
STORED = {("café.txt" if path == NFD_NAME else path): data for path, data in FOLDER.items()}
METADATA = ["sample=HeLa-1", "magnification=40", "stain=DAPI"]


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for path, data in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


@pytest.fixture
def form() -> MetadataForm:
    return microscopy_form()


def ingest(
    origin: object, form: MetadataForm, *args: str, metadata: list[str] = METADATA
) -> tuple[str, str]:
    """Run the command; its stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    argv = [str(origin), "--source", "instrument", "--form", form.name, *args]
    call_command("ingest", *argv, "--metadata", *metadata, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def assert_stored(dataset: Dataset, files: dict[str, bytes]) -> None:
    assert dataset.status == DatasetStatus.READY and dataset.sealed_at is not None
    assert dataset.file_count == len(files)
    assert dataset.total_size == sum(len(data) for data in files.values())
    assert sorted(dataset.files.values_list("path", flat=True)) == sorted(files)
    for datafile in dataset.files.all():
        data = files[datafile.path]
        assert datafile.size == len(data)
        assert datafile.sha256 == hashlib.sha256(data).hexdigest()
        assert read_object("raw", datafile.storage_key) == data


def assert_nothing_stored() -> None:
    assert not Dataset.objects.exists() and not DataFile.objects.exists()
    assert list(layer_store("raw").list_keys("")) == []


def test_ingest_a_local_folder(lake: str, users, form, tmp_path: Path) -> None:
    folder = write_tree(tmp_path / "run 7", FOLDER)

    out, err = ingest(folder, form, "--tag", "microscopy", "time-lapse", "--workers", "3")

    dataset = Dataset.objects.get()
    assert_stored(dataset, STORED)
    assert dataset.name == "run 7" and dataset.layer == "raw"
    assert dataset.source.slug == "instrument" and dataset.owner == users["admin"]
    assert dataset.form_version == form_version_current(form=form)
    assert dataset.metadata["experiments"] == [
        {"sample": "HeLa-1", "magnification": 40, "stain": "DAPI"}
    ]
    assert sorted(dataset.tags.values_list("name", flat=True)) == ["microscopy", "time-lapse"]
    assert f"dataset: {dataset.pk}" in out
    assert f"files: {len(FOLDER)}" in out
    assert f"bytes: {dataset.total_size} " in out
    assert f"manifest: {dataset.manifest_digest}" in out
    assert "\r[" in err and f"{len(FOLDER)}/{len(FOLDER)} files" in err


def test_ingest_records_collection_provenance_via_ingest(users, member, form, tmp_path) -> None:
    folder = write_tree(tmp_path / "run", {"a.txt": b"a"})

    ingest(folder, form, "--owner", "Member@Lab.example", "--name", "Run A")

    dataset = Dataset.objects.get(name="Run A")
    assert dataset.owner == member
    event = ProvenanceEvent.objects.get(dataset=dataset)
    assert event.activity == Activity.COLLECTION and event.actor == member
    assert event.target_layer == "raw"
    assert event.parameters == {"files": 1, "bytes": 1, "via": "ingest", "origin": str(folder)}


@pytest.fixture
def form_with_lists(form: MetadataForm, metadata_field_factory) -> MetadataForm:
    """The microscopy form plus a multiple-choice and a yes/no field."""
    metadata_field_factory(
        form=form,
        order=4,
        name="channels",
        prompt="Channels",
        field_type=FieldType.MULTIPLE_CHOICE,
        choices="red\ngreen\nblue",
    )
    metadata_field_factory(
        form=form, order=5, name="fixed", prompt="Fixed", field_type=FieldType.BOOLEAN
    )
    return form


def test_multiple_choice_and_yes_no_fields_from_pairs(
    users, form_with_lists, tmp_path: Path
) -> None:
    form = form_with_lists
    folder = write_tree(tmp_path / "run", {"a.txt": b"a"})

    ingest(folder, form, metadata=[*METADATA, "channels=red", "channels=blue", "fixed=no"])

    experiment = Dataset.objects.get().metadata["experiments"][0]
    assert experiment["channels"] == ["red", "blue"] and experiment["fixed"] is False


def test_a_yes_no_field_refuses_other_words(users, form_with_lists, tmp_path: Path) -> None:
    form = form_with_lists
    folder = write_tree(tmp_path / "run", {"a.txt": b"a"})

    with pytest.raises(CommandError, match="Metadata 'fixed' is a yes/no field, not 'maybe'"):
        ingest(folder, form, metadata=[*METADATA, "fixed=maybe"])
    assert_nothing_stored()


def _source_bucket(objects: dict[str, bytes]) -> str:
    """A bucket outside the lake, on the same S3 endpoint."""
    client = layer_store("raw").client
    bucket = f"src-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    for key, data in objects.items():
        client.put_object(Bucket=bucket, Key=key, Body=data)
    return bucket


def test_ingest_an_s3_prefix(s3_lake, users, form) -> None:
    objects = {f"runs/2024/{path}": data for path, data in STORED.items()}
    objects["runs/2024/notes/"] = b""  # a folder marker, not a file
    objects["runs/20245/not-this.txt"] = b"sibling prefix"
    objects["other/not-this.txt"] = b"outside"
    bucket = _source_bucket(objects)

    out, _ = ingest(f"s3://{bucket}/runs/2024", form, "--external-id", "GSE2034")

    dataset = Dataset.objects.get()
    assert_stored(dataset, STORED)
    assert dataset.name == "2024" and dataset.external_id == "GSE2034"
    event = ProvenanceEvent.objects.get(dataset=dataset)
    assert event.parameters["via"] == "ingest"
    assert event.parameters["origin"] == f"s3://{bucket}/runs/2024/"
    assert f"dataset: {dataset.pk}" in out


def _symlink(root: Path) -> None:
    (root / "link.txt").symlink_to(root / "ok.txt")


def _fifo(root: Path) -> None:
    os.mkfifo(root / "pipe")


def _folder_link(root: Path) -> None:
    (root / "sub").mkdir()
    (root / "sub" / "b.txt").write_bytes(b"b")
    (root / "linked").symlink_to(root / "sub", target_is_directory=True)


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"bad\x01name.txt": b"x"}, "control characters"),
        ({"line\nbreak.txt": b"x"}, "control characters"),
        ({"café.txt": b"x", NFD_NAME: b"y"}, "differ only in Unicode normalisation"),
        (_symlink, "'link.txt' is a symbolic link"),
        (_folder_link, "'linked' is a symbolic link"),
        (_fifo, "'pipe' is not a regular file"),
    ],
)
def test_bad_names_and_links_are_refused_and_nothing_is_stored(
    users, form, tmp_path: Path, extra, message: str
) -> None:
    folder = write_tree(tmp_path / "bad", {"ok.txt": b"ok"})
    if callable(extra):
        extra(folder)
    else:
        write_tree(folder, extra)

    with pytest.raises(CommandError, match=re.escape(message)):
        ingest(folder, form)
    assert_nothing_stored()


def test_an_empty_folder_is_refused(users, form, tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    (folder / "only" / "folders").mkdir(parents=True)

    with pytest.raises(CommandError, match="has no files to ingest"):
        ingest(folder, form)
    assert_nothing_stored()


def test_a_missing_folder_is_refused(users, form, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="does not exist"):
        ingest(tmp_path / "nowhere", form)
    assert_nothing_stored()


def test_an_empty_or_missing_s3_prefix_is_refused(s3_lake, users, form) -> None:
    bucket = _source_bucket({"elsewhere/a.txt": b"a", "runs/": b""})

    with pytest.raises(CommandError, match="has no files to ingest"):
        ingest(f"s3://{bucket}/runs/", form)
    with pytest.raises(CommandError, match=re.escape("Cannot list s3://no-such-bucket-")):
        ingest(f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/runs/", form)
    assert_nothing_stored()


def test_metadata_failing_the_form_is_refused(lake: str, users, form, tmp_path: Path) -> None:
    folder = write_tree(tmp_path / "run", {"a.txt": b"a"})

    with pytest.raises(CommandError) as info:
        ingest(folder, form, metadata=["sample=", "magnification=5000", "stain=purple"])

    text = str(info.value)
    assert "Sample name: This field is required." in text
    assert "Magnification: Ensure this value is less than or equal to 1000." in text
    assert "Stain: Select a valid choice. purple is not one of the available choices." in text
    assert_nothing_stored()


@pytest.mark.parametrize(
    "metadata, message",
    [
        (["sample=x", "colour=red"], "Metadata key 'colour' is not a field of form"),
        (["sample"], "Metadata 'sample' is not of the form key=value."),
        (["sample=HeLa-1", "sample=HeLa-2"], "Metadata key 'sample' is given twice."),
    ],
)
def test_unknown_or_malformed_metadata_is_refused(
    users, form, tmp_path: Path, metadata: list[str], message: str
) -> None:
    folder = write_tree(tmp_path / "run", {"a.txt": b"a"})

    with pytest.raises(CommandError, match=re.escape(message)):
        ingest(folder, form, metadata=metadata)
    assert_nothing_stored()


# A command line in Latin-1 on a UTF-8 system: Python reads the byte 0xFF of
# "caf\xff" as the lone surrogate U+DCFF, which no database can store.
UNDECODED = "caf\udcff"


@pytest.mark.parametrize(
    "args, metadata, message",
    [
        ([], [f"sample={UNDECODED}"], "Sample name: Holds a character that is not UTF-8"),
        (["--name", UNDECODED], METADATA, "Name holds a NUL or a character that is not UTF-8"),
        (["--description", f"a\x00{UNDECODED}"], METADATA, "Description holds a NUL"),
        (["--external-id", UNDECODED], METADATA, "External id holds a NUL"),
        (["--tag", "ok", UNDECODED], METADATA, "A tag holds a NUL"),
    ],
)
def test_text_that_cannot_be_stored_is_refused(
    lake: str, users, form, tmp_path: Path, args: list[str], metadata: list[str], message: str
) -> None:
    folder = write_tree(tmp_path / "run", {"a.txt": b"a"})

    with pytest.raises(CommandError, match=re.escape(message)):
        ingest(folder, form, *args, metadata=metadata)
    assert_nothing_stored()


def test_unknown_source_is_refused(users, form, tmp_path: Path) -> None:
    folder = write_tree(tmp_path / "run", {"a.txt": b"a"})

    with pytest.raises(CommandError, match=re.escape("Unknown source 'telescope'")):
        call_command("ingest", str(folder), "--source", "telescope", "--form", form.name)
    assert_nothing_stored()


@pytest.mark.parametrize("given", ["No such form", "999999"])
def test_unknown_form_is_refused(users, form, tmp_path: Path, given: str) -> None:
    folder = write_tree(tmp_path / "run", {"a.txt": b"a"})

    with pytest.raises(CommandError, match=re.escape(f"Unknown metadata form '{given}'")):
        call_command("ingest", str(folder), "--source", "instrument", "--form", given)
    assert_nothing_stored()


def test_form_by_id_is_accepted_and_retired_form_refused(users, form, tmp_path: Path) -> None:
    folder = write_tree(tmp_path / "run", {"a.txt": b"a"})
    args = ["--source", "instrument", "--form", str(form.pk), "--metadata", *METADATA]
    form.retired = True
    form.save()

    with pytest.raises(CommandError, match=re.escape(f"Metadata form '{form.name}' is retired")):
        call_command("ingest", str(folder), *args, stdout=io.StringIO())
    assert_nothing_stored()

    form.retired = False
    form.save()
    call_command("ingest", str(folder), *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert Dataset.objects.get().form_version.form == form


@pytest.mark.parametrize(
    "owner, message",
    [
        ("viewer@lab.example", "may not add datasets"),
        ("nobody@lab.example", "No active user has the email nobody@lab.example"),
    ],
)
def test_owner_must_exist_and_may_add_datasets(users, form, tmp_path, owner, message) -> None:
    folder = write_tree(tmp_path / "run", {"a.txt": b"a"})

    with pytest.raises(CommandError, match=re.escape(message)):
        ingest(folder, form, "--owner", owner)
    assert_nothing_stored()


def test_without_a_superuser_an_owner_is_required(django_user_model, form, tmp_path: Path) -> None:
    make_user(django_user_model, MEMBER)
    folder = write_tree(tmp_path / "run", {"a.txt": b"a"})

    with pytest.raises(CommandError, match="no superuser"):
        ingest(folder, form)
    assert_nothing_stored()


def _vanish(path: Path) -> Callable[[int, int, int, int], None]:
    """A progress callback that deletes a file before the copy starts."""

    def progress(done_files: int, total_files: int, done_bytes: int, total_bytes: int) -> None:
        if path.exists():
            path.unlink()

    return progress


def test_a_read_failure_midway_fails_the_dataset_and_removes_its_files(
    lake: str, member, form, tmp_path: Path
) -> None:
    folder = write_tree(tmp_path / "run", {f"f{i}.txt": b"x" * 100 for i in range(6)})

    with pytest.raises(StorageError, match=re.escape("Cannot read 'f3.txt'")):
        draft = DatasetDraft(
            owner=member,
            name="vanishing",
            source=Source.objects.get(slug="instrument"),
            experiments=[{"sample": "x"}],
            form_version=form_version_current(form=form),
        )
        dataset_ingest(
            draft=draft, origin=str(folder), workers=2, progress=_vanish(folder / "f3.txt")
        )

    dataset = Dataset.objects.get()
    assert dataset.status == DatasetStatus.FAILED and dataset.sealed_at is None
    assert "f3.txt" in dataset.failure_reason
    assert not dataset.files.exists()
    assert list(layer_store("raw").list_keys(dataset.storage_prefix)) == []
    assert not ProvenanceEvent.objects.filter(dataset=dataset).exists()


@pytest.fixture
def open_path() -> Iterator[Path]:
    """A folder any user may enter (pytest's tmp_path is for its owner alone)."""
    path = Path(tempfile.mkdtemp(prefix="lakeweb-ingest-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@contextmanager
def without_root() -> Iterator[None]:
    """Run the body as the unprivileged user "nobody" if the tests run as root.

    Real, effective and file-system ids all become nobody's, with no
    supplementary groups; root stays the saved set-user-id, so the ids come
    back afterwards. For a user that is not root this does nothing.
    """
    if os.geteuid() != 0:
        yield
        return
    nobody = pwd.getpwnam("nobody")
    uids, gids, groups = os.getresuid(), os.getresgid(), os.getgroups()
    os.setgroups([])
    os.setresgid(nobody.pw_gid, nobody.pw_gid, gids[2])
    os.setresuid(nobody.pw_uid, nobody.pw_uid, uids[2])
    try:
        yield
    finally:
        os.setresuid(*uids)
        os.setresgid(*gids)
        os.setgroups(groups)


def test_an_unreadable_file_is_refused(users, form, open_path: Path) -> None:
    """A file its reader may not read is refused, by name, before anything is stored.

    The file is made unreadable with permission bits (chmod 000), as it is in
    the field. Root reads it all the same (CAP_DAC_OVERRIDE), and CI runs as
    root, so there the command runs as "nobody" for the length of the call
    (``without_root``): the kernel's own permission check refuses the read,
    and the real check in ``LocalFolder`` sees it. The alternatives were
    worse: a FIFO blocks, a dangling symlink or a folder is refused for
    another reason (tested above), and patching ``open`` or ``os.access``
    would stand in for the very check under test.
    """
    folder = write_tree(open_path / "run", {"a.txt": b"a", "secret.txt": b"s"})
    folder.chmod(0o755)
    (folder / "a.txt").chmod(0o644)
    (folder / "secret.txt").chmod(0)

    with pytest.raises(CommandError) as refused, without_root():
        ingest(folder, form)

    assert str(refused.value) == "'secret.txt' cannot be read: permission denied."
    assert_nothing_stored()
