"""Fixtures of provenance tests: export readers offline, a lab's own pipelines, runs here."""

from __future__ import annotations

import io
import struct
import sys
import zlib
from collections.abc import Iterator

import numpy as np
import pytest
import tifffile
from django.apps import apps
from PIL import Image

from lakeweb.jobs.runner import job_run
from provenance.models import PipelineRun
from provenance.pipelines.registry import pipeline_unregister

from .exports import serve_contexts_offline


@pytest.fixture
def offline_contexts(monkeypatch) -> list[str]:
    """The JSON-LD contexts the crate readers ask for, served from a local copy."""
    return serve_contexts_offline(monkeypatch)


LAB_MODULE = "provenance.tests.lab_pipelines"


@pytest.fixture
def lab_pipelines(settings) -> Iterator[list[str]]:
    """The lab's pipelines registered as a lab would: named in LAKEWEB_PIPELINE_MODULES."""
    settings.LAKEWEB_PIPELINE_MODULES = [*settings.LAKEWEB_PIPELINE_MODULES, LAB_MODULE]
    sys.modules.pop(LAB_MODULE, None)  # imported afresh, so its decorators register again
    apps.get_app_config("provenance").ready()
    names = list(sys.modules[LAB_MODULE].NAMES)
    yield names
    for name in names:
        pipeline_unregister(name)


def run_now(run: PipelineRun) -> PipelineRun:
    """Run a queued run in this process through the job runner, as a worker would."""
    job_run(job_id=run.job_id)
    run.refresh_from_db()
    run.job.refresh_from_db()
    return run


CSV = b"sample,count,ratio,note\nA,1,0.5,first\nB,2,1.25,\nC,3,2.0,third\n"
TSV = b"gene\tlength\nTP53\t19149\nBRCA1\t81189\n"


def tiff_pages(pages: int = 3, shape: tuple[int, int] = (64, 80)) -> bytes:
    """A real multi-page 16-bit TIFF."""
    out = io.BytesIO()
    data = np.arange(pages * shape[0] * shape[1], dtype=np.uint16).reshape(pages, *shape)
    tifffile.imwrite(out, data * 7, photometric="minisblack")
    return out.getvalue()


def png_rgba(size: tuple[int, int] = (300, 120)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (200, 10, 10, 255)).save(out, format="PNG")
    return out.getvalue()


def jpeg_rgb(size: tuple[int, int] = (90, 400)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, format="JPEG")
    return out.getvalue()


def png_not_really() -> bytes:
    """PNG signature, then a chunk whose CRC is wrong: a broken image."""
    head = b"\x89PNG\r\n\x1a\n"
    body = struct.pack(">I", 13) + b"IHDR" + b"\x00" * 13
    return head + body + struct.pack(">I", zlib.crc32(b"wrong"))
