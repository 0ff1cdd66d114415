"""Monitoring: circuit breaker, checkpoint streaks and the daily health report (no Dagster)."""
