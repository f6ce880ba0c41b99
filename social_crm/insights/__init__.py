"""Read-only views across domains for the dashboard: mention search and the overview."""
