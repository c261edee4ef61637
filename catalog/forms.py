"""Upload page forms. Metadata fields come from the admin's form version."""

from __future__ import annotations

import json
from typing import Any

from crispy_forms.helper import FormHelper
from django import forms
from django.core.exceptions import ValidationError

from .metadata import metadata_form_class
from .models import MetadataFormVersion, Source


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


class DatasetFieldsForm(forms.Form):
    """What describes a new dataset, whichever way its files arrive."""

    name = forms.CharField(max_length=255)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.fields["source"].initial = "upload"

    def clean_tags(self) -> list[str]:
        return [tag.strip() for tag in self.cleaned_data["tags"].split(",") if tag.strip()]

    def clean_experiments(self) -> int:
        return self.cleaned_data["experiments"] or 1


class UploadForm(DatasetFieldsForm):
    """The page's plain form post (used when JavaScript is off)."""

    files = MultipleFileField(
        label="Folder", help_text="The folder's tree is kept. Without JavaScript, files only."
    )
    relative_paths = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        files = cleaned.get("files") or []
        cleaned["paths"] = self._paths(cleaned.get("relative_paths", ""), files)
        return cleaned

    def _paths(self, raw: str, files: list[Any]) -> list[str]:
        """The browser sends each file's path inside the folder beside the files."""
        if not raw:
            return [f.name for f in files]
        try:
            paths = json.loads(raw)
        except ValueError:
            raise ValidationError("The list of file paths is not valid JSON.") from None
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ValidationError("The list of file paths must be a list of strings.")
        if files and len(paths) != len(files):
            raise ValidationError(f"{len(files)} files arrived but {len(paths)} paths were sent.")
        return paths


class UploadStartForm(DatasetFieldsForm):
    """Start of a resumable upload: the dataset's fields and the list of files."""

    manifest = forms.CharField(widget=forms.HiddenInput)

    def clean_manifest(self) -> list[tuple[str, int]]:
        try:
            entries = json.loads(self.cleaned_data["manifest"])
        except ValueError:
            raise ValidationError("The file list is not valid JSON.") from None
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
