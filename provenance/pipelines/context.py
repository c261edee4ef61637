"""What a pipeline callable gets: its inputs, an output writer, parameters, log, progress.

Inputs are read through the layer stores (``lakeweb.storage``); the output is
written to a staging folder of the run, checked path by path (a path that
leaves the folder fails the run), and only sealed as a dataset by the run
service once the callable has returned.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import ValidationError

from catalog.services import clean_path
from lakeweb.storage import layer_store


class PipelineFailed(Exception):
    """A pipeline cannot do what it was asked (no input it can use, a bad file): the run fails."""


@dataclass(frozen=True)
class InputFile:
    """One file of an input dataset, read as a stream from its layer's store."""

    path: str
    size: int
    sha256: str
    content_type: str
    layer: str
    storage_key: str
    # Where its outputs go: its path, under its dataset's id when a run has several inputs.
    out_prefix: str = ""

    @property
    def out_path(self) -> str:
        return f"{self.out_prefix}{self.path}"

    def open(self) -> IO[bytes]:
        return layer_store(self.layer).open(self.storage_key)


@dataclass(frozen=True)
class InputDataset:
    id: str
    name: str
    layer: str
    manifest_digest: str
    files: tuple[InputFile, ...]


def unsafe_path_reason(relative: str) -> str | None:
    """Why a path a pipeline writes may not be stored (``..``, absolute, control characters)."""
    try:
        clean_path(relative)
    except ValidationError as exc:
        return " ".join(exc.messages)
    return None


class OutputWriter:
    """Files of the new dataset, written into the run's staging folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, relative: str) -> Path:
        """A local path to write ``relative`` at (its folders made); a path outside fails."""
        reason = unsafe_path_reason(relative)
        if reason is not None:
            raise PipelineFailed(f"the pipeline wrote a path lakeweb refuses: {reason}")
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def open(self, relative: str) -> IO[bytes]:
        return self.path(relative).open("wb")

    def write_bytes(self, relative: str, data: bytes) -> None:
        with self.open(relative) as handle:
            handle.write(data)

    def files(self) -> Iterator[tuple[str, Path]]:
        """(relative POSIX path, local path) of every file written, sorted; symlinks included."""
        found = []
        for folder, _dirs, names in os.walk(self.root):
            for name in names:
                local = Path(folder) / name
                found.append((local.relative_to(self.root).as_posix(), local))
        return iter(sorted(found))


@dataclass
class PipelineContext:
    """The small world a pipeline sees."""

    inputs: list[InputDataset]
    output: OutputWriter
    params: dict[str, Any]
    _log: Callable[[str], None]
    _progress: Callable[[int, int], None]
    _check: Callable[[], None]
    extras: dict[str, Any] = field(default_factory=dict)

    def log(self, line: str) -> None:
        self._log(line)

    def progress(self, done: int, total: int) -> None:
        self._progress(done, total)

    def check(self) -> None:
        """Raise if the run must stop (cancelled, past its time limit): call it between steps."""
        self._check()

    def input_files(self) -> list[InputFile]:
        return [file for dataset in self.inputs for file in dataset.files]
