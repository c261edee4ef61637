"""Upload page forms (metadata fields come from the admin's form version) and the search form."""

from __future__ import annotations

import re
from typing import Any

from crispy_forms.helper import FormHelper
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from lakeweb.jsonbounds import json_items, json_parse
from lakeweb.text import text_unstorable

from .metadata import NUMBER_TYPES, LongTextField, metadata_form_class
from .models import FieldType, Layer, MetadataFormVersion, Source, Tag
from .selectors.forms import metadata_form_find
from .selectors.search import (
    RELEVANCE,
    SORTS,
    DatasetQuery,
    NumberOutOfRange,
    value_number,
)
from .services.derive import MAX_DERIVED_FROM
from .services.metadata_forms import MANDATORY_KEYS
from .services.paths import file_count_check


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field that takes a list (the files of a picked folder)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget", MultipleFileInput(attrs={"webkitdirectory": True, "multiple": True})
        )
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, (list, tuple)) else [data]
        files = [f for f in files if f]
        if not files:
            raise ValidationError("Choose a folder (or files) to upload: the upload has no files.")
        return files


MAX_EXPERIMENTS = 50
# Room for MAX_DERIVED_FROM ids with separators; the service counts and reads them.
DERIVED_FROM_CHARS = 4000
UPLOAD_LAYERS = [
    (Layer.RAW, "raw: original data"),
    (Layer.PROCESSED, "processed: derived from the datasets above"),
    (Layer.CURATED, "curated: derived, annotated, ready to use (curators)"),
]


class DatasetFieldsForm(forms.Form):
    """What describes a new dataset, whichever way its files arrive."""

    name = forms.CharField(max_length=255)
    description = LongTextField(required=False)
    source = forms.ModelChoiceField(queryset=Source.objects.all(), to_field_name="slug")
    external_id = forms.CharField(
        max_length=200, required=False, help_text="e.g. GSE2034 or P04637"
    )
    tags = forms.CharField(max_length=1000, required=False, help_text="Comma-separated.")
    experiments = forms.IntegerField(
        min_value=1,
        max_value=MAX_EXPERIMENTS,
        initial=1,
        required=False,
        label="Experiments in this folder",
        help_text="The metadata form is filled once per experiment.",
    )
    derived_from = forms.CharField(
        required=False,
        label="Derived from",
        widget=forms.TextInput(attrs={"class": "derived-from-ids", "autocomplete": "off"}),
        help_text="The ids of the ready datasets this data was made from, separated by "
        f"commas (at most {MAX_DERIVED_FROM}); empty for original data.",
    )
    layer = forms.ChoiceField(
        label="Layer",
        choices=UPLOAD_LAYERS,
        required=False,
        initial=Layer.RAW,
        help_text="Derived data goes into processed or curated; original data into raw.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.fields["source"].initial = "upload"

    def clean_tags(self) -> list[str]:
        return [tag.strip() for tag in self.cleaned_data["tags"].split(",") if tag.strip()]

    def clean_experiments(self) -> int:
        return self.cleaned_data["experiments"] or 1

    def clean_derived_from(self) -> list[str]:
        """The ids as listed; the service says which are wrong, and counts them."""
        text = self.cleaned_data["derived_from"]
        if len(text) > DERIVED_FROM_CHARS:
            raise ValidationError(
                f"List at most {MAX_DERIVED_FROM} datasets ({DERIVED_FROM_CHARS:,} characters)."
            )
        return [part for part in re.split(r"[\s,]+", text) if part]

    def clean_layer(self) -> str:
        return self.cleaned_data["layer"] or Layer.RAW


def _file_list(text: str, *, what: str, depth: int) -> Any:
    """An upload's list of files, its length, size and nesting bounded before it is parsed."""
    # The list is one field of the request body, which Django bounds too.
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    file_count_check(json_items(text, what=what, max_chars=size, max_depth=depth))
    return json_parse(text, what=what)


class UploadForm(DatasetFieldsForm):
    """The page's plain form post (used when JavaScript is off)."""

    files = MultipleFileField(label="Folder", help_text="The folder's tree is kept.")
    relative_paths = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        files = cleaned.get("files") or []
        cleaned["paths"] = self._paths(cleaned.get("relative_paths", ""), files)
        return cleaned

    def _paths(self, raw: str, files: list[Any]) -> list[str]:
        """Each file's path inside the folder: as the browser named the file, or as sent beside.

        A file's name is taken as sent (``lakeweb.multipart``), not as Django
        trims it, so that a bad one is refused rather than silently renamed.
        """
        if not raw:
            return [getattr(f, "sent_name", f.name) for f in files]
        paths = _file_list(raw, what="The list of file paths", depth=1)
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ValidationError("The list of file paths must be a list of strings.")
        if files and len(paths) != len(files):
            raise ValidationError(f"{len(files)} files arrived but {len(paths)} paths were sent.")
        return paths


class UploadStartForm(DatasetFieldsForm):
    """Start of a resumable upload: the dataset's fields and the list of files."""

    manifest = forms.CharField(widget=forms.HiddenInput)

    def clean_manifest(self) -> list[tuple[str, Any]]:
        # A list of flat {path, size} objects: two levels.
        entries = _file_list(self.cleaned_data["manifest"], what="The file list", depth=2)
        if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("path"), str) for e in entries
        ):
            raise ValidationError("The file list must be a list of {path, size} objects.")
        return [(e["path"], e.get("size")) for e in entries]


