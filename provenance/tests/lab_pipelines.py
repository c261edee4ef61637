"""Pipelines a lab might register, for the tests: each breaks one rule on purpose."""

from __future__ import annotations

import time

from catalog.models import Layer
from lakeweb.jobs.models import Job
from provenance.pipelines import PipelineContext, param, pipeline

BOTH = (Layer.PROCESSED, Layer.CURATED)


@pipeline(
    name="lab.count_bytes",
    version="2.1",
    description="Writes the byte count of every input file: a lab's own pipeline.",
    reads=(Layer.RAW,),
    writes=BOTH,
    parameters=[param("label", "text", "Label", default="bytes", pattern=r"[a-z]{1,20}")],
)
def count_bytes(ctx: PipelineContext) -> None:
    lines = [f"{file.path}\t{file.size}" for file in ctx.input_files()]
    ctx.output.write_bytes(f"{ctx.params['label']}.tsv", "\n".join(lines).encode())


@pipeline(
    name="lab.raises",
    version="1",
    description="Half-writes, then raises.",
    reads=(Layer.RAW,),
    writes=BOTH,
)
def raises(ctx: PipelineContext) -> None:
    ctx.output.write_bytes("partial.txt", b"half")
    raise ValueError("the instrument file has no header")


@pipeline(
    name="lab.slow",
    version="1",
    description="Runs past its own time limit of one second.",
    reads=(Layer.RAW,),
    writes=BOTH,
    time_limit=1,
)
def slow(ctx: PipelineContext) -> None:
    ctx.output.write_bytes("started.txt", b"1")
    for _ in range(100):
        time.sleep(0.05)
        ctx.check()


@pipeline(
    name="lab.escapes",
    version="1",
    description="Writes a path with '..'.",
    reads=(Layer.RAW,),
    writes=BOTH,
)
def escapes(ctx: PipelineContext) -> None:
    ctx.output.write_bytes("ok.txt", b"fine")
    ctx.output.write_bytes("../outside.txt", b"escape")


@pipeline(
    name="lab.cancels_itself",
    version="1",
    description="Asks for its own cancellation as a person would, then keeps checking.",
    reads=(Layer.RAW,),
    writes=BOTH,
)
def cancels_itself(ctx: PipelineContext) -> None:
    ctx.output.write_bytes("started.txt", b"1")
    Job.objects.filter(pipeline_run__pipeline_name="lab.cancels_itself").update(
        cancel_requested=True
    )
    for _ in range(200):
        time.sleep(0.05)
        ctx.check()


@pipeline(
    name="lab.sleepy",
    version="1",
    description="Works for about four seconds, then writes its result: long enough to kill.",
    reads=(Layer.RAW,),
    writes=BOTH,
)
def sleepy(ctx: PipelineContext) -> None:
    for step in range(40):
        time.sleep(0.1)
        ctx.progress(step + 1, 40)
    ctx.output.write_bytes("result.txt", b"slept well")


NAMES = [
    "lab.sleepy",
    "lab.count_bytes",
    "lab.raises",
    "lab.slow",
    "lab.escapes",
    "lab.cancels_itself",
]
