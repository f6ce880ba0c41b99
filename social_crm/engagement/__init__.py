"""Engagement: reply templates, drafts people approve, guarded sending, what replies achieved."""
