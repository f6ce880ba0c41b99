"""Mentions: storing what connectors fetch, labelling sentiment, applying edits and deletions."""
