"""Local models through transformers: a directory, a hub id or a GGUF file.

:class:`TransformersBackend` answers requests; :class:`ModelArguments` (with
:func:`split_target`) are the per-model loading arguments written after a spec;
:class:`LoadedModel` is what :meth:`TransformersBackend.loaded` hands to measurements and tests.

Modules: ``backend`` (the backend), ``loading`` (GGUF conversion, placement, ``from_pretrained``),
``arguments`` (model arguments), ``memory`` (will it fit), ``identity`` (fingerprints of what
shapes the answers), ``runtime`` (torch's threads), ``generation`` and ``decoding`` (generation,
the continuous-batch decoder, with ``slab``'s in-place key/value cache and ``fast_head``'s CPU
vocabulary projection), ``sampling`` (seeded sampling per request), ``loglikelihood``
(multiple choice).
"""

from .arguments import ModelArguments, split_target
from .backend import TransformersBackend
from .loading import DEFAULT_MODEL_CACHE, LoadedModel

__all__ = ["DEFAULT_MODEL_CACHE", "LoadedModel", "ModelArguments", "TransformersBackend", "split_target"]
