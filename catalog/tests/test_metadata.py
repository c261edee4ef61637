"""Metadata forms (SPEC §2): field types, validation, versions, admin, mandatory keys."""

from __future__ import annotations

import io
import json
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from catalog import selectors, services
from catalog.metadata import metadata_form_class, yes_no
from catalog.models import (
    Dataset,
    FieldType,
    MetadataField,
    MetadataForm,
    MetadataFormVersion,
    Source,
)

from .factories import MetadataFieldFactory, MetadataFormFactory

pytestmark = pytest.mark.django_db

PROMPT = "Measured value"
ADD_URL = reverse("admin:catalog_metadataform_add")
CHANGELIST_URL = reverse("admin:catalog_metadataform_changelist")


def _form(*specs: dict[str, Any], name: str | None = None) -> MetadataForm:
    """A form with one MetadataField per spec, ordered as given unless a spec says."""
    form = MetadataFormFactory(**({"name": name} if name else {}))
    for order, spec in enumerate(specs, start=1):
        MetadataFieldFactory(form=form, **{"order": order, **spec})
    return form


def _version_of(**spec: Any) -> MetadataFormVersion:
    """The published version of a one-field form (field ``value``)."""
    form = _form({"name": "value", "prompt": PROMPT, **spec})
    return services.form_version_publish(form=form)


def _clean(version: MetadataFormVersion, value: Any) -> dict[str, Any]:
    return services.metadata_clean(version=version, values={"value": value})


