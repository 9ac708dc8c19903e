"""Files to index: read (``loading``), cut into citable units and passages (``chunking``), embedded
(``embedding``), stored in Chroma with their BM25 terms (``store``, ``keyword``), incrementally and
one writer at a time (``ingest``, ``lock``)."""
