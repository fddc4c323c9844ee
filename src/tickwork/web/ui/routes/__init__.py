"""FastAPI routes of the UI: pages, partials and form actions."""