def _refusal(version: MetadataFormVersion, values: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as info:
        services.metadata_clean(version=version, values=values)
    return info.value.messages


def _upload(owner, version: MetadataFormVersion | None, experiments: list[dict[str, Any]]):
    draft = services.DatasetDraft(
        owner=owner,
        name="Assay run",
        source=Source.objects.get(slug="upload"),
        experiments=experiments,
        form_version=version,
    )
    items = [services.UploadedItem(path="run/a.txt", stream=io.BytesIO(b"data"))]
    return services.dataset_upload(draft=draft, items=items)


# --- every field type: accepted, stored JSON-ready, refused with the prompt -------------

VALID = [
    pytest.param(FieldType.TEXT, {}, "HeLa-1", "HeLa-1", id="text"),
    pytest.param(FieldType.LONG_TEXT, {}, "line one\nline two", "line one\nline two", id="long"),
    # As a browser sends a textarea: CRLF (old Macs: CR).
    pytest.param(FieldType.LONG_TEXT, {}, "one\r\ntwo\rthree", "one\ntwo\nthree", id="long-crlf"),
    pytest.param(FieldType.INTEGER, {}, "40", 40, id="integer"),
    pytest.param(FieldType.INTEGER, {}, 40, 40, id="integer-from-json"),
    pytest.param(FieldType.DECIMAL, {}, "2.50", "2.50", id="decimal"),
    pytest.param(FieldType.DECIMAL, {}, "1e3", "1000", id="decimal-exponent"),
    pytest.param(FieldType.DATE, {}, "2024-05-01", "2024-05-01", id="date"),
    pytest.param(
        FieldType.DATETIME, {}, "2024-05-01T10:30", "2024-05-01T10:30:00+00:00", id="datetime"
    ),
    pytest.param(
        FieldType.DATETIME,
        {},
        "2024-05-01 10:30:00+02:00",
        "2024-05-01T10:30:00+02:00",
        id="datetime-offset",
    ),
    pytest.param(FieldType.BOOLEAN, {}, "on", True, id="boolean-on"),
    pytest.param(FieldType.BOOLEAN, {}, True, True, id="boolean-json"),
    pytest.param(FieldType.BOOLEAN, {}, "false", False, id="boolean-false"),
    pytest.param(FieldType.CHOICE, {"choices": "DAPI\nGFP"}, "GFP", "GFP", id="choice"),
    pytest.param(
        FieldType.MULTIPLE_CHOICE,
        {"choices": "DAPI\nGFP\nRFP"},
        ["DAPI", "RFP"],
        ["DAPI", "RFP"],
        id="multiple-choice",
    ),
    pytest.param(FieldType.URL, {}, "https://lab.example/run/1", "https://lab.example/run/1"),
    pytest.param(FieldType.URL, {}, "lab.example/run", "https://lab.example/run", id="url-bare"),
    pytest.param(FieldType.EMAIL, {}, "pi@lab.example", "pi@lab.example", id="email"),
]


@pytest.mark.parametrize(("field_type", "config", "given", "stored"), VALID)
def test_a_valid_value_is_stored_json_ready(field_type, config, given, stored) -> None:
    version = _version_of(field_type=field_type, **config)

    cleaned = _clean(version, given)

    assert cleaned == {"value": stored}
    assert type(cleaned["value"]) is type(stored)
    assert json.loads(json.dumps(cleaned)) == cleaned


UNSTORABLE = "Holds a character that is not UTF-8, which cannot be stored."
INVALID = [
    pytest.param(FieldType.INTEGER, {}, "forty", "Enter a whole number.", id="integer-word"),
    pytest.param(FieldType.INTEGER, {}, "4.5", "Enter a whole number.", id="integer-fraction"),
    pytest.param(FieldType.DECIMAL, {}, "2,5", "Enter a number.", id="decimal-comma"),
    pytest.param(FieldType.DECIMAL, {}, "NaN", "Enter a number.", id="decimal-nan"),
    pytest.param(FieldType.DATE, {}, "2024-13-01", "Enter a valid date.", id="date"),
    pytest.param(FieldType.DATETIME, {}, "yesterday", "Enter a valid date/time.", id="datetime"),
    pytest.param(
        FieldType.CHOICE,
        {"choices": "DAPI\nGFP"},
        "RFP",
        "Select a valid choice. RFP is not one of the available choices.",
        id="choice",
    ),
    pytest.param(
        FieldType.MULTIPLE_CHOICE,
        {"choices": "DAPI\nGFP"},
        ["DAPI", "RFP"],
        "Select a valid choice. RFP is not one of the available choices.",
        id="multiple-choice",
    ),
    pytest.param(
        FieldType.MULTIPLE_CHOICE,
        {"choices": "DAPI\nGFP"},
        "DAPI",
        "Enter a list of values.",
        id="multiple-choice-not-a-list",
    ),
    pytest.param(FieldType.URL, {}, "not a url", "Enter a valid URL.", id="url"),
    pytest.param(FieldType.TEXT, {}, "caf\udcff", UNSTORABLE, id="text-surrogate"),
    pytest.param(FieldType.LONG_TEXT, {}, "a\n\ud800", UNSTORABLE, id="long-surrogate"),
    pytest.param(FieldType.TEXT, {}, "a\x00b", "Null characters are not allowed.", id="text-nul"),
    pytest.param(FieldType.URL, {}, "https://lab.example/\udcff", UNSTORABLE, id="url-surrogate"),
    pytest.param(FieldType.EMAIL, {}, "pi@", "Enter a valid email address.", id="email"),
    pytest.param(
        FieldType.TEXT,
        {"pattern": "[A-Z]+"},
        "abc",
        "Must match the pattern [A-Z]+.",
        id="text-pattern",
    ),
    pytest.param(
        FieldType.LONG_TEXT,
        {"pattern": "[a-z ]+"},
        "ABC",
        "Must match the pattern [a-z ]+.",
        id="long-text-pattern",
    ),
]


@pytest.mark.parametrize(("field_type", "config", "given", "message"), INVALID)
def test_an_invalid_value_is_refused_naming_the_prompt(field_type, config, given, message) -> None:
    version = _version_of(field_type=field_type, **config)

    assert _refusal(version, {"value": given}) == [f"{PROMPT}: {message}"]


def test_every_invalid_field_is_reported_with_its_own_prompt() -> None:
    form = _form(
        {"name": "reads", "prompt": "Read count", "field_type": FieldType.INTEGER},
        {"name": "contact", "prompt": "Contact e-mail", "field_type": FieldType.EMAIL},
    )
    version = services.form_version_publish(form=form)

    messages = _refusal(version, {"reads": "many", "contact": "nobody"})

    assert messages == [
        "Read count: Enter a whole number.",
        "Contact e-mail: Enter a valid email address.",
    ]


EMPTY = {
    FieldType.TEXT: "",
    FieldType.LONG_TEXT: "",
    FieldType.INTEGER: None,
    FieldType.DECIMAL: None,
    FieldType.DATE: None,
    FieldType.DATETIME: None,
    FieldType.CHOICE: "",
    FieldType.MULTIPLE_CHOICE: [],
    FieldType.URL: "",
    FieldType.EMAIL: "",
}


@pytest.mark.parametrize("field_type", list(EMPTY))
def test_a_required_field_must_be_filled(field_type) -> None:
    version = _version_of(field_type=field_type, required=True, choices="a\nb")

    for missing in ({}, {"value": ""}):
        assert _refusal(version, missing) == [f"{PROMPT}: This field is required."]


@pytest.mark.parametrize(("field_type", "empty"), list(EMPTY.items()))
def test_an_optional_field_may_be_left_empty(field_type, empty) -> None:
    version = _version_of(field_type=field_type, choices="a\nb")

    assert services.metadata_clean(version=version, values={}) == {"value": empty}


def test_an_unticked_boolean_is_stored_as_no() -> None:
    version = _version_of(field_type=FieldType.BOOLEAN)

    assert services.metadata_clean(version=version, values={}) == {"value": False}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("1", None),
        ("1000", None),
        ("0", "Ensure this value is greater than or equal to 1."),
        ("1001", "Ensure this value is less than or equal to 1000."),
    ],
)
def test_integer_min_and_max_are_inclusive(given, message) -> None:
    version = _version_of(field_type=FieldType.INTEGER, min_value=1, max_value=1000)

    if message is None:
        assert _clean(version, given) == {"value": int(given)}
    else:
        assert _refusal(version, {"value": given}) == [f"{PROMPT}: {message}"]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("0.5", None),
        ("2.5", None),
        ("0.49", "Ensure this value is greater than or equal to 0.5."),
        ("2.51", "Ensure this value is less than or equal to 2.5."),
    ],
)
def test_decimal_min_and_max_are_inclusive_and_read_plainly(given, message) -> None:
    version = _version_of(field_type=FieldType.DECIMAL, min_value="0.5", max_value="2.5")

    if message is None:
        assert _clean(version, given) == {"value": given}
    else:
        assert _refusal(version, {"value": given}) == [f"{PROMPT}: {message}"]