def metadata_form(version: MetadataFormVersion, data: Any = None, *, prefix: str) -> forms.Form:
    """One experiment's metadata part of the upload page, for one form version."""
    form = metadata_form_class(version.fields)(data=data, prefix=prefix)
    form.helper = FormHelper()
    form.helper.form_tag = False
    return form


def experiment_forms(version: MetadataFormVersion, data: Any = None) -> list[forms.Form]:
    """One metadata form per experiment; how many comes from the posted count."""
    try:
        count = int((data or {}).get("experiments", 1))
    except (TypeError, ValueError):
        count = 1
    count = min(max(count, 1), MAX_EXPERIMENTS)
    return [metadata_form(version, data, prefix=f"exp{i}") for i in range(count)]


class ListInput(forms.MultipleHiddenInput):
    """A repeated GET parameter (``?tags=a&tags=b``); with ``split``, commas separate too."""

    def __init__(self, *, split: bool) -> None:
        super().__init__()
        self.split = split

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[str]:
        getlist = getattr(data, "getlist", None)
        raw = getlist(name) if getlist else data.get(name, [])
        raw = [raw] if isinstance(raw, str) else list(raw)
        parts = [p for item in raw for p in (str(item).split(",") if self.split else [str(item)])]
        return [part.strip() for part in parts if part.strip()]


