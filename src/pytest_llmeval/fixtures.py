"""The fixtures a user's own tests take: ``llm_item``, ``llm_response`` and ``llm_model``."""

from __future__ import annotations

import pytest

from .backends.base import BackendError
from .benchmarks.base import Item
from .evaluation import Evaluator
from .items import Bound, backend_failure, bound_of
from .request import Message, Request, Response
from .state import EVALUATOR


class ModelClient:
    """The ``llm_model`` fixture: ask the model under test directly from a test body.

    Example::

        def test_greets(llm_model):
            assert "hello" in llm_model.generate("Say hello.").lower()
    """

    def __init__(self, evaluator: Evaluator, model: str) -> None:
        self.evaluator = evaluator
        self.name = model

    def ask(self, request: Request) -> Response:
        """One request, answered (and cached) like a benchmark item's."""
        return self.evaluator.models.engine.answer(self.name, [request])[1]

    def generate(self, prompt: str, *, system: str | None = None, max_tokens: int = 256) -> str:
        """Chat-generate a reply to ``prompt`` (cached like every request); raises on backend errors."""
        messages = ((Message("system", system),) if system else ()) + (Message("user", prompt),)
        response = self.ask(Request(messages=messages, max_tokens=max_tokens))
        if not response.ok:
            raise BackendError(f"{self.name}: {response.error or response.skip}")
        return response.text


@pytest.fixture
def llm_item(request: pytest.FixtureRequest) -> Item:
    """The benchmark item of a test decorated with ``benchmark.each``."""
    bound = getattr(request, "param", None)
    if not isinstance(bound, Bound):
        raise pytest.UsageError(f"{request.node.nodeid}: llm_item is only available in tests decorated with BENCHMARK.each")
    return bound.item


@pytest.fixture
def llm_response(request: pytest.FixtureRequest, llm_item: Item) -> Response:
    """The model's response to ``llm_item`` (answered ahead of the tests, from the cache on reruns).

    Backend errors make the test error; a missing recording skips it.
    """
    bound = bound_of(request.node)
    assert bound is not None
    response = request.config.stash[EVALUATOR].models.engine.answer(bound.model, llm_item.requests)[1]
    if response.skip is not None:
        pytest.skip(response.skip)
    if response.error is not None:
        backend_failure(f"{bound.model}: {response.error}")
    return response


@pytest.fixture
def llm_model(request: pytest.FixtureRequest) -> ModelClient:
    """A client for the model under test (the first ``--llm-model``, or this test's model)."""
    evaluator = request.config.stash[EVALUATOR]
    bound = bound_of(request.node)
    return ModelClient(evaluator, bound.model if bound else evaluator.models.names[0])


__all__ = ["ModelClient", "llm_item", "llm_model", "llm_response"]
