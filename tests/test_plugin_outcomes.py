"""Outcomes and exit status: right answers pass, wrong ones fail without failing the run,
backend failures error and fail it beyond the allowed rate, ordinary tests decide as usual."""

from __future__ import annotations

import pytest

from conftest import INNER_INI, SUITE, Project

ORACLE = "--llm-model=script:oracle"


def test_right_answers_pass(project: Project) -> None:
    result = project.run(*SUITE, ORACLE)
    result.assert_outcomes(passed=10)
    assert result.ret == pytest.ExitCode.OK
    assert project.inferences() == 10


def test_wrong_answers_are_one_line_each_with_a_summary_of_their_kinds(project: Project) -> None:
    result = project.run(*SUITE, "--llm-model=script:wrong")
    result.assert_outcomes(failed=10)
    assert result.ret == pytest.ExitCode.OK
    failures = result.outlines[result.outlines.index(next(line for line in result.outlines if "FAILURES" in line)):
                               next(i for i, line in enumerate(result.outlines) if "llmeval scorecard" in line)]
    details = [line for line in failures if line.startswith("wrong answer: expected ")]
    assert len(details) == 10 and len(failures) <= 1 + 2 * 10, failures  # a heading and one line each
    assert "--- prompt ---" not in result.stdout.str()
    result.stdout.fnmatch_lines(["wrong answers: 10 (10 wrong, 0 without an answer, 0 cut off); -v shows each prompt*",
                                 "FAILED llmeval::gsm8k[[]*] - wrong answer: expected *"])


def test_wrong_answers_fail_the_items_but_not_the_run(project: Project) -> None:
    result = project.run(*SUITE, "--llm-model=script:wrong", "-v")
    result.assert_outcomes(failed=10)
    assert result.ret == pytest.ExitCode.OK
    out = result.stdout.str()
    # Every failure shows what a person needs to judge it (counted in the failures section: with
    # CI=true pytest repeats whole messages in its short summary).
    failures = result.outlines[: next(i for i, line in enumerate(result.outlines) if "short test summary" in line)]
    for heading in ("expected:", "extracted answer:", "--- prompt ---", "--- raw response ---"):
        assert sum(line.startswith(heading) for line in failures) == 10, heading
    assert "Solve the following math problem" in out  # a GSM8K prompt
    assert "#### 123456789" in out  # the raw generated text
    assert "extracted answer: 123456789" in out
    assert "log-likelihood of each choice" in out  # MMLU answered by log-likelihood: the raw scores
    result.stdout.fnmatch_lines(["FAILED llmeval::gsm8k[[]*] - wrong answer: expected *"])


def test_a_wrong_answer_failure_names_the_expected_answer(project: Project) -> None:
    project.pytester.makepyfile(
        test_sums="""
        from pytest_llmeval import Benchmark, scorers

        test_sums = Benchmark("sums", capability="arithmetic", data=[{"q": "2+3", "a": "5"}],
                              prompt="What is {q}?", target="a", scorer=scorers.number())
        """
    )
    result = project.run("--llm-model=script:wrong", "-v")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["expected: 5", "extracted answer: 123456789", "*--- prompt ---", "[[]user[]] What is 2+3?",
                                 "--- raw response ---", "I am not sure. The answer is 123456789."])
    assert result.ret == 0


def test_backend_errors_error_the_items_and_fail_the_run(project: Project) -> None:
    result = project.run(*SUITE, "--llm-model=script:error")
    result.assert_outcomes(errors=10)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert out.count("HTTP 503: scripted outage") >= 10
    result.stdout.fnmatch_lines(["*10 of 10 benchmark items errored (100.0%), above the allowed 5.0% (--llm-max-error-rate)*"])
    assert "expected:" not in out  # an outage is not reported as a wrong answer


def test_errors_within_the_allowed_rate_do_not_fail_the_run(project: Project) -> None:
    # "flaky" fails every third request and answers the rest wrongly.
    result = project.run(*SUITE, "--llm-model=script:flaky", "--llm-max-error-rate=0.5")
    result.assert_outcomes(failed=7, errors=3)
    assert result.ret == pytest.ExitCode.OK
    assert "benchmark items errored" not in result.stdout.str()


