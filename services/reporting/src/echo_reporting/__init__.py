"""ECHO reporting: read models rebuilt from the event log, metrics, CSV export, a dashboard."""
