"""pytest-llmeval: model regression testing as pytest tests.

Public API (everything else is internal)::

    from pytest_llmeval import Benchmark, scorers, Score, Request, Response, Message
"""

from .backends.base import Backend, BackendError
from .benchmarks.base import Benchmark, Item
from .benchmarks.data import DatasetError
from .request import Message, Request, Response, ToolCall
from .scoring import scorers
from .scoring.base import Score, Scorer

__all__ = [
    "Backend",
    "BackendError",
    "Benchmark",
    "DatasetError",
    "Item",
    "Message",
    "Request",
    "Response",
    "Score",
    "Scorer",
    "ToolCall",
    "scorers",
]
