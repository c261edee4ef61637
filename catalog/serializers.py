"""JSON shapes of the catalog for the API (catalog/api.py)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Count, Sum
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.reverse import reverse

from lakeweb.jobs.models import JobStatus
from lakeweb.jobs.selectors import job_message

from .forms import MAX_EXPERIMENTS
from .models import (
    ColdRestore,
    DataFile,
    Dataset,
    Layer,
    MetadataFormVersion,
    Promotion,
    Source,
)
from .selectors.forms import metadata_form_find
from .services import DatasetDraft, form_version_current
from .services.derive import MAX_DERIVED_FROM

# The repeatable parameters: arrays, sent as ?tags=a&tags=b (style form, explode).
REPEATED_QUERY_PARAMETERS = [
    OpenApiParameter(
        "tags",
        str,
        many=True,
        style="form",
        explode=True,
        description="Tag names, repeated (or comma-separated); all must match.",
    ),
    OpenApiParameter(
        "field",
        str,
        many=True,
        style="form",
        explode=True,
        description="Metadata field=value (e.g. operator=alice), repeated for several; all match.",
    ),
]


class DatasetQuerySerializer(serializers.Serializer):
    """The list's query parameters, for the schema; ``catalog.forms.DatasetSearchForm`` checks them.

    Unknown values (a layer, source, tag, form or metadata field that does not
    exist) are refused with a 400 naming them, never ignored; an owner no
    account is matches nothing, so that the list does not tell which exist.
    """

    q = serializers.CharField(
        required=False,
        help_text='Words to find (all must match), "a phrase", or, -word to exclude.',
    )
    layer = serializers.ChoiceField(choices=Layer.choices, required=False)
    source = serializers.CharField(required=False, help_text="A source's slug.")
    form = serializers.CharField(required=False, help_text="A metadata form's name or id.")
    owner = serializers.CharField(
        required=False,
        help_text="The owner's email or username; one no account has matches no dataset.",
    )
    created_from = serializers.DateField(
        required=False, help_text="YYYY-MM-DD; an empty value is refused, not ignored."
    )
    created_to = serializers.DateField(
        required=False, help_text="YYYY-MM-DD; an empty value is refused, not ignored."
    )
    sort = serializers.ChoiceField(
        choices=["relevance", "newest", "oldest", "name", "-name", "largest", "smallest"],
        required=False,
        help_text="Default: relevance with q, else newest.",
    )
    page = serializers.IntegerField(required=False, min_value=1, max_value=10_000_000)
    after = serializers.CharField(required=False, help_text="Cursor from a `next` link.")
    before = serializers.CharField(required=False, help_text="Cursor from a `previous` link.")
    page_size = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="Default 50; at most 200. An empty or non-numeric value (null) is refused.",
    )


# Stands for a dataset's id in its URL, reversed once (dataset_api_url).
_URL_SLOT = uuid.UUID(int=0)


def dataset_api_url(serializer: serializers.Serializer, dataset: Dataset) -> str:
    """The dataset's API address, reversed once per serializer, not once per dataset:
    a many=True child is one serializer for every row (reverse() was a fifth of the list's time)."""
    template = serializer.__dict__.get("_url_template")
    if template is None:
        request = serializer.context.get("request")
        template = reverse("api:dataset_detail", kwargs={"pk": _URL_SLOT}, request=request)
        serializer.__dict__["_url_template"] = template
    return template.replace(str(_URL_SLOT), str(dataset.pk))


class DatasetSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    owner = serializers.CharField(source="owner.get_username", read_only=True)
    tags = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = [
            "id",
            "url",
            "name",
            "description",
            "source",
            "external_id",
            "layer",
            "status",
            "owner",
            "tags",
            "file_count",
            "total_size",
            "created_at",
            "sealed_at",
        ]
        read_only_fields = fields

    def get_tags(self, dataset: Dataset) -> list[str]:
        # Pages of results carry their tag names (selectors/paging.py); a single
        # dataset has its tags prefetched. Names read better than ids.
        names = getattr(dataset, "tag_names", None)
        return names if names is not None else [tag.name for tag in dataset.tags.all()]

    def get_url(self, dataset: Dataset) -> str:
        return dataset_api_url(self, dataset)


class DatasetPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(
        help_text="Matching datasets; when count_exact is false, more than this many match."
    )
    count_exact = serializers.BooleanField()
    order = serializers.CharField(help_text="The sort in effect.")
    next = serializers.URLField(allow_null=True, help_text="The next page (a keyset link).")
    previous = serializers.URLField(allow_null=True)
    results = DatasetSerializer(many=True)


class DatasetDetailSerializer(DatasetSerializer):
    form = serializers.SerializerMethodField()

    class Meta(DatasetSerializer.Meta):
        fields = [
            *DatasetSerializer.Meta.fields,
            "metadata",
            "manifest_digest",
            "form",
            "storage_class",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "storage_class": {
                "help_text": "The archive's cold class its files are in (GLACIER, "
                "DEEP_ARCHIVE): they read only after a restore. Empty: they read as they are."
            }
        }

    def get_form(self, dataset: Dataset) -> dict[str, Any] | None:
        version = dataset.form_version
        if version is None:
            return None
        return {"name": version.form.name, "version": version.number}


class DataFileSerializer(serializers.ModelSerializer):
    download = serializers.SerializerMethodField()

    class Meta:
        model = DataFile
        fields = ["id", "path", "size", "sha256", "content_type", "download"]
        read_only_fields = fields

    def get_download(self, datafile: DataFile) -> str:
        kwargs = {"pk": datafile.dataset_id, "file_id": datafile.pk}
        return reverse("api:datafile_download", kwargs=kwargs, request=self.context.get("request"))


class DownloadSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="Where to fetch the file's bytes.")
    presigned = serializers.BooleanField(
        help_text="True: a short-lived S3 URL needing no login. False (folder storage): "
        "the lakeweb page download, which needs a logged-in session or public browsing."
    )