class ListField(forms.Field):
    def __init__(self, *, max_items: int, max_length: int, split: bool, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", ListInput(split=split))
        super().__init__(**kwargs)
        self.max_items, self.max_length = max_items, max_length

    def clean(self, value: Any) -> list[str]:
        values = list(value or [])
        if len(values) > self.max_items:
            raise ValidationError(f"At most {self.max_items} values.")
        too_long = [item for item in values if len(item) > self.max_length]
        if too_long:
            raise ValidationError(f"'{too_long[0][:40]}…' is longer than {self.max_length}.")
        if any(text_unstorable(item) for item in values):
            raise ValidationError(
                "A value holds a NUL character or a lone surrogate, which no stored value has."
            )
        return values


FIELD_NAME = re.compile(r"^[a-z0-9_-]{1,64}$", re.IGNORECASE)


class DatasetSearchForm(forms.Form):
    """The catalog's query string, for the page and the API alike (SPEC §3 item 2).

    Unknown values are refused with a message saying what is allowed, never
    silently ignored: a bookmarked search that names a source since renamed
    should say so rather than show everything.
    """

    # Set by clean_field: the asked fields that some form makes multiple choice.
    list_fields: frozenset[str] = frozenset()

    q = forms.CharField(required=False, max_length=200, strip=True)
    layer = forms.CharField(required=False, max_length=50)
    source = forms.CharField(required=False, max_length=50)
    tags = ListField(max_items=10, max_length=100, split=True)
    form = forms.CharField(required=False, max_length=200)
    # Looked up by the search itself: an unknown name matches nothing, as for an
    # account without datasets (``selectors.search._owner_ids``).
    owner = forms.CharField(required=False, max_length=254)
    created_from = forms.DateField(required=False)
    created_to = forms.DateField(required=False)
    field = ListField(max_items=5, max_length=300, split=False)
    sort = forms.CharField(required=False)
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000_000)
    after = forms.CharField(required=False, max_length=400)
    before = forms.CharField(required=False, max_length=400)

    def clean_layer(self) -> str:
        layer = self.cleaned_data["layer"]
        if layer and layer not in Layer.values:
            raise ValidationError(
                f"'{layer}' is not a layer: choose one of {', '.join(Layer.values)}."
            )
        return layer

    def clean_source(self) -> str:
        slug = self.cleaned_data["source"]
        if slug and not Source.objects.filter(slug=slug).exists():
            raise ValidationError(f"There is no source '{slug}'.")
        return slug

    def clean_tags(self) -> list[str]:
        names = self.cleaned_data["tags"]
        known = set(Tag.objects.filter(name__in=names).values_list("name", flat=True))
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ValidationError(f"There is no tag '{unknown[0]}'.")
        return names

    def clean_form(self) -> int | None:
        text = self.cleaned_data["form"]
        if not text:
            return None
        match = metadata_form_find(text=text)
        if match is None:
            raise ValidationError(f"There is no metadata form '{text}'.")
        return match.pk

    def clean_field(self) -> list[tuple[str, str]]:
        pairs = []
        for item in self.cleaned_data["field"]:
            name, sep, value = item.partition("=") if "=" in item else item.partition(":")
            name, value = name.strip(), value.strip()
            if not sep or not FIELD_NAME.match(name) or not value:
                raise ValidationError(
                    f"'{item[:60]}' is not of the form field=value (a field name of "
                    "letters, digits, '-' or '_', then '=', then a value)."
                )
            pairs.append((name, value))
        kinds = metadata_field_kinds() if pairs else {}
        unknown = [name for name, _value in pairs if name not in kinds]
        if unknown:
            raise ValidationError(f"No metadata form has a field '{unknown[0]}'.")
        for name, value in pairs:
            # Bounded before any number is built. Where a form gives the field
            # text, the value is searched as text (``value_candidates``).
            try:
                value_number(value)
            except NumberOutOfRange as exc:
                if kinds[name] <= set(NUMBER_TYPES):
                    raise ValidationError(str(exc)) from None
        self.list_fields = frozenset(
            name for name, kind in kinds.items() if FieldType.MULTIPLE_CHOICE in kind
        )
        return pairs

    def clean_sort(self) -> str:
        sort = self.cleaned_data["sort"]
        allowed = [RELEVANCE, *SORTS]
        if sort and sort not in allowed:
            raise ValidationError(
                f"'{sort[:40]}' is not a sort: choose one of {', '.join(allowed)}."
            )
        return sort

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("created_from"), data.get("created_to")
        if start and end and start > end:
            self.add_error("created_to", "The end date is before the start date.")
        if data.get("after") and data.get("before"):
            raise ValidationError("A page link cannot go both after and before.")
        return data

    def query(self) -> DatasetQuery:
        """The checked query (call after ``is_valid()``)."""
        data = self.cleaned_data
        sort = data["sort"]
        if sort == RELEVANCE and not data["q"]:
            sort = ""  # nothing to rank: the default order
        return DatasetQuery(
            q=data["q"],
            layer=data["layer"],
            source=data["source"],
            tags=tuple(data["tags"]),
            form=data["form"],
            owner=data["owner"],
            created_from=data["created_from"],
            created_to=data["created_to"],
            fields=tuple(data["field"]),
            list_fields=self.list_fields if data["field"] else None,
            sort=sort,
        )

    def paging(self) -> dict[str, Any]:
        """Which page of the results (``dataset_page``'s arguments; after ``is_valid()``)."""
        data = self.cleaned_data
        return {"number": data["page"] or 1, "after": data["after"], "before": data["before"]}

    def error_messages(self) -> list[str]:
        """Every problem as one line naming its parameter."""
        return [
            f"{name}: {message}" if name != "__all__" else message
            for name, messages in self.errors.items()
            for message in messages
        ]


def metadata_field_kinds() -> dict[str, set[str]]:
    """Names ``field = value`` may use (every form version's fields and the mandatory
    keys), each with the field types forms give it."""
    kinds: dict[str, set[str]] = {name: {FieldType.TEXT} for name in MANDATORY_KEYS}
    for fields in MetadataFormVersion.objects.values_list("fields", flat=True):
        for spec in fields:
            kinds.setdefault(spec["name"], set()).add(spec["type"])
    return kinds
