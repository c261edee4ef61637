"""Catalog models. Import from here; the modules are the implementation."""

from .coldtier import ColdRestore, ColdRestoreState
from .datasets import DataFile, DataFolder, Dataset, DatasetStatus, Layer, Source, Tag
from .events import Activity, ProvenanceEvent
from .fixity import FixityFailure, FixityKind
from .forms import FieldType, MetadataField, MetadataForm, MetadataFormVersion
from .promotions import Promotion
from .tallies import CatalogVersion, DatasetTally, FieldValueTally, TagTally
from .uploads import DerivationSource, UploadFile, UploadPart

__all__ = [
    "Activity",
    "CatalogVersion",
    "ColdRestore",
    "ColdRestoreState",
    "DataFile",
    "DataFolder",
    "Dataset",
    "DatasetStatus",
    "DatasetTally",
    "DerivationSource",
    "FieldType",
    "FieldValueTally",
    "FixityFailure",
    "FixityKind",
    "Layer",
    "MetadataField",
    "MetadataForm",
    "MetadataFormVersion",
    "Promotion",
    "ProvenanceEvent",
    "Source",
    "Tag",
    "TagTally",
    "UploadFile",
    "UploadPart",
]