@pytest.mark.parametrize(
    ("pattern", "given", "accepted"),
    [
        ("[A-Z]{2}-[0-9]+", "AB-12", True),
        ("[A-Z]{2}-[0-9]+", "xAB-12", False),
        ("[A-Z]{2}-[0-9]+", "AB-12x", False),
        ("[A-Z]{2}-[0-9]+", "AB-12\nAB-13", False),
        ("DAPI|GFP", "GFP", True),
        ("DAPI|GFP", "DAPIGFP", False),
        ("DAPI|GFP", "GFP2", False),
    ],
)
def test_a_text_pattern_must_match_the_whole_value(pattern, given, accepted) -> None:
    version = _version_of(field_type=FieldType.TEXT, pattern=pattern)

    if accepted:
        assert _clean(version, given) == {"value": given}
    else:
        assert _refusal(version, {"value": given}) == [
            f"{PROMPT}: Must match the pattern {pattern}."
        ]


def test_choices_are_one_per_line_trimmed() -> None:
    version = _version_of(field_type=FieldType.CHOICE, choices=" DAPI \n\nGFP\r\n")

    assert version.fields[0]["choices"] == ["DAPI", "GFP"]
    field = metadata_form_class(version.fields)().fields["value"]
    assert [value for value, _ in field.choices] == ["", "DAPI", "GFP"]


# --- what the upload page shows: defaults, prompts, help text, order --------------------

DEFAULTS = [
    (FieldType.TEXT, {}, "HeLa", "HeLa"),
    (FieldType.LONG_TEXT, {}, "Fixed in PFA", "Fixed in PFA"),
    (FieldType.INTEGER, {}, "40", "40"),
    (FieldType.DECIMAL, {}, "2.5", "2.5"),
    (FieldType.DATE, {}, "2024-05-01", "2024-05-01"),
    (FieldType.DATETIME, {}, "2024-05-01T10:30", "2024-05-01T10:30"),
    (FieldType.BOOLEAN, {}, "yes", True),
    (FieldType.CHOICE, {"choices": "DAPI\nGFP"}, "GFP", "GFP"),
    (FieldType.MULTIPLE_CHOICE, {"choices": "DAPI\nGFP\nRFP"}, "DAPI, RFP", ["DAPI", "RFP"]),
    (FieldType.URL, {}, "https://lab.example", "https://lab.example"),
    (FieldType.EMAIL, {}, "pi@lab.example", "pi@lab.example"),
]


@pytest.mark.parametrize(("field_type", "config", "default", "initial"), DEFAULTS)
def test_the_default_is_the_initial_value_of_the_form_field(
    field_type, config, default, initial
) -> None:
    version = _version_of(field_type=field_type, default=default, **config)

    form = metadata_form_class(version.fields)()

    assert form.fields["value"].initial == initial
    assert form["value"].value() == initial


def test_a_default_that_is_submitted_unchanged_is_valid() -> None:
    version = _version_of(field_type=FieldType.INTEGER, default="40", min_value=1, max_value=100)

    initial = metadata_form_class(version.fields)()["value"].value()

    assert _clean(version, initial) == {"value": 40}