def test_errors_beyond_the_default_rate_fail_the_run(project: Project) -> None:
    result = project.run(*SUITE, "--llm-model=script:flaky")
    result.assert_outcomes(failed=7, errors=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*3 of 10 benchmark items errored (30.0%), above the allowed 5.0%*"])


def test_the_error_rate_can_be_set_in_the_ini_file(project: Project) -> None:
    project.pytester.makeini(INNER_INI + "llm_max_error_rate = 0.5\n")
    result = project.run(*SUITE, "--llm-model=script:flaky")
    result.assert_outcomes(failed=7, errors=3)
    assert result.ret == pytest.ExitCode.OK


def test_an_ordinary_failing_test_still_fails_the_run(project: Project) -> None:
    project.pytester.makepyfile(test_plain="def test_ok():\n    pass\n\ndef test_broken():\n    assert 1 == 2\n")
    result = project.run(*SUITE, ORACLE)
    result.assert_outcomes(passed=11, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_an_ordinary_erroring_fixture_still_fails_the_run_with_wrong_answers(project: Project) -> None:
    project.pytester.makepyfile(
        test_plain="""
        import pytest

        @pytest.fixture
        def broken():
            raise RuntimeError("no database")

        def test_uses_it(broken):
            pass
        """
    )
    result = project.run(*SUITE, "--llm-model=script:wrong")
    result.assert_outcomes(failed=10, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_wrong_answers_beside_passing_ordinary_tests_exit_zero(project: Project) -> None:
    project.pytester.makepyfile(test_plain="def test_ok():\n    pass\n")
    result = project.run(*SUITE, "--llm-model=script:wrong")
    result.assert_outcomes(passed=1, failed=10)
    assert result.ret == pytest.ExitCode.OK


@pytest.mark.parametrize("quiet", ["-q", "-qq"])
def test_the_scorecard_is_printed_also_when_quiet(project: Project, quiet: str) -> None:
    result = project.run(*SUITE, ORACLE, quiet)
    result.stdout.fnmatch_lines(["*llmeval scorecard*", "general*1.000*5/5*", "reasoning*1.000*5/5*"])
    assert "no thresholds pinned" in result.stdout.str()  # a run without thresholds says how to pin them


def test_the_run_says_which_backend_served_the_model(project: Project) -> None:
    result = project.run(*SUITE, ORACLE)
    result.stdout.fnmatch_lines(["llmeval: oracle: scripted backend (oracle)"])


def test_a_wrong_answers_detail_shows_the_reasoning_apart_and_says_when_it_was_cut_off() -> None:
    from pytest_llmeval.items import describe_wrong_answer
    from pytest_llmeval.request import Message, Request, Response
    from pytest_llmeval.scoring.base import Score

    request = Request(messages=(Message("user", "2+2?"),), max_tokens=64)
    response = Response(text="5", reasoning="I think 2+2 is 5", finish_reason="length")
    text = describe_wrong_answer(request, response, Score(False, "5", "4"))
    assert "cut off: the reply reached the token limit (64 tokens); raise it with --llm-max-tokens" in text
    assert text.index("--- reasoning trace ---\nI think 2+2 is 5") < text.index("--- final answer ---\n5")
    unclosed = Response(text="", reasoning="Let me think...", meta={"unclosed_reasoning": True})
    assert "no final answer: the reasoning trace never closed" in describe_wrong_answer(request, unclosed,
                                                                                         Score(False, None, "4"))


def test_failed_checks_of_your_own_are_counted_apart_from_unanswered_items(project: Project) -> None:
    project.pytester.makepyfile(
        test_each="""
        from pytest_llmeval import Benchmark, scorers

        sums = Benchmark("sums", capability="arithmetic", data=[{"q": "2+3", "a": "5"}, {"q": "1+1", "a": "2"}],
                         prompt="What is {q}?", target="a", scorer=scorers.number())

        @sums.each
        def test_short(llm_item, llm_response):
            assert len(llm_response.text) < 5, "too wordy"
        """
    )
    result = project.run(ORACLE)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["wrong answers: 2 (0 wrong, 0 without an answer, 0 cut off, 2 failed checks of your "
                                 "own); -v shows each prompt*"])
