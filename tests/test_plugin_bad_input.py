"""Bad input is refused with one clear message that names what and where: a collection error
naming the file, the line and the field for a broken dataset; a usage error that says what to
do for a bad option. Never a traceback from deep inside the plugin."""

from __future__ import annotations

import pytest

from conftest import INNER_CONFTEST, INNER_INI, Project

ORACLE = "--llm-model=script:oracle"

BENCHMARK = """
from pytest_llmeval import Benchmark, scorers

test_capitals = Benchmark("capitals", capability="geography", data={data!r},
                          prompt="What is the capital of {{country}}?", target="capital", scorer=scorers.includes())
"""

GOOD = '{"country": "France", "capital": "Paris"}\n'


def no_deep_traceback(result: pytest.RunResult) -> None:
    text = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in text
    assert "Traceback" not in text
    assert "pytest_llmeval/benchmarks" not in text


def collect_broken(project: Project, name: str, content: bytes) -> pytest.RunResult:
    (project.path / name).write_bytes(content)
    project.pytester.makepyfile(test_geo=BENCHMARK.format(data=name))
    result = project.run(ORACLE)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting test_geo.py*"])
    no_deep_traceback(result)
    assert project.inferences() == 0
    return result


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (GOOD + '{"country": "Japan", "capital": }\n', "capitals.jsonl, line 2: not valid JSON (Expecting value at column 33)"),
        (GOOD + '{"country": "Japan", "capital": "Tokyo"\n', "capitals.jsonl, line 2: not valid JSON*"),
        (GOOD + '["Japan", "Tokyo"]\n', "capitals.jsonl, line 2: each line must be a JSON object, found list"),
        (GOOD + GOOD + '{"capital": "Nairobi"}\n', "capitals.jsonl, line 3, field 'country': row has no field 'country'*"),
        (GOOD + '{"country": "Japan"}\n', "capitals.jsonl, line 2, field 'capital': row has no field 'capital' (fields: country)"),
        (b"", "*capitals.jsonl: has no rows"),
        ("\n\n  \n", "*capitals.jsonl: has no rows"),
        ('{"country": "Canada", "capital": "Qu\u00e9bec"}\n'.encode("latin-1"), "*capitals.jsonl: not UTF-8 text*re-save it as UTF-8"),
    ],
    ids=["bad-json", "unclosed", "not-an-object", "missing-prompt-field", "missing-target-field", "empty", "blank-lines",
         "latin-1"],
)
def test_a_broken_jsonl_file_is_a_collection_error_naming_file_line_and_field(
    project: Project, content: str | bytes, message: str
) -> None:
    data = content.encode("utf-8") if isinstance(content, str) else content
    result = collect_broken(project, "capitals.jsonl", data)
    result.stdout.fnmatch_lines([f"*{message}"])


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("capitals.csv", b"country,capital\nFrance,Paris\nJapan,Tokyo,extra\n", "capitals.csv, line 3: has more cells than the header's 2 columns"),
        ("capitals.csv", b"country,capital\n", "capitals.csv: has no rows"),
        ("capitals.csv", b"land,capital\nFrance,Paris\n", "capitals.csv, line 2, field 'country': row has no field 'country'*"),
        ("capitals.txt", b"France Paris\n", "capitals.txt: unsupported file type '.txt': use .jsonl, .json, .csv or .parquet"),
        ("capitals.json", b'{"rows": [{"country": "France", "capital": "Paris"}', "capitals.json, line 1: not valid JSON*"),
        ("capitals.jsonl.gz", b"\x1f\x8b not really gzip", "capitals.jsonl.gz: cannot be read*"),
    ],
    ids=["csv-extra-cells", "csv-header-only", "csv-missing-column", "unsupported-suffix", "json-truncated", "bad-gzip"],
)
def test_other_broken_files_are_collection_errors_too(project: Project, name: str, content: bytes, message: str) -> None:
    result = collect_broken(project, name, content)
    result.stdout.fnmatch_lines([f"*{message}"])


def test_a_missing_data_file_names_where_it_was_looked_for(project: Project) -> None:
    project.pytester.makepyfile(test_geo=BENCHMARK.format(data="nowhere.jsonl"))
    result = project.run(ORACLE)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([f"*{project.path / 'nowhere.jsonl'}: no such file*"])
    no_deep_traceback(result)