def test_prompt_and_help_text_are_the_label_and_help_text_escaped() -> None:
    version = _version_of(prompt="<b>Temperature</b> (°C)", help_text="Bath <i>temperature</i>")

    form = metadata_form_class(version.fields)()
    rendered = form.as_div()

    assert form.fields["value"].label == "<b>Temperature</b> (°C)"
    assert form.fields["value"].help_text == "Bath &lt;i&gt;temperature&lt;/i&gt;"
    assert "&lt;b&gt;Temperature&lt;/b&gt; (°C)" in rendered
    assert "Bath &lt;i&gt;temperature&lt;/i&gt;" in rendered
    assert "<b>" not in rendered and "<i>" not in rendered


def test_fields_follow_their_order_then_creation() -> None:
    form = _form(
        {"name": "third", "order": 3},
        {"name": "first", "order": 1},
        {"name": "second_a", "order": 2},
        {"name": "second_b", "order": 2},
    )

    version = services.form_version_publish(form=form)

    names = ["first", "second_a", "second_b", "third"]
    assert [spec["name"] for spec in version.fields] == names
    assert list(metadata_form_class(version.fields)().fields) == names
    cleaned = services.metadata_clean(version=version, values={})
    assert list(cleaned) == names


# --- versions ---------------------------------------------------------------------------


def test_publishing_without_changes_keeps_the_version() -> None:
    form = _form({"name": "sample", "prompt": "Sample"})

    first = services.form_version_publish(form=form)
    form.description = "Renamed, retitled: no field changed"
    form.save()
    again = services.form_version_publish(form=form)

    assert first.number == 1 and again.pk == first.pk
    assert form.versions.count() == 1
    assert services.form_version_current(form=form) == first


def test_form_version_current_publishes_a_new_form_on_first_use() -> None:
    form = _form({"name": "sample", "prompt": "Sample"})

    version = services.form_version_current(form=form)

    assert version.number == 1 and version.fields[0]["name"] == "sample"


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "Sample name"},
        {"help_text": "As on the tube"},
        {"required": True},
        {"order": 9},
        {"field_type": FieldType.LONG_TEXT},
        {"default": "HeLa"},
        {"pattern": "[A-Z].*"},
    ],
)
def test_changing_a_field_makes_the_next_version(change) -> None:
    form = _form({"name": "sample", "prompt": "Sample"}, {"name": "stain", "prompt": "Stain"})
    first = services.form_version_publish(form=form)
    MetadataField.objects.filter(form=form, name="sample").update(**change)

    second = services.form_version_publish(form=form)

    assert second.number == 2
    first.refresh_from_db()
    assert first.fields[0]["prompt"] == "Sample" and first.fields[0]["help_text"] == ""
    assert services.form_version_current(form=form) == second


def test_adding_and_removing_fields_makes_the_next_version() -> None:
    form = _form({"name": "sample", "prompt": "Sample"})
    services.form_version_publish(form=form)
    MetadataFieldFactory(form=form, order=2, name="stain", prompt="Stain")
    assert services.form_version_publish(form=form).number == 2

    form.fields.get(name="stain").delete()

    assert services.form_version_publish(form=form).number == 3


def _edit_to_version_2(form: MetadataForm) -> MetadataFormVersion:
    MetadataField.objects.filter(form=form, name="sample").update(prompt="Specimen ID")
    form.fields.get(name="stain").delete()
    MetadataFieldFactory(form=form, order=0, name="operator", prompt="Operator")
    return services.form_version_publish(form=form)


def test_a_dataset_keeps_the_version_it_was_filled_with(member) -> None:
    form = _form(
        {"name": "sample", "prompt": "Sample name", "required": True},
        {"name": "stain", "prompt": "Stain", "field_type": FieldType.CHOICE, "choices": "DAPI"},
    )
    v1 = services.form_version_current(form=form)
    old = _upload(member, v1, [{"sample": "HeLa-1", "stain": "DAPI"}, {"sample": "HeLa-2"}])

    v2 = _edit_to_version_2(form)
    new = _upload(member, services.form_version_current(form=form), [{"sample": "HeLa-3"}])

    old.refresh_from_db()
    assert (old.form_version, new.form_version) == (v1, v2)
    assert v2.number == 2
    assert selectors.dataset_metadata_rows(dataset=old) == [
        [selectors.MetadataRow("Sample name", "HeLa-1"), selectors.MetadataRow("Stain", "DAPI")],
        [selectors.MetadataRow("Sample name", "HeLa-2"), selectors.MetadataRow("Stain", "—")],
    ]
    assert selectors.dataset_metadata_rows(dataset=new) == [
        [selectors.MetadataRow("Operator", "—"), selectors.MetadataRow("Specimen ID", "HeLa-3")]
    ]


