"""OpenAI and every OpenAI-compatible server (vLLM, TGI, Ollama, llama.cpp, ``transformers serve``).

One concept a module: :mod:`.backend` (the :class:`OpenAIBackend`: what it sends and reads,
how a run proceeds), :mod:`.policy` (which failures are retried and how long to wait),
:mod:`.window` (the adaptive concurrency window), :mod:`.transport` (HTTP, through aiohttp).
Importing this package imports neither aiohttp nor any other HTTP library; a run does.

Example::

    from pytest_llmeval.backends.openai import OpenAIBackend

    backend = OpenAIBackend("llama3", base_url="http://127.0.0.1:11434/v1", concurrency=32)
"""

from .backend import DEFAULT_BASE_URL, KEY_VARIABLES, OnDone, OpenAIBackend, TokenLimitField, api_key_from_env
from .window import WindowState

__all__ = ["DEFAULT_BASE_URL", "KEY_VARIABLES", "OnDone", "OpenAIBackend", "TokenLimitField", "WindowState",
           "api_key_from_env"]