def test_a_prompt_function_that_fails_on_a_row_is_a_collection_error(project: Project) -> None:
    project.pytester.makepyfile(
        test_geo="""
        from pytest_llmeval import Benchmark, scorers

        test_sums = Benchmark("sums", capability="arithmetic", data=[{"a": 1, "b": 2}, {"a": 1, "b": None}],
                              prompt=lambda row: "What is %d + %d?" % (row["a"], row["b"]),
                              target=lambda row: row["a"] + row["b"], scorer=scorers.number())
        """
    )
    result = project.run(ORACLE)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*line 2: item * could not be made from its row: TypeError: *"])


def test_only_the_broken_file_fails_to_collect(project: Project) -> None:
    project.pytester.makefile(".jsonl", good=GOOD, bad=GOOD + "{oops\n")
    project.pytester.makepyfile(test_good=BENCHMARK.format(data="good.jsonl"), test_bad=BENCHMARK.format(data="bad.jsonl"))
    result = project.run(ORACLE, "--continue-on-collection-errors")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*bad.jsonl, line 2: not valid JSON*"])


def test_a_row_with_an_unpaired_surrogate_is_refused_clearly(project: Project) -> None:
    project.pytester.makefile(".jsonl", capitals=GOOD + '{"country": "Fr\\ud800nce", "capital": "Paris"}\n')
    project.pytester.makepyfile(test_geo=BENCHMARK.format(data="capitals.jsonl"))
    result = project.run(ORACLE)
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["*capitals.jsonl, line 2*"])


def test_a_broken_dataset_behind_a_suite_is_a_usage_error(project: Project) -> None:
    project.pytester.makefile(".jsonl", capitals=GOOD + "{oops\n")
    project.pytester.makeconftest(
        INNER_CONFTEST
        + "\n\nfrom pytest_llmeval import Benchmark, scorers\n\n"
        "def pytest_llmeval_benchmarks(config):\n"
        "    return [Benchmark('capitals', capability='geography', data=str(config.rootpath / 'capitals.jsonl'),\n"
        "                      prompt='Capital of {country}?', target='capital', scorer=scorers.includes())]\n"
    )
    result = project.run(ORACLE, "--llm-suite=geography")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: benchmark 'capitals': *capitals.jsonl, line 2: not valid JSON*"])
    no_deep_traceback(result)


# -- options -------------------------------------------------------------------------------------