def test_metadata_rows_follow_the_form_order_whatever_order_the_json_keeps(member) -> None:
    form = _form(
        {"name": "sample_name", "prompt": "Sample name"},
        {"name": "ph", "prompt": "pH", "field_type": FieldType.DECIMAL},
        {"name": "stained", "prompt": "Stained", "field_type": FieldType.BOOLEAN},
    )
    dataset = _upload(
        member, services.form_version_current(form=form), [{"sample_name": "A", "ph": "7.4"}]
    )
    # PostgreSQL's jsonb hands keys back shortest first, not as they were written.
    reordered = {**dataset.metadata, "experiments": [{"ph": "7.4", "stained": False}]}
    reordered["experiments"][0]["sample_name"] = "A"
    reordered["experiments"][0]["extra_key"] = "kept"
    Dataset.objects.filter(pk=dataset.pk).update(metadata=reordered)
    dataset.refresh_from_db()

    rows = selectors.dataset_metadata_rows(dataset=dataset)

    assert rows == [
        [
            selectors.MetadataRow("Sample name", "A"),
            selectors.MetadataRow("pH", "7.4"),
            selectors.MetadataRow("Stained", "no"),
            selectors.MetadataRow("extra_key", "kept"),
        ]
    ]


# --- mandatory metadata -----------------------------------------------------------------


def test_mandatory_metadata_is_filled_in_when_omitted() -> None:
    source = Source.objects.get(slug="upload")

    for experiments in ([{"sample": "x"}], [], [{"source": "", "date": None, "version": None}]):
        document = services.metadata_document(source=source, experiments=experiments)

        assert document["source"] == "upload"
        assert document["date"] == timezone.localdate().isoformat()
        assert document["version"] == "1"
        assert document["experiments"] == experiments


def test_mandatory_metadata_comes_from_the_first_experiment_when_given() -> None:
    experiments = [
        {"source": "GEO mirror", "date": "2020-01-02", "version": 3},
        {"source": "other", "date": "2021-01-01", "version": 4},
    ]

    document = services.metadata_document(
        source=Source.objects.get(slug="upload"), experiments=experiments
    )

    assert (document["source"], document["date"], document["version"]) == (
        "GEO mirror",
        "2020-01-02",
        "3",
    )


def test_a_version_of_zero_is_kept() -> None:
    document = services.metadata_document(
        source=Source.objects.get(slug="upload"), experiments=[{"version": 0}]
    )

    assert document["version"] == "0"


def test_an_upload_through_a_form_fills_mandatory_metadata_from_its_fields(member) -> None:
    form = _form(
        {"name": "date", "prompt": "Acquired on", "field_type": FieldType.DATE},
        {"name": "version", "prompt": "Protocol version", "field_type": FieldType.INTEGER},
    )
    version = services.form_version_current(form=form)

    given = _upload(member, version, [{"date": "2023-02-03", "version": "2"}])
    omitted = _upload(member, version, [{}])

    assert (given.metadata["source"], given.metadata["date"], given.metadata["version"]) == (
        "upload",
        "2023-02-03",
        "2",
    )
    assert omitted.metadata["date"] == timezone.localdate().isoformat()
    assert omitted.metadata["version"] == "1"


# --- Django admin -----------------------------------------------------------------------


