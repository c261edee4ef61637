"""What a dataset's provenance and files download as (issue 13, item 5).

- ``prov``: the lineage as a W3C PROV document built with the ``prov`` library,
  so that what lakeweb serves is what the reference implementation reads.
- ``crate``: the dataset as an RO-Crate 1.1 zip (Process Run Crate for
  datasets a process made from others).
- ``bag``: the dataset as a BagIt bag (RFC 8493) in a zip.

Both archives stream through catalog's ``zip_stream`` in constant memory,
and check every file's bytes against its stored SHA-256 as they pass.
"""
