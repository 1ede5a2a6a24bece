"""Knowledge base: chunking, the Chroma store, incremental ingest, hybrid retrieval and calibrated confidence."""
