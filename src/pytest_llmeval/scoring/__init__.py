"""Scoring: the scorer contract, answer extraction, and the built-in scorers."""
