"""JSON shapes of the catalog for the API (catalog/api.py)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.reverse import reverse

from .models import DataFile, Dataset, Layer, Promotion

SEARCH_TERMS_MAX = 200


class DatasetQuerySerializer(serializers.Serializer):
    """The list's filters; an unknown layer is refused, not silently ignored."""

    q = serializers.CharField(required=False, allow_blank=True, max_length=SEARCH_TERMS_MAX)
    layer = serializers.CharField(required=False, allow_blank=True)
    source = serializers.CharField(required=False, allow_blank=True, max_length=50)

    def validate_layer(self, value: str) -> str:
        if value and value not in Layer.values:
            raise serializers.ValidationError(
                f"'{value}' is not a layer: choose one of {', '.join(Layer.values)}."
            )
        return value


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
        # .all() keeps prefetched tags; a list of names reads better than ids.
        return [tag.name for tag in dataset.tags.all()]

    def get_url(self, dataset: Dataset) -> str:
        request = self.context.get("request")
        return reverse("api:dataset_detail", kwargs={"pk": dataset.pk}, request=request)


class DatasetDetailSerializer(DatasetSerializer):
    form = serializers.SerializerMethodField()

    class Meta(DatasetSerializer.Meta):
        fields = [*DatasetSerializer.Meta.fields, "metadata", "manifest_digest", "form"]
        read_only_fields = fields

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

    class Meta:
        model = Promotion
        fields = ["id", "source", "target_layer", "target", "status", "created_at"]
        read_only_fields = fields