class PromoteSerializer(serializers.Serializer):
    target_layer = serializers.ChoiceField(
        choices=Layer.choices,
        required=False,
        help_text="Defaults to the dataset's next layer; promotions go one layer at a time.",
    )


class PromotionSerializer(serializers.ModelSerializer):
    source = serializers.UUIDField(source="source_id", read_only=True)
    target = serializers.UUIDField(source="target_id", read_only=True, allow_null=True)
    job = serializers.UUIDField(source="job_id", read_only=True)
    status = serializers.ChoiceField(source="job.status", choices=JobStatus.choices, read_only=True)
    files_done = serializers.IntegerField(source="job.progress_done", read_only=True)
    error = serializers.CharField(source="job.error", read_only=True)
    created_at = serializers.DateTimeField(source="job.created_at", read_only=True)
    finished_at = serializers.DateTimeField(
        source="job.finished_at", read_only=True, allow_null=True
    )
    message = serializers.SerializerMethodField(
        help_text="What happens next, in words: queued, or waiting for the task queue."
    )

    class Meta:
        model = Promotion
        fields = [
            "id",
            "job",
            "source",
            "target_layer",
            "target",
            "status",
            "files_done",
            "error",
            "created_at",
            "finished_at",
            "message",
        ]
        read_only_fields = fields

    def get_message(self, promotion: Promotion) -> str:
        return job_message(promotion.job)


MAX_TAGS = 50


