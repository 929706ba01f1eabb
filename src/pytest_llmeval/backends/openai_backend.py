"""The OpenAI-compatible backend's former module path, kept so that existing imports work.

The backend is the package :mod:`pytest_llmeval.backends.openai`; import it from there.
"""

from .openai import DEFAULT_BASE_URL, KEY_VARIABLES, OpenAIBackend, api_key_from_env

__all__ = ["DEFAULT_BASE_URL", "KEY_VARIABLES", "OpenAIBackend", "api_key_from_env"]
