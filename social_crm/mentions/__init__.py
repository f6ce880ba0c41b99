"""Mentions: storing what connectors fetch, labelling its sentiment, applying edits and deletions."""