class _AdminForm(HTMLParser):
    """The values a browser would submit from the admin's change form."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._select: tuple[str, list[str]] | None = None
        self._textarea: str | None = None

    def _add(self, name: str, value: str) -> None:
        if "__prefix__" not in name:  # the template row JavaScript copies
            self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {key: value or "" for key, value in attrs}
        name = attr.get("name", "")
        kind = attr.get("type", "text")
        if tag == "input" and name and kind not in ("submit", "button", "file"):
            if kind not in ("checkbox", "radio") or "checked" in attr:
                self._add(name, attr.get("value") or ("on" if kind == "checkbox" else ""))
        elif tag == "select" and name:
            self._select = (name, [])
        elif tag == "option" and self._select is not None:
            self._select[1].append(attr.get("value", ""))
            if "selected" in attr:
                self._add(self._select[0], attr.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self._add(name, "")

    def handle_data(self, data: str) -> None:
        if self._textarea and "__prefix__" not in self._textarea:
            self.data[self._textarea][-1] += data.removeprefix("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None:
            name, options = self._select
            if name not in self.data and options:
                self._add(name, options[0])
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _admin_form_data(client, url: str) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200
    parser = _AdminForm()
    parser.feed(response.content.decode())
    return {name: values[0] if len(values) == 1 else values for name, values in parser.data.items()}


def _set_field(data: dict[str, Any], index: int, **values: Any) -> None:
    """Fill inline row ``index`` of the fields formset (adding the row if needed)."""
    if index >= int(data["fields-TOTAL_FORMS"]):
        data["fields-TOTAL_FORMS"] = str(index + 1)
        values = {"order": 0, "field_type": FieldType.TEXT, **values}  # as a new row shows
    for key, value in values.items():
        if value is False:
            data.pop(f"fields-{index}-{key}", None)
        else:
            data[f"fields-{index}-{key}"] = "on" if value is True else str(value)


def _row_of(data: dict[str, Any], name: str) -> int:
    return next(
        int(key.split("-")[1])
        for key, value in data.items()
        if key.endswith("-name") and value == name
    )


def _admin_errors(response) -> list[str]:
    """Every error the admin page shows: the form's, each inline row's, each formset's."""
    shown = []
    for errors in response.context["errors"]:  # strings (formset errors) or lists (fields)
        shown += [str(errors)] if isinstance(errors, str) else [str(e) for e in errors]
    return shown


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _admin_creates_form(client) -> MetadataForm:
    data = _admin_form_data(client, ADD_URL)
    data["name"] = "Sequencing run"
    _set_field(
        data,
        0,
        order=2,
        name="reads",
        prompt="Read count",
        help_text="Millions of reads",
        field_type="integer",
        required=True,
        min_value="0",
        max_value="10000",
    )
    _set_field(
        data,
        1,
        order=1,
        name="instrument",
        prompt="Instrument",
        field_type="choice",
        choices="NovaSeq\nMiSeq",
        default="MiSeq",
    )
    response = client.post(ADD_URL, data, follow=True)
    assert response.status_code == 200
    assert "Datasets from now on use version 1." in _messages(response)
    return MetadataForm.objects.get(name="Sequencing run")


def test_the_admin_form_page_carries_both_inline_formsets(client_for) -> None:
    data = _admin_form_data(client_for("admin"), ADD_URL)

    for prefix in ("fields", "versions"):
        assert {f"{prefix}-TOTAL_FORMS", f"{prefix}-INITIAL_FORMS"} <= set(data)
    assert data["fields-TOTAL_FORMS"] == "1" and data["versions-TOTAL_FORMS"] == "0"


def test_an_admin_builds_a_form_and_version_1_is_published(client_for) -> None:
    form = _admin_creates_form(client_for("admin"))

    version = form.versions.get()
    assert version.number == 1
    assert [spec["name"] for spec in version.fields] == ["instrument", "reads"]
    reads = version.fields[1]
    assert reads["prompt"] == "Read count" and reads["help_text"] == "Millions of reads"
    assert (reads["type"], reads["required"]) == ("integer", True)
    assert version.fields[0]["choices"] == ["NovaSeq", "MiSeq"]
    assert _refusal(version, {"reads": "-1", "instrument": "MiSeq"}) == [
        "Read count: Ensure this value is greater than or equal to 0."
    ]


def test_editing_a_prompt_in_the_admin_publishes_version_2(client_for) -> None:
    client = client_for("admin")
    form = _admin_creates_form(client)
    change_url = reverse("admin:catalog_metadataform_change", args=[form.pk])

    unchanged = client.post(change_url, _admin_form_data(client, change_url), follow=True)
    assert "Datasets from now on use version 1." in _messages(unchanged)
    data = _admin_form_data(client, change_url)
    assert data["versions-INITIAL_FORMS"] == "1"
    data[f"fields-{_row_of(data, 'reads')}-prompt"] = "Reads (millions)"
    response = client.post(change_url, data, follow=True)

    assert "Datasets from now on use version 2." in _messages(response)
    v1, v2 = form.versions.order_by("number")
    assert (v1.number, v2.number) == (1, 2)
    assert v1.fields[1]["prompt"] == "Read count" and v2.fields[1]["prompt"] == "Reads (millions)"


def _used_form(owner) -> MetadataForm:
    form = _form({"name": "sample", "prompt": "Sample"}, name="Used form")
    _upload(owner, services.form_version_current(form=form), [{"sample": "HeLa"}])
    return form


def _unused_form() -> MetadataForm:
    form = _form({"name": "sample", "prompt": "Sample"}, name="Unused form")
    services.form_version_publish(form=form)
    return form


def test_the_delete_page_of_a_used_form_is_refused(client_for, member) -> None:
    form = _used_form(member)
    client = client_for("admin")
    url = reverse("admin:catalog_metadataform_delete", args=[form.pk])

    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert MetadataForm.objects.filter(pk=form.pk).exists() and form.versions.count() == 1


