"""Tables: CSV and TSV files to Parquet, with the schema pyarrow inferred beside each."""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from catalog.models import Layer

from .context import PipelineContext, PipelineFailed
from .registry import param, pipeline

SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
DELIMITERS = {"comma": ",", "tab": "\t", "semicolon": ";"}
# pyarrow infers column types from the first block: a large one sees more rows.
BLOCK_SIZE = 16 * 1024 * 1024


def csv_convert(
    source: IO[bytes], target: str, *, delimiter: str, compression: str
) -> dict[str, Any]:
    """Stream one CSV into a Parquet file (constant memory); its schema and row count.

    The conversion itself, shared by the pipeline and its benchmark.
    """
    reader = pacsv.open_csv(
        source,
        read_options=pacsv.ReadOptions(block_size=BLOCK_SIZE),
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
    )
    rows = 0
    codec = None if compression == "none" else compression
    with pq.ParquetWriter(target, reader.schema, compression=codec) as writer:
        for batch in reader:
            writer.write_batch(batch)
            rows += batch.num_rows
    return {"rows": rows, "schema": schema_json(reader.schema)}


def schema_json(schema: pa.Schema) -> list[dict[str, Any]]:
    return [
        {"name": column.name, "type": str(column.type), "nullable": column.nullable}
        for column in schema
    ]


def _delimiter(path: str, choice: str) -> str | None:
    if choice != "auto":
        return DELIMITERS[choice]
    return SUFFIXES.get(PurePosixPath(path).suffix.lower())


@pipeline(
    name="tables.csv_to_parquet",
    version="1.0",
    description="CSV and TSV files to Parquet, each with the schema pyarrow inferred "
    "(<name>.schema.json); other files are left out.",
    reads=(Layer.RAW, Layer.PROCESSED, Layer.CURATED),
    writes=(Layer.PROCESSED, Layer.CURATED),
    parameters=[
        param(
            "delimiter",
            "choice",
            "Delimiter",
            choices=["auto", "comma", "tab", "semicolon"],
            default="auto",
            required=True,
            help_text="auto: comma for .csv, tab for .tsv and .tab",
        ),
        param(
            "compression",
            "choice",
            "Parquet compression",
            choices=["zstd", "snappy", "none"],
            default="zstd",
            required=True,
        ),
    ],
    software=("pyarrow",),
)
def csv_to_parquet(ctx: PipelineContext) -> None:
    """Convert every table of the inputs; fail if there is none."""
    choice = ctx.params.get("delimiter") or "auto"
    tables = [
        (file, _delimiter(file.path, choice))
        for file in ctx.input_files()
        if PurePosixPath(file.path).suffix.lower() in SUFFIXES
    ]
    if not tables:
        raise PipelineFailed("no CSV or TSV file (.csv, .tsv, .tab) among the inputs")
    for done, (file, delimiter) in enumerate(tables):
        ctx.check()
        stem = str(PurePosixPath(file.out_path).with_suffix(""))
        with file.open() as source:
            try:
                info = csv_convert(
                    source,
                    str(ctx.output.path(f"{stem}.parquet")),
                    delimiter=delimiter or ",",
                    compression=ctx.params.get("compression") or "zstd",
                )
            except pa.ArrowInvalid as exc:
                raise PipelineFailed(f"{file.path} is not a table pyarrow can read: {exc}") from exc
        schema = {"source": file.path, "rows": info["rows"], "columns": info["schema"]}
        ctx.output.write_bytes(f"{stem}.schema.json", json.dumps(schema, indent=1).encode())
        ctx.log(f"{file.path}: {info['rows']} rows, {len(info['schema'])} columns")
        ctx.progress(done + 1, len(tables))
