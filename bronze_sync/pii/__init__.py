"""PII protection applied to source rows before anything is staged or written."""
