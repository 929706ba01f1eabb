"""A scripted backend for testing pipelines without a model (like inspect's mock model).

Register it in a ``conftest.py``::

    from pytest_llmeval.testing.scripted import ScriptedBackend

    def pytest_llmeval_backends(config):
        return {"script": lambda spec, context: ScriptedBackend(spec.target)}

then ``pytest --llm-model=script:oracle``. Behaviours (the spec's target):

- ``oracle``: answers every item of the benchmarks it is given correctly (looked up by request);
- ``wrong``: always answers something wrong (a wrong option for multiple choice);
- ``error``: every request fails, as a backend outage would;
- ``echo``: repeats the prompt;
- ``flaky``: every third request fails;
- ``noisy``: right or wrong by a hash of the whole request (its sample index and item
  included), as a sampling model would be: each sample of an item can differ, and the same
  sample always answers the same.

When ``LLMEVAL_SCRIPT_LOG`` names a file, one line is appended per answered request, so a
test can count how much inference a run performed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

from ..request import Request, Response


class ScriptedBackend:
    name = "script"

    def __init__(self, behaviour: str, benchmarks: Sequence[Any] | None = None) -> None:
        if behaviour not in ("oracle", "wrong", "error", "echo", "flaky", "noisy"):
            raise ValueError(f"unknown scripted behaviour {behaviour!r}")
        self.behaviour = behaviour
        self._benchmarks = benchmarks
        self._answers: dict[str, Any] | None = None
        self.calls = 0

    def identity(self) -> dict[str, Any]:
        return {"backend": "script", "behaviour": self.behaviour}

    def check(self) -> None:
        pass

    def describe(self) -> str:
        return f"scripted backend ({self.behaviour})"

    def supports(self, request: Request) -> bool:
        return True

    def close(self) -> None:
        pass

    def _targets(self) -> dict[str, Any]:
        if self._answers is None:
            benchmarks = self._benchmarks
            if benchmarks is None:
                from ..benchmarks import gsm8k, mmlu

                benchmarks = gsm8k.benchmarks() + mmlu.benchmarks()
            self._answers = {}
            for bench in benchmarks:
                for item in bench.items():
                    for request in item.requests:
                        self._answers[_key(request)] = item.target
        return self._answers

    def run(self, requests: Sequence[Request], progress: Any) -> Iterator[tuple[int, Response]]:
        log = os.environ.get("LLMEVAL_SCRIPT_LOG")
        for index, request in enumerate(requests):
            self.calls += 1
            response = self._answer(request)
            if log:
                with open(log, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps({"behaviour": self.behaviour, "prompt": request.text()[:80]}) + "\n")
            progress(1)
            yield index, response

    def _answer(self, request: Request) -> Response:
        if self.behaviour == "error" or (self.behaviour == "flaky" and self.calls % 3 == 0):
            return Response(error="HTTP 503: scripted outage")
        if self.behaviour == "echo":
            return Response(text=request.text())
        target = self._targets().get(_key(request))
        right = self.behaviour == "oracle" or (self.behaviour == "noisy" and _coin(request))
        if request.kind == "loglikelihood":
            wrong = next(c for c in reversed(request.choices) if c != target)
            pick = target if right and target in request.choices else wrong
            return Response(choice_logprobs=[0.0 if c == pick else -5.0 for c in request.choices])
        if right and target is not None:
            return Response(text=f"Let me think. The answer is {target}.\n#### {target}")
        return Response(text="I am not sure. The answer is 123456789.\n#### 123456789")


def _key(request: Request) -> str:
    return json.dumps([request.kind, [[m.role, m.content] for m in request.messages], request.prompt])


def _coin(request: Request) -> bool:
    digest = hashlib.sha256(json.dumps(request.identity(), sort_keys=True).encode()).digest()
    return digest[0] % 2 == 0
