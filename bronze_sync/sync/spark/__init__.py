"""The spark engine: the same sync planned and written by a Spark cluster (Spark Connect)."""
