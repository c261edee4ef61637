"""A file filter: the files of the inputs whose paths match glob patterns, as a new dataset."""

from __future__ import annotations

import shutil
from fnmatch import fnmatchcase

from catalog.models import Layer

from .context import PipelineContext, PipelineFailed
from .registry import param, pipeline

MAX_PATTERNS = 50
COPY_BUFFER = 8 * 1024 * 1024


def patterns_of(text: str) -> list[str]:
    """Patterns one per line or comma-separated, blanks dropped."""
    return [part.strip() for line in text.splitlines() for part in line.split(",") if part.strip()]


def path_selected(path: str, include: list[str], exclude: list[str]) -> bool:
    """``*`` matches across folders (``*.csv`` finds every CSV); excludes win."""
    if any(fnmatchcase(path, pattern) for pattern in exclude):
        return False
    return any(fnmatchcase(path, pattern) for pattern in include)


@pipeline(
    name="files.filter",
    version="1.0",
    description="The files whose paths match the glob patterns (e.g. *.csv, images/*.tif), "
    "copied with their folders into a new dataset.",
    reads=(Layer.RAW, Layer.PROCESSED, Layer.CURATED),
    writes=(Layer.PROCESSED, Layer.CURATED),
    parameters=[
        param(
            "include",
            "text",
            "Patterns to keep",
            required=True,
            help_text="Comma-separated globs; * matches across folders.",
            pattern=r"[^\x00]{1,2000}",
        ),
        param("exclude", "text", "Patterns to leave out", help_text="Comma-separated globs."),
    ],
)
def file_filter(ctx: PipelineContext) -> None:
    """Copy the matching files; fail when none matches."""
    include = patterns_of(ctx.params.get("include") or "")
    exclude = patterns_of(ctx.params.get("exclude") or "")
    if not include or len(include) + len(exclude) > MAX_PATTERNS:
        raise PipelineFailed(f"give 1 to {MAX_PATTERNS} patterns")
    chosen = [f for f in ctx.input_files() if path_selected(f.path, include, exclude)]
    if not chosen:
        raise PipelineFailed(f"no file matches {', '.join(include)}")
    for done, file in enumerate(chosen):
        ctx.check()
        with file.open() as source, ctx.output.open(file.out_path) as target:
            shutil.copyfileobj(source, target, COPY_BUFFER)
        ctx.progress(done + 1, len(chosen))
    ctx.log(f"{len(chosen)} of {len(ctx.input_files())} files match")
