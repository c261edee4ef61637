"""The page form that starts a run: which pipeline, onto which layer (parameters:
``parameters.parameters_form``, the metadata form code)."""

from __future__ import annotations

from django import forms

from .registry import Pipeline


class RunStartForm(forms.Form):
    pipeline = forms.ChoiceField(label="Pipeline")
    target_layer = forms.ChoiceField(label="Make the new dataset in")

    def __init__(
        self, *args: object, pipelines: list[Pipeline], chosen: Pipeline | None, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["pipeline"].choices = [(s.name, f"{s.name} {s.version}") for s in pipelines]  # type: ignore[attr-defined]
        writes = chosen.writes if chosen else ()
        self.fields["target_layer"].choices = [(layer, layer) for layer in writes]  # type: ignore[attr-defined]
