"""Progress while answering: requests that failed are finished but not answered, so they are
counted apart and never make a rate (pure text, the terminal bar, and a run's log via pytester)."""

from __future__ import annotations

import io
import re
import socket

import pytest

from conftest import Project
from pytest_llmeval.progress import Progress, progress_text

RATE = re.compile(r"\((\d+\.\d/s|1 per \d+s), ")


def closed_port() -> int:
    """A local port nothing listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(("done", "total", "failed"), [(3, 3, 0), (3, 3, 3), (3, 3, 1), (0, 4, 0), (2, 4, 2), (2, 4, 1)])
def test_the_text_counts_failures_apart_and_rates_answers_only(done: int, total: int, failed: int) -> None:
    text = progress_text(done, total, failed, 4.0)
    if failed:
        assert text.startswith(f"{done}/{total} requests done, {failed} failed (")
        assert "answered" not in text
    else:
        assert text.startswith(f"answered {done}/{total} requests (")
    rate = RATE.search(text)
    assert (rate is not None) == (done > failed), text
    if rate is not None:
        assert rate.group(1) == f"{(done - failed) / 4.0:.1f}/s"
    assert ("none yet" in text) == (done == 0), text
    assert ("left" in text) == (0 < done < total)


class Writer(io.StringIO):
    """The terminal writer as Progress uses it."""


@pytest.mark.parametrize(("done", "failed"), [(3, 3), (3, 1), (3, 0)])
def test_the_terminal_bar_shows_failures_and_no_rate_of_failures_alone(done: int, failed: int) -> None:
    writer = Writer()
    progress = Progress(reporter=None, writer=writer, tty=True)
    progress("m", done, 3, 0.5, failed)
    progress.close()
    last = writer.getvalue().replace("\r", "\n").strip().splitlines()[-1]
    assert last.startswith("llmeval: m:") and f"{done}/3" in last
    assert (f"{failed} failed" in last) == bool(failed), last
    assert ("req/s" in last or "s/req" in last) == (done > failed), last


@pytest.mark.parametrize("model", ["script:oracle", "script:flaky", "script:error", "unreachable"])
def test_the_log_line_counts_failed_requests_apart(project: Project, model: str) -> None:
    given = [f"--llm-model={model}"] if model != "unreachable" else \
        ["--llm-model=openai:foo", f"--llm-base-url=http://127.0.0.1:{closed_port()}"]
    result = project.run("--llm-suite=gsm8k", "--llm-limit=3", *given, "--llm-max-error-rate=1", "--llm-scorecard=card.json")
    outcomes = [row["outcome"] for row in project.scorecard()["items"]]
    total, failed = len(outcomes), outcomes.count("error")
    name = model.split(":")[1] if model != "unreachable" else "foo"
    lines = [line for line in result.outlines if line.startswith(f"llmeval: {name}: ") and " requests" in line]
    assert len(lines) == 1, result.outlines
    if failed:
        assert lines[0].startswith(f"llmeval: {name}: {total}/{total} requests done, {failed} failed ("), lines[0]
    else:
        assert lines[0].startswith(f"llmeval: {name}: answered {total}/{total} requests ("), lines[0]
    assert (RATE.search(lines[0]) is not None) == (failed < total), lines[0]
