"""The reliability suite (issue 12): bad input of every kind, kills during ingest, hostile documents and
models, exports and limits, and a property-based fuzz of every endpoint. Nothing may crash a process,
answer 500, or lose the last good index."""
