"""Serving the app to a class: several app processes behind HAProxy (docs/deploy.md)."""
