"""pytest-llmeval: model regression testing as pytest tests.

Public API (everything else is internal)::

    from pytest_llmeval import Benchmark, FewShot, scorers, Score, Request, Response, Message
"""

from .backends.base import Backend, BackendError
from .benchmarks.base import Benchmark, Item
from .benchmarks.data import DatasetError
from .benchmarks.fewshot import FewShot
from .request import Message, Request, Response, ToolCall
from .scoring import scorers
from .scoring.base import Score, Scorer

__all__ = [
    "Backend",
    "BackendError",
    "Benchmark",
    "DatasetError",
    "FewShot",
    "Item",
    "Message",
    "Request",
    "Response",
    "Score",
    "Scorer",
    "ToolCall",
    "scorers",
]
