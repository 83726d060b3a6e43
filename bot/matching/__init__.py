"""Matching customer questions to FAQ entries: analysis, index, ranking, decisions."""
