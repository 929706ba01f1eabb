"""Model arguments written after a spec: ``hf:DIR{"dtype": "bfloat16"}``, ``vllm:ID{...}``.

One syntax for every backend that takes arguments: a JSON object straight after the target
(:func:`pytest_llmeval.registry.split_arguments` finds it), checked strictly against the
backend's own pydantic model (:func:`validate`), so a typo or a wrong type is one message
naming the argument, what it takes and the page that documents them.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..registry import ModelSpecError, split_arguments
from .base import BackendError

Arguments = TypeVar("Arguments", bound=BaseModel)


def arguments_of(target: str, model: type[Arguments], doc: str) -> tuple[str, Arguments]:
    """``target`` without its arguments, and the arguments checked against ``model`` (the
    defaults when there are none). Raises :class:`BackendError` naming the target and ``doc``."""
    try:
        bare, data = split_arguments(target)
    except ModelSpecError as exc:
        raise BackendError(f"{exc} (see {doc})") from None
    return bare, validate(model, data or {}, bare, doc)


def validate(model: type[Arguments], data: dict[str, Any], where: str, doc: str) -> Arguments:
    """``data`` checked against ``model``; one :class:`BackendError` lists every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [problem(error, model) for error in exc.errors()]
        raise BackendError(f"model arguments of {where}: " + "; ".join(problems) + f" (see {doc})") from None


def problem(error: Any, model: type[BaseModel]) -> str:
    """One pydantic error in words that name the argument and what it takes."""
    name = str(error["loc"][0]) if error["loc"] else "?"
    if error["type"] == "extra_forbidden":
        return f"{name!r} is not a model argument (known: {', '.join(model.model_fields)})"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{name!r}: {message} (got {error.get('input')!r})"
