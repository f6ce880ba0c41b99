"""Ambassadors: explainable scores, the ranking, and people's review decisions."""
