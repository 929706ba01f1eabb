"""The embedded model as a directory a server can load, for the perf scripts that serve it.

The transformers backend converts the embedded GGUF once into the model cache
(``~/.cache/pytest-llmeval/models/<stem>-<fingerprint>``); vLLM serves that directory. Its
path is computed here the way the backend names it, and the conversion is run through the
backend's public ``load()`` when it is missing.
"""

from __future__ import annotations

from pathlib import Path


def embedded_directory() -> Path:
    """The converted embedded model's directory (converted now if it is not there yet)."""
    from pytest_llmeval.backends.transformers import TransformersBackend
    from pytest_llmeval.registry import embedded_model_file

    return TransformersBackend("gguf", str(embedded_model_file())).converted_directory()