def test_an_unused_form_is_deleted_with_its_fields_and_versions(client_for) -> None:
    form = _unused_form()
    client = client_for("admin")
    url = reverse("admin:catalog_metadataform_delete", args=[form.pk])

    page = client.get(url)
    assert page.status_code == 200 and not page.context["protected"]
    assert dict(page.context["model_count"]) == {
        "metadata forms": 1,
        "metadata fields": 1,
        "metadata form versions": 1,
    }
    assert "Metadata form version: Unused form v1" in page.content.decode()
    response = client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not MetadataForm.objects.filter(pk=form.pk).exists()
    assert not MetadataField.objects.exists() and not MetadataFormVersion.objects.exists()


def test_delete_selected_keeps_used_forms_and_deletes_the_others(client_for, member) -> None:
    used, unused = _used_form(member), _unused_form()
    client = client_for("admin")
    selection = {"action": "delete_selected", "_selected_action": [used.pk, unused.pk]}

    confirm = client.post(CHANGELIST_URL, selection)
    assert confirm.status_code == 200
    assert list(confirm.context["queryset"]) == [unused]
    assert "Not deleted, datasets use them: Used form." in confirm.content.decode()
    response = client.post(CHANGELIST_URL, {**selection, "post": "yes"}, follow=True)

    assert list(MetadataForm.objects.all()) == [used]
    assert used.versions.count() == 1 and used.fields.count() == 1
    messages = _messages(response)
    assert "Successfully deleted 1 metadata form." in messages
    assert "Not deleted, datasets use them: Used form. Retire a used form instead." in messages


def test_delete_selected_of_only_used_forms_deletes_nothing(client_for, member) -> None:
    used = _used_form(member)
    client = client_for("admin")

    response = client.post(
        CHANGELIST_URL,
        {"action": "delete_selected", "_selected_action": [used.pk], "post": "yes"},
        follow=True,
    )

    assert response.status_code == 200
    assert MetadataForm.objects.filter(pk=used.pk).exists()
    assert "Not deleted, datasets use them: Used form. Retire a used form instead." in _messages(
        response
    )
    assert not any("Successfully deleted" in m for m in _messages(response))


def test_retiring_a_form_in_the_admin_closes_it_to_new_uploads(client_for, member) -> None:
    form = _used_form(member)
    assert form in selectors.metadata_forms_open()
    client = client_for("admin")
    change_url = reverse("admin:catalog_metadataform_change", args=[form.pk])
    data = _admin_form_data(client, change_url)
    data["retired"] = "on"

    response = client.post(change_url, data)

    assert response.status_code == 302
    form.refresh_from_db()
    assert form.retired and form not in selectors.metadata_forms_open()
    assert form.versions.count() == 1
    dataset = Dataset.objects.get(form_version__form=form)
    assert selectors.dataset_metadata_rows(dataset=dataset) == [
        [selectors.MetadataRow("Sample", "HeLa")]
    ]


BAD_CONFIGURATIONS = [
    pytest.param(
        {"field_type": "choice", "choices": ""},
        "List at least one choice, one per line.",
        id="choice-without-choices",
    ),
    pytest.param(
        {"field_type": "multiple_choice", "choices": " \n "},
        "List at least one choice, one per line.",
        id="multiple-choice-without-choices",
    ),
    pytest.param(
        {"field_type": "text", "choices": "a\nb"},
        "Choices apply to choice and multiple choice fields only.",
        id="choices-on-text",
    ),
    pytest.param(
        {"field_type": "integer", "min_value": "10", "max_value": "1"},
        "The minimum is greater than the maximum.",
        id="min-above-max",
    ),
    pytest.param(
        {"field_type": "integer", "min_value": "1.5"},
        "An integer field takes whole-number bounds.",
        id="fractional-integer-bound",
    ),
    pytest.param(
        {"field_type": "text", "max_value": "3"},
        "Minimum and maximum apply to integer and decimal fields only.",
        id="bounds-on-text",
    ),
    pytest.param(
        {"field_type": "text", "pattern": "[a-z"},
        "Not a valid regular expression:",
        id="invalid-pattern",
    ),
    pytest.param(
        {"field_type": "integer", "pattern": "[0-9]+"},
        "A pattern applies to text and long text fields only.",
        id="pattern-on-integer",
    ),
    pytest.param(
        {"field_type": "boolean", "required": True},
        "A yes/no field cannot be required: unticked is a valid answer (no).",
        id="required-boolean",
    ),
    pytest.param(
        {"field_type": "integer", "default": "forty"},
        "Enter a whole number.",
        id="default-not-an-integer",
    ),
    pytest.param(
        {"field_type": "integer", "default": "0", "min_value": "1"},
        "Ensure this value is greater than or equal to 1.",
        id="default-below-min",
    ),
    pytest.param(
        {"field_type": "choice", "choices": "DAPI\nGFP", "default": "RFP"},
        "Select a valid choice. RFP is not one of the available choices.",
        id="default-not-a-choice",
    ),
    pytest.param(
        {"field_type": "multiple_choice", "choices": "DAPI\nGFP", "default": "DAPI, RFP"},
        "Select a valid choice. RFP is not one of the available choices.",
        id="default-not-choices",
    ),
    pytest.param(
        {"field_type": "text", "pattern": "[A-Z]+", "default": "abc"},
        "Must match the pattern [A-Z]+.",
        id="default-not-matching",
    ),
    pytest.param(
        {"field_type": "boolean", "default": "maybe"},
        "A yes/no default is one of: 1, true, yes, on, y, 0, false, no, off, n.",
        id="default-not-yes-or-no",
    ),
    pytest.param(
        {"field_type": "date", "default": "2024-02-30"},
        "Enter a valid date.",
        id="default-not-a-date",
    ),
]


