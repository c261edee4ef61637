"""What the export tests share: a pipeline output, unzipping a download, the reference readers.

The readers run offline. roc-validator and rdflib fetch the RO-Crate JSON-LD
context over HTTP, and roc-validator's own ``offline`` mode only serves what
an earlier online run put in its cache; a lab (and CI) has no network, so the
context is served here from the copy the ``rocrate`` package ships. Any other
address the readers ask for fails the test: nothing is fetched.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import requests

from catalog import services
from catalog.models import Activity, DataFile, Dataset, Layer, Source
from catalog.services.datasets import dataset_storage_key
from lakeweb.storage import layer_store

CONTEXTS = ("https://w3id.org/ro/crate/1.1/context",)

PIPELINE = {
    "name": "csv-to-parquet",
    "version": "1.2.0",
    "code_digest": "9f" * 32,
    "params": {"delimiter": ";", "columns": ["t", "signal"], "limit": 5_000_000_000},
    "started_at": "2026-11-30T10:00:00+00:00",
}


def pipeline_output(owner: Any, inputs: list[Dataset], files: dict[str, bytes]) -> Dataset:
    """A processed dataset made from ``inputs`` as a pipeline run makes one (issue 13 item 3)."""
    dataset = services.dataset_create(
        name="Signals as Parquet",
        source=Source.objects.get(slug="upload"),
        owner=owner,
        layer=Layer.PROCESSED,
        derived_from=inputs,
        metadata={"source": "upload", "date": "2026-11-30", "version": "1", "experiments": []},
    )
    store = layer_store(dataset.layer)
    for path, data in files.items():
        key = dataset_storage_key(dataset=dataset, path=path)
        store.put_bytes(key, data)
        DataFile.objects.create(
            dataset=dataset,
            path=path,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            storage_key=key,
            folder=path.rpartition("/")[0],
        )
    services.dataset_seal(dataset=dataset)
    services.provenance_record(
        activity=Activity.PIPELINE, actor=owner, dataset=dataset, used=inputs, parameters=PIPELINE
    )
    return dataset


def download(response: Any) -> bytes:
    assert response.status_code == 200, response.content[:500]
    assert response.streaming and response["Content-Type"] == "application/zip"
    return b"".join(response.streaming_content)


def unzip(data: bytes, target: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        archive.extractall(target)
    return target


def _context_document() -> dict[str, Any]:
    import rocrate

    shipped = Path(rocrate.__file__).parent / "data" / "ro-crate.jsonld"
    return json.loads(shipped.read_text())


def serve_contexts_offline(monkeypatch: Any) -> list[str]:
    """Serve the RO-Crate context locally to rdflib and roc-validator; the addresses asked for."""
    from rdflib.plugins.shared.jsonld import context as jsonld_context
    from rocrate_validator.utils.http import HttpRequester

    asked: list[str] = []
    document = _context_document()

    def source_to_json(source: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(str(source))
        assert str(source) in CONTEXTS, f"the reader tried to fetch {source}"
        return document, None

    def get(self: Any, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        asked.append(url)
        assert url in CONTEXTS, f"the validator tried to fetch {url}"
        response = requests.Response()
        response.status_code, response.url = 200, url
        response.headers["Content-Type"] = "application/ld+json"
        response._content = json.dumps(document).encode()
        return response

    monkeypatch.setattr(jsonld_context, "source_to_json", source_to_json)
    monkeypatch.setattr(HttpRequester, "get", get, raising=False)
    return asked


def validate_crate(path: Path, profile: str) -> Any:
    """roc-validator's result for the crate folder at the REQUIRED level of ``profile``."""
    from rocrate_validator import models
    from rocrate_validator import services as validator
    from rocrate_validator.utils.uri import URI

    settings = models.ValidationSettings(
        rocrate_uri=URI(str(path)),
        profile_identifier=profile,
        requirement_severity=models.Severity.REQUIRED,
    )
    return validator.validate(settings)


def issues(result: Any) -> list[str]:
    return [f"{issue.check.identifier}: {issue.message}" for issue in result.get_issues()]
