"""Registered pipelines: Python callables a worker runs to make a dataset (SPEC §2, Derivation).

A lab registers its own without editing lakeweb: a module of its own uses the
decorator and is named in ``LAKEWEB_PIPELINE_MODULES``, which the provenance
AppConfig loads::

    @pipeline(
        name="tables.csv_to_parquet", version="1.0", description="...",
        reads=("raw", "processed"), writes=("processed", "curated"),
        parameters=[param("compression", "choice", "Compression", choices=["zstd", "none"])],
    )
    def csv_to_parquet(ctx: PipelineContext) -> None: ...

Parameters are declared as metadata form fields are (``catalog.metadata``),
so the same form code renders and validates them. The code digest is the
SHA-256 of the module source that holds the callable: provenance says
exactly which code made a dataset.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

from catalog.metadata import field_definition_check
from catalog.models import FieldType, Layer

if TYPE_CHECKING:
    from .context import PipelineContext

Body = Callable[["PipelineContext"], Any]
NAME = re.compile(r"[a-z][a-z0-9_.-]{0,99}")
MAX_PARAMETERS = 50


@dataclass(frozen=True)
class Pipeline:
    """One registered pipeline: what it is, what it reads and writes, what it asks for."""

    name: str
    version: str
    description: str
    body: Body
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    parameters: tuple[dict[str, Any], ...] = ()
    # Distributions whose versions provenance records (python and Django always).
    software: tuple[str, ...] = ()
    # Seconds a run may take; the job kind's limit (PIPELINE_TIME_LIMIT) caps it.
    time_limit: int | None = None
    module: str = ""
    code_digest: str = field(default="", compare=False)

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


_PIPELINES: dict[str, Pipeline] = {}


def param(
    name: str,
    type: str,
    prompt: str,
    *,
    help_text: str = "",
    required: bool = False,
    choices: Sequence[str] = (),
    default: str = "",
    min: str | int | None = None,
    max: str | int | None = None,
    pattern: str = "",
) -> dict[str, Any]:
    """A parameter, as the definition of a metadata form field (``field_definition``)."""
    return {
        "name": name,
        "prompt": prompt,
        "help_text": help_text,
        "type": type,
        "required": required,
        "choices": list(choices),
        "default": default,
        "min": str(min) if min is not None else None,
        "max": str(max) if max is not None else None,
        "pattern": pattern,
    }


def code_digest(module_name: str) -> str:
    """SHA-256 of the source of the module that holds a pipeline."""
    source = inspect.getsource(sys.modules[module_name])
    return hashlib.sha256(source.encode()).hexdigest()


def _check(spec: Pipeline) -> None:
    problems = []
    if not NAME.fullmatch(spec.name):
        problems.append(f"pipeline name {spec.name!r} is not lower-case letters, digits, ._-")
    if not spec.version or len(spec.version) > 50:
        problems.append(f"pipeline {spec.name}: a version of 1 to 50 characters is needed")
    bad_layers = set(spec.reads + spec.writes) - set(Layer.values)
    if bad_layers:
        problems.append(f"pipeline {spec.name}: unknown layers {sorted(bad_layers)}")
    if Layer.RAW in spec.writes or not spec.writes or not spec.reads:
        problems.append(f"pipeline {spec.name}: it must read a layer and write outside raw")
    if len(spec.parameters) > MAX_PARAMETERS:
        problems.append(f"pipeline {spec.name}: more than {MAX_PARAMETERS} parameters")
    for definition in spec.parameters:
        if definition["type"] not in FieldType.values:
            problems.append(f"parameter {definition['name']}: unknown type {definition['type']}")
            continue
        try:
            field_definition_check(definition)
        except ValidationError as exc:
            problems.append(f"parameter {definition['name']}: {'; '.join(exc.messages)}")
    if problems:
        raise ValueError("; ".join(problems))


def pipeline(
    *,
    name: str,
    version: str,
    description: str,
    reads: Sequence[str],
    writes: Sequence[str],
    parameters: Sequence[dict[str, Any]] = (),
    software: Sequence[str] = (),
    time_limit: int | None = None,
) -> Callable[[Body], Body]:
    """Register ``body`` as a pipeline; a second registration of ``name`` replaces the first."""

    def register(body: Body) -> Body:
        spec = Pipeline(
            name=name,
            version=version,
            description=description,
            body=body,
            reads=tuple(reads),
            writes=tuple(writes),
            parameters=tuple(parameters),
            software=tuple(software),
            time_limit=time_limit,
            module=body.__module__,
            code_digest=code_digest(body.__module__),
        )
        _check(spec)
        _PIPELINES[name] = spec
        return body

    return register


def pipelines_load(modules: Sequence[str]) -> None:
    """Import the modules that register pipelines (``LAKEWEB_PIPELINE_MODULES``)."""
    for module in modules:
        importlib.import_module(module)


def pipeline_get(name: str) -> Pipeline:
    """The pipeline registered under ``name``; LookupError if there is none."""
    try:
        return _PIPELINES[name]
    except KeyError:
        raise LookupError(name) from None


def pipelines_all() -> list[Pipeline]:
    return sorted(_PIPELINES.values(), key=lambda spec: spec.name)


def pipeline_unregister(name: str) -> None:
    """Forget a pipeline (tests register their own and clean up after)."""
    _PIPELINES.pop(name, None)
