"""The option table is the single source of every option: the parser, the ini keys, the run's
settings and docs/options.md are all derived from it, and each setting follows the documented
precedence (command line, ini, environment, default)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from pytest_llmeval.options import DOC_END, DOC_START, OPTIONS, RunOptions, options_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs" / "options.md"

#: Three valid non-default texts for each option that takes one (for the environment, the ini
#: file and the command line), and the values they must become.
SAMPLES = {
    "limit": (("5", "6", "7"), (5, 6, 7)),
    "max_error_rate": (("0.1", "0.2", "0.3"), (0.1, 0.2, 0.3)),
    "batch_size": (("2", "3", "4"), (2, 3, 4)),
    "concurrency": (("2", "3", "5"), (2, 3, 5)),
    "threads": (("1", "2", "3"), (1, 2, 3)),
    "timeout": (("1.5", "2.5", "12.5"), (1.5, 2.5, 12.5)),
    "cache_mode": (("off", "off", "refresh"), ("off", "off", "refresh")),
    "judge": (("a", "gpt-3.5-turbo", "openai:gpt-4o"), ("a", "gpt-3.5-turbo", "openai:gpt-4o")),
    "baseline": (("a", "gpt-4", "claude-2"), ("a", "gpt-4", "claude-2")),
    "base_url": (("http://e:1/v1", "http://i:2/v1", "http://c:3/v1"), ("http://e:1/v1", "http://i:2/v1", "http://c:3/v1")),
}


def test_the_docs_table_is_the_generated_one() -> None:
    text = DOCS.read_text(encoding="utf-8")
    between = text.split(DOC_START + "\n", 1)[1].split(DOC_END, 1)[0]
    assert between == options_markdown(), "run: python -c 'from pytest_llmeval.options import write_options_doc; write_options_doc()'"


def test_every_setting_of_the_run_comes_from_the_table() -> None:
    derived = {f.name for f in fields(RunOptions)} - {"args"}
    assert derived == {o.name for o in OPTIONS}
    for option in OPTIONS:
        assert option.flag is None or option.flag.startswith("--llm-")
        assert option.ini is None or option.ini.startswith("llm_")


def test_every_flag_and_ini_key_is_in_pytest_help(pytester: pytest.Pytester) -> None:
    out = pytester.runpytest("--help").stdout.str()
    for option in OPTIONS:
        for name in (option.flag, option.ini):
            if name is not None:
                assert name in out, name


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_command_line_beats_ini_beats_environment_beats_default(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                                name: str) -> None:
    option = next(o for o in OPTIONS if o.name == name)
    (env_text, ini_text, cli_text), (env_value, ini_value, cli_value) = SAMPLES[name]
    pytester.makeconftest(f"""
        import json
        from pytest_llmeval.state import OPTIONS
        def pytest_sessionstart(session):
            print("VALUE=" + json.dumps(getattr(session.config.stash[OPTIONS], {name!r})))
    """)

    def value(*args: str) -> str:
        return next(line for line in pytester.runpytest("-s", *args).outlines if line.startswith("VALUE="))

    assert value() == f"VALUE={_json(option.default)}"
    if option.env:
        monkeypatch.setenv(option.env, env_text)
        assert value() == f"VALUE={_json(env_value)}"
    if option.ini:
        pytester.makeini(f"[pytest]\n{option.ini} = {ini_text}\n")
        assert value() == f"VALUE={_json(ini_value)}"
    assert option.flag is not None
    assert value(f"{option.flag}={cli_text}") == f"VALUE={_json(cli_value)}"


def _json(value: object) -> str:
    import json

    return json.dumps(value)
