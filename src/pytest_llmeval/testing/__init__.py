"""Helpers for testing pytest-llmeval and the suites built on it (a fake OpenAI-compatible server)."""