@pytest.mark.parametrize(("config", "message"), BAD_CONFIGURATIONS)
def test_the_admin_refuses_a_field_it_could_not_honour(client_for, config, message) -> None:
    client = client_for("admin")
    data = _admin_form_data(client, ADD_URL)
    data["name"] = "Broken form"
    _set_field(data, 0, name="value", prompt="Value", **config)

    response = client.post(ADD_URL, data)

    assert response.status_code == 200
    assert any(error.startswith(message) for error in _admin_errors(response))
    assert not MetadataForm.objects.exists()
    assert not MetadataField.objects.exists() and not MetadataFormVersion.objects.exists()


def test_the_admin_refuses_two_fields_with_one_name(client_for) -> None:
    client = client_for("admin")
    data = _admin_form_data(client, ADD_URL)
    data["name"] = "Twice"
    _set_field(data, 0, name="sample", prompt="Sample")
    _set_field(data, 1, name="sample", prompt="Sample again")

    response = client.post(ADD_URL, data)

    assert response.status_code == 200
    assert _admin_errors(response) == [
        "Please correct the duplicate data for name.",
        "Please correct the duplicate values below.",
    ]
    assert not MetadataForm.objects.exists() and not MetadataFormVersion.objects.exists()


def test_a_sound_field_configuration_passes_model_validation() -> None:
    form = MetadataFormFactory()
    field = MetadataField(
        form=form,
        name="ph",
        prompt="pH",
        field_type=FieldType.DECIMAL,
        min_value="0",
        max_value="14",
        default="7",
        required=True,
    )

    field.full_clean()


def test_model_validation_names_every_field_at_fault() -> None:
    field = MetadataField(
        form=MetadataFormFactory(),
        name="stain",
        prompt="Stain",
        field_type=FieldType.CHOICE,
        min_value="5",
        pattern="(",
    )

    with pytest.raises(ValidationError) as info:
        field.full_clean()

    assert set(info.value.message_dict) == {"choices", "min_value", "pattern"}


@pytest.mark.parametrize(
    "sent, stored",
    [
        *[("no", False), ("off", False), ("0", False), ("N", False), ("", False), (" ", False)],
        *[("yes", True), ("on", True), ("Y", True), (" True ", True), (1, True), (True, True)],
    ],
)
def test_yes_no_words_sent_as_text_are_booleans(sent: Any, stored: bool) -> None:
    version = _version_of(field_type=FieldType.BOOLEAN)
    assert _clean(version, sent) == {"value": stored}


@pytest.mark.parametrize("word", ["1", "true", "yes", "on", "y", "TRUE", " Yes "])
def test_one_parser_reads_every_yes(word: str) -> None:
    assert yes_no(word) is True


@pytest.mark.parametrize("word", ["0", "false", "no", "off", "n", "OFF", " No "])
def test_one_parser_reads_every_no(word: str) -> None:
    assert yes_no(word) is False


@pytest.mark.parametrize("word", ["", "maybe", "yes please", "2", "oui", "\u00b2"])
def test_one_parser_reads_nothing_else(word: str) -> None:
    assert yes_no(word) is None


def test_other_text_for_a_yes_no_field_is_refused() -> None:
    version = _version_of(field_type=FieldType.BOOLEAN)
    assert "is not yes or no" in " ".join(_refusal(version, {"value": "maybe"}))
