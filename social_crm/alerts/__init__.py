"""Alerts: escalation rules, one alert per conversation, lifecycle, SLA, spikes, source health."""