def usage_error(project: Project, *args: str) -> str:
    result = project.run(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    no_deep_traceback(result)
    assert project.inferences() == 0
    return result.stderr.str()


def test_an_unknown_model_lists_the_aliases(project: Project) -> None:
    err = usage_error(project, "--llm-model=gpt-5-ultra", "--llm-suite=gsm8k")
    assert "--llm-model: unknown model 'gpt-5-ultra'." in err
    for alias in ("llama-2-70b-chat", "gpt-3.5-turbo", "gpt-4", "smollm2-135m-instruct", "zephyr-7b-beta"):
        assert alias in err
    assert "hf, gguf, openai, vllm, recorded, script" in err  # the schemes, the plugin-registered one too


def test_a_misspelt_model_gets_a_hint(project: Project) -> None:
    err = usage_error(project, "--llm-model=llama-2-70b", "--llm-suite=gsm8k")
    assert "Did you mean llama-2-70b-chat?" in err


def test_an_unknown_scheme_is_an_unknown_model(project: Project) -> None:
    err = usage_error(project, "--llm-model=ollama:llama3")
    assert "unknown model 'ollama:llama3'" in err


@pytest.mark.parametrize(("spec", "message"), [
    ("--llm-model=hf:./nowhere", "--llm-model=hf:./nowhere: no model directory at */nowhere; relative paths are read "
                                 "from the current directory. Give a local path that exists, or a hub id as ORG/NAME"),
    ("--llm-model=vllm:~/nowhere-llmeval", "--llm-model=vllm:~/nowhere-llmeval: no model directory at */nowhere-llmeval;*"),
    ("--llm-model=gguf:./weights.gguf", "--llm-model=gguf:./weights.gguf: no GGUF file at */weights.gguf;*"),
    ("--llm-model=hf:./m{bad json", "*no model directory at */m{bad json (model arguments go in a JSON object after "
                                    "it: {\"dtype\": \"bfloat16\"})*"),
    ("--llm-model=hf:./m{'dtype': 1}", "--llm-model: model arguments of \"./m{'dtype': 1}\" are not a JSON object*"),
    ("--llm-model=recorded:gtp-4", "--llm-model=recorded:gtp-4: no built-in recorded set is named 'gtp-4' (claude, *gpt-4*);"
                                   " a transcript file is named by its path (see docs/recorded.md)"),
    ("--llm-baseline=recorded:chatgtp", "--llm-baseline=recorded:chatgtp: no built-in recorded set is named 'chatgtp'*"),
])
def test_local_weights_and_recordings_that_are_not_there_are_usage_errors(project: Project, spec: str,
                                                                         message: str) -> None:
    err = usage_error(project, spec, "--llm-suite=gsm8k")
    assert any(pytest_fnmatch(line, f"*{message}*") for line in err.splitlines()), err
    assert project.inferences() == 0


def test_the_same_model_twice_is_refused(project: Project) -> None:
    err = usage_error(project, ORACLE, ORACLE)
    assert "the same model is named twice" in err


def test_an_unknown_suite_lists_capabilities_and_benchmarks(project: Project) -> None:
    err = usage_error(project, ORACLE, "--llm-suite=astrology")
    assert "--llm-suite: unknown suite 'astrology'. Use 'capabilities', a capability (" in err
    for name in ("reasoning", "general", "gsm8k", "mmlu"):
        assert name in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--llm-limit=0",), "argument --llm-limit: expected a number of at least 1, got 0"),
        (("--llm-limit=-3",), "argument --llm-limit: expected a number of at least 1, got -3"),
        (("--llm-limit=ten",), "argument --llm-limit: expected a whole number, got 'ten'"),
        (("--llm-max-error-rate=2",), "argument --llm-max-error-rate: expected a fraction between 0 and 1, got 2.0"),
        (("--llm-timeout=0",), "argument --llm-timeout: expected a positive number of seconds, got 0.0"),
        (("--llm-cache=sometimes",), "argument --llm-cache: invalid choice: 'sometimes'*"),
        (("--llm-pin",), "--llm-pin writes the thresholds file: name it with --llm-thresholds=PATH*"),
        (("--llm-scorecard=card.txt",), "--llm-scorecard *card.txt: the file name must end in .json, .md or .html"),
        (("--llm-scorecard=card",), "--llm-scorecard *card: the file name must end in .json, .md or .html"),
        (("--llm-cache-dir=conftest.py/cache",), "--llm-cache-dir */conftest.py/cache: */conftest.py is a file, not a "
                                                 "directory; choose a directory you can write to, or turn the cache "
                                                 "off with --llm-cache=off"),
        (("--llm-temperature=gsm8kk=0.5",), "--llm-temperature=gsm8kk=...: no benchmark is named 'gsm8kk' (did you "
                                            "mean 'gsm8k'?). Known benchmarks: *gsm8k*"),
        (("--llm-seed=nosuch=1", "--llm-protocol=astrology=3-shot"), "--llm-seed=nosuch=...: no benchmark is named "
                                                                     "'nosuch'; --llm-protocol=astrology=...: no "
                                                                     "benchmark is named 'astrology'. Known benchmarks*"),
    ],
    ids=["limit-zero", "limit-negative", "limit-word", "error-rate", "timeout", "cache-mode", "pin-alone",
         "scorecard-suffix", "scorecard-no-suffix", "cache-dir-file", "misspelt-benchmark", "unknown-benchmarks"],
)
def test_bad_options_are_usage_errors_that_say_what_to_do(project: Project, args: tuple[str, ...], message: str) -> None:
    err = usage_error(project, ORACLE, "--llm-suite=gsm8k", *args)
    assert any(pytest_fnmatch(line, f"*{message}*") for line in err.splitlines()), err


def test_a_benchmark_of_a_test_module_can_be_named(project: Project) -> None:
    (project.path / "capitals.jsonl").write_text(GOOD)
    project.pytester.makepyfile(test_geo=BENCHMARK.format(data="capitals.jsonl"))
    result = project.run(ORACLE, "--llm-max-tokens=capitals=8", "--llm-max-tokens=mmlu=4")
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        ("llm_limit = zero", "ini option llm_limit = 'zero': expected a whole number, got 'zero'"),
        ("llm_cache = sometimes", "ini option llm_cache = 'sometimes': use one of on, off, refresh"),
        ("llm_max_error_rate = 5%", "ini option llm_max_error_rate = '5%': expected a fraction between 0 and 1*"),
        ("llm_aliases = mine", "llm_aliases: 'mine' is not of the form 'name = scheme:target'"),
    ],
)
def test_bad_ini_values_are_usage_errors(project: Project, ini: str, message: str) -> None:
    project.pytester.makeini(INNER_INI + ini + "\n")
    err = usage_error(project, ORACLE)
    assert any(pytest_fnmatch(line, f"*{message}*") for line in err.splitlines()), err


def pytest_fnmatch(text: str, pattern: str) -> bool:
    from fnmatch import fnmatch

    return fnmatch(text, pattern)
