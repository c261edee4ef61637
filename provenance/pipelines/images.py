"""Images: TIFF (every page), PNG and JPEG to downscaled PNG previews, with each image's
size and bit depth in ``images.json``."""

from __future__ import annotations

import io
import json
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import tifffile
from PIL import Image

from catalog.models import Layer

from .context import InputFile, PipelineContext, PipelineFailed
from .registry import param, pipeline

TIFF = (".tif", ".tiff")
PILLOW = (".png", ".jpg", ".jpeg")
# Read whole into memory (TIFF and Pillow seek); bounded so no input holds the worker.
MAX_IMAGE_BYTES = 512 * 1024 * 1024
MAX_PIXELS = 200_000_000
MAX_PAGES = 1000
MODE_BITS = {"1": 1, "L": 8, "P": 8, "LA": 8, "RGB": 8, "RGBA": 8, "CMYK": 8, "YCbCr": 8}
MODE_BITS.update({"I;16": 16, "I;16B": 16, "I;16L": 16, "I": 32, "F": 32})


def to_8bit(pixels: np.ndarray) -> np.ndarray:
    """Scale any integer or float image to 0..255 for a preview (contrast stretched)."""
    if pixels.dtype == np.uint8:
        return pixels
    data = pixels.astype(np.float64)
    low, high = float(np.nanmin(data)), float(np.nanmax(data))
    if high <= low:
        return np.zeros(pixels.shape, dtype=np.uint8)
    return ((data - low) * (255.0 / (high - low))).clip(0, 255).astype(np.uint8)


def preview_png(image: Image.Image, max_size: int) -> bytes:
    image = image.copy()
    image.thumbnail((max_size, max_size))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _tiff_pages(data: bytes) -> list[tuple[Image.Image, dict[str, Any]]]:
    pages = []
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        if len(tif.pages) > MAX_PAGES:
            raise PipelineFailed(f"a TIFF of more than {MAX_PAGES} pages")
        for page in tif.pages:
            shape = page.shape
            if int(np.prod(shape)) > MAX_PIXELS:
                raise PipelineFailed(f"a TIFF page of more than {MAX_PIXELS} values")
            pixels = page.asarray()
            if pixels.ndim == 3 and pixels.shape[-1] not in (3, 4):
                pixels = pixels[0]  # planar: the first plane is the preview
            info = {
                "width": int(pixels.shape[1]),
                "height": int(pixels.shape[0]),
                "bit_depth": int(page.bitspersample),  # type: ignore[union-attr]
                "channels": int(pixels.shape[2]) if pixels.ndim == 3 else 1,
            }
            pages.append((Image.fromarray(to_8bit(pixels)), info))
    return pages


def _pillow_image(data: bytes) -> tuple[Image.Image, dict[str, Any]]:
    image: Image.Image = Image.open(io.BytesIO(data))
    image.load()
    info = {
        "width": image.width,
        "height": image.height,
        "bit_depth": MODE_BITS.get(image.mode, 8),
        "channels": len(image.getbands()),
    }
    if image.mode not in ("L", "RGB", "RGBA", "LA", "P", "1"):
        image = Image.fromarray(to_8bit(np.asarray(image)))
    return image, info


def image_pages(file: InputFile) -> list[tuple[Image.Image, dict[str, Any]]]:
    """Every page of an image file with its size, bit depth and channels."""
    if file.size > MAX_IMAGE_BYTES:
        raise PipelineFailed(f"{file.path} is larger than {MAX_IMAGE_BYTES} bytes")
    with file.open() as stream:
        data = stream.read(MAX_IMAGE_BYTES + 1)
    try:
        if PurePosixPath(file.path).suffix.lower() in TIFF:
            return _tiff_pages(data)
        return [_pillow_image(data)]
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise PipelineFailed(f"{file.path} is not an image that can be read: {exc}") from exc


@pipeline(
    name="images.previews",
    version="1.0",
    description="TIFF (each page), PNG and JPEG images to PNG previews no larger than the "
    "size asked, and images.json with each image's size and bit depth.",
    reads=(Layer.RAW, Layer.PROCESSED, Layer.CURATED),
    writes=(Layer.PROCESSED, Layer.CURATED),
    parameters=[
        param(
            "max_size",
            "integer",
            "Largest preview side (pixels)",
            required=True,
            default="256",
            min=16,
            max=4096,
        ),
    ],
    software=("pillow", "tifffile", "numpy"),
)
def image_previews(ctx: PipelineContext) -> None:
    """One PNG per image page under previews/; fail when no input is an image."""
    max_size = int(ctx.params.get("max_size") or 256)
    images = [f for f in ctx.input_files() if PurePosixPath(f.path).suffix.lower() in TIFF + PILLOW]
    if not images:
        raise PipelineFailed("no TIFF, PNG or JPEG image among the inputs")
    summary = []
    for done, file in enumerate(images):
        ctx.check()
        pages = image_pages(file)
        for number, (image, info) in enumerate(pages):
            suffix = f".page{number + 1}" if len(pages) > 1 else ""
            preview = f"previews/{file.out_path}{suffix}.png"
            ctx.output.write_bytes(preview, preview_png(image, max_size))
            summary.append({"path": file.out_path, "page": number + 1, **info, "preview": preview})
        ctx.log(f"{file.path}: {len(pages)} page(s)")
        ctx.progress(done + 1, len(images))
    ctx.output.write_bytes("images.json", json.dumps(summary, indent=1).encode())
