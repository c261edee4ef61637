"""Registered pipelines (``registry``), what they see (``context``), and their runs."""

from .context import InputDataset, InputFile, OutputWriter, PipelineContext, PipelineFailed
from .registry import Pipeline, param, pipeline, pipeline_get, pipelines_all

__all__ = [
    "InputDataset",
    "InputFile",
    "OutputWriter",
    "Pipeline",
    "PipelineContext",
    "PipelineFailed",
    "param",
    "pipeline",
    "pipeline_get",
    "pipelines_all",
]