class DatasetRegisterSerializer(serializers.Serializer):
    """A registration of objects already in an S3 prefix; the service checks the rest."""

    prefix = serializers.CharField(
        max_length=1100,
        trim_whitespace=False,
        help_text="s3://bucket/prefix/ on the lake's S3 endpoint; folders on the server are "
        "refused.",
    )
    name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    source = serializers.CharField(max_length=50, help_text="Slug of the data source.")
    external_id = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=200
    )
    form = serializers.CharField(
        required=False, max_length=200, help_text="Metadata form: its exact name or id."
    )
    metadata = serializers.DictField(
        required=False, help_text="One experiment's values, keyed by the form's field names."
    )
    experiments = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        min_length=1,
        max_length=MAX_EXPERIMENTS,
        help_text="Several experiments' values (instead of metadata).",
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        default=list,
        max_length=MAX_TAGS,
    )
    derived_from = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        default=list,
        max_length=MAX_DERIVED_FROM,
        help_text="Ids of the ready datasets this data was made from; the dataset then goes "
        "into `layer` (processed, or curated for curators), never raw.",
    )
    layer = serializers.ChoiceField(
        choices=[Layer.RAW, Layer.PROCESSED, Layer.CURATED],
        required=False,
        default=Layer.RAW,
        help_text="raw for original data; processed or curated for derived data.",
    )

    def validate_source(self, value: str) -> Source:
        source = Source.objects.filter(slug=value).first()
        if source is None:
            known = ", ".join(Source.objects.order_by("slug").values_list("slug", flat=True))
            raise serializers.ValidationError(f"Unknown source '{value}'. Known sources: {known}.")
        return source

    def validate_form(self, value: str) -> MetadataFormVersion:
        form = metadata_form_find(text=value)
        if form is None:
            raise serializers.ValidationError(
                f"Unknown metadata form '{value}' (give its exact name or id)."
            )
        if form.retired:
            raise serializers.ValidationError(
                f"Metadata form '{form.name}' is retired; choose a current form."
            )
        return form_version_current(form=form)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "metadata" in attrs and "experiments" in attrs:
            raise serializers.ValidationError(
                "Give either metadata (one experiment) or experiments (a list), not both."
            )
        attrs["experiments"] = attrs.pop("experiments", None) or [attrs.pop("metadata", {})]
        return attrs

    def draft(self, *, owner: Any) -> DatasetDraft:
        data = self.validated_data
        return DatasetDraft(
            owner=owner,
            name=data["name"],
            source=data["source"],
            experiments=data["experiments"],
            form_version=data.get("form"),
            description=data["description"],
            external_id=data["external_id"],
            tags=data["tags"],
            layer=data["layer"],
            derived_from=data["derived_from"],
        )


class DatasetStatusSerializer(serializers.ModelSerializer):
    """Where a dataset is in its life: files and bytes stored so far, why it failed."""

    files = serializers.SerializerMethodField()
    bytes = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    status_url = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = [
            "id",
            "name",
            "layer",
            "status",
            "files",
            "bytes",
            "failure_reason",
            "created_at",
            "sealed_at",
            "url",
            "status_url",
        ]
        read_only_fields = fields

    def _tally(self, dataset: Dataset) -> tuple[int, int]:
        if dataset.sealed_at is not None:
            return dataset.file_count, dataset.total_size
        # Still copying: the files recorded so far (a failure has removed them).
        counted = self.__dict__.setdefault("_counted", {})
        if dataset.pk not in counted:
            tally = dataset.files.aggregate(files=Count("pk"), bytes=Sum("size"))
            counted[dataset.pk] = (tally["files"], tally["bytes"] or 0)
        return counted[dataset.pk]

    def get_files(self, dataset: Dataset) -> int:
        return self._tally(dataset)[0]

    def get_bytes(self, dataset: Dataset) -> int:
        return self._tally(dataset)[1]

    def get_url(self, dataset: Dataset) -> str:
        return dataset_api_url(self, dataset)

    def get_status_url(self, dataset: Dataset) -> str:
        request = self.context.get("request")
        return reverse("api:dataset_status", kwargs={"pk": dataset.pk}, request=request)


class ColdRestoreSerializer(serializers.ModelSerializer):
    dataset = serializers.UUIDField(source="dataset_id", read_only=True)
    job = serializers.UUIDField(source="job_id", read_only=True)
    job_status = serializers.ChoiceField(
        source="job.status", choices=JobStatus.choices, read_only=True
    )

    class Meta:
        model = ColdRestore
        fields = [
            "id",
            "dataset",
            "job",
            "job_status",
            "state",
            "storage_class",
            "tier",
            "days",
            "files_ready",
            "files_total",
            "expires_at",
            "created_at",
        ]
        read_only_fields = fields
