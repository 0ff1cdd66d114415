"""bronze_sync: a Delta Lake bronze layer that keeps everything its sources ever held."""

__version__ = "0.1.0"
