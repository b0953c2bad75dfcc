"""Media on disk: storage, image processing, and (later) ingest, HLS and thumbnails."""
