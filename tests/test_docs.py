"""The documentation is proven: every Python sample runs, and the site builds.

Each ```python block of README.md and docs/*.md runs on its own, in a fresh
interpreter whose working directory is an empty temporary folder, so samples
must work against SQLite as written (a sample meant for another database reads
its URL from an environment variable with a SQLite default, which the test
clears). A block that cannot run anywhere but a production setup is preceded by
``<!-- skip-test: reason -->``; there may only be a few of those.

The site is built with ``mkdocs build --strict``, which fails on a broken link,
a page missing from the nav or an API reference that cannot be rendered.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

# Environment variables the samples read a database URL from; cleared so that
# every sample runs on its SQLite default, whatever the shell has set.
URL_VARIABLES = ("CHECKPOINT_URL", "LANGGRAPH_CHECKPOINT_URL", "OPENAI_API_KEY")
MAX_SKIPPED = 3

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")
_SKIP = re.compile(r"<!--\s*skip-test:\s*(?P<reason>\S.*?)\s*-->")


@dataclass(frozen=True)
class Sample:
    path: Path
    line: int  # 1-based line of the opening fence
    code: str
    skip_reason: str | None

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def extract_samples(path: Path, text: str | None = None) -> list[Sample]:
    """Every fenced block whose info string is ``python``, with its skip mark."""
    if text is None:
        text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    samples: list[Sample] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        info = opening["info"].strip().split()
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        end = i + 1
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        if info[:1] == ["python"]:
            body = [
                line[len(indent) :] if line.startswith(indent) else line
                for line in lines[i + 1 : end]
            ]
            samples.append(
                Sample(path, i + 1, "\n".join(body) + "\n", _skip_reason(lines, i))
            )
        i = end + 1
    return samples


def _skip_reason(lines: list[str], fence_index: int) -> str | None:
    """The reason of a ``skip-test`` comment on the last non-blank line above."""
    j = fence_index - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j >= 0 and (mark := _SKIP.search(lines[j])) is not None:
        return mark["reason"]
    return None


SAMPLES = [sample for path in DOCUMENTS for sample in extract_samples(path)]


def test_the_documents_have_samples() -> None:
    assert len(SAMPLES) >= 10, [s.id for s in SAMPLES]


def test_few_samples_are_skipped() -> None:
    skipped = {s.id: s.skip_reason for s in SAMPLES if s.skip_reason}
    assert len(skipped) <= MAX_SKIPPED, skipped


RUNNABLE = [s for s in SAMPLES if not s.skip_reason]


def _run_sample(sample: Sample, folder: Path) -> None:
    script = folder / f"sample_{sample.line}.py"
    script.write_text(textwrap.dedent(sample.code), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in URL_VARIABLES}
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, (
        f"{sample.id} failed:\n{sample.code}\n--- stderr ---\n{result.stderr}"
    )


@pytest.mark.parametrize("sample", RUNNABLE, ids=[s.id for s in RUNNABLE])
def test_sample_runs(sample: Sample, tmp_path: Path) -> None:
    _run_sample(sample, tmp_path)


DOCUMENTS_WITH_SAMPLES = sorted({s.path for s in RUNNABLE})


@pytest.mark.parametrize(
    "document",
    DOCUMENTS_WITH_SAMPLES,
    ids=[str(p.relative_to(REPO)) for p in DOCUMENTS_WITH_SAMPLES],
)
def test_a_documents_samples_run_in_order_in_one_folder(
    document: Path, tmp_path: Path
) -> None:
    """As a reader runs them: one after another, in one working directory, so
    what one sample leaves behind (a SQLite file, a thread) is there for the
    next. The README's first block once stored thread "1" in agent.db, and
    its "Use" block then asserted that thread "1" of agent.db was empty."""
    for sample in (s for s in RUNNABLE if s.path == document):
        _run_sample(sample, tmp_path)


def test_skip_marks_are_recognized() -> None:
    fake = [
        "text",
        "<!-- skip-test: needs a server -->",
        "",
        "```python",
        "raise SystemExit(1)",
        "```",
        "```python",
        "pass",
        "```",
        "    ```python",
        "    x = 1",
        "    ```",
    ]
    samples = extract_samples(REPO / "docs" / "fake.md", "\n".join(fake))
    assert [(s.line, s.code, s.skip_reason) for s in samples] == [
        (4, "raise SystemExit(1)\n", "needs a server"),
        (7, "pass\n", None),
        (10, "x = 1\n", None),
    ]


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(REPO / "mkdocs.yml"),
            "--site-dir",
            str(tmp_path / "site"),
        ],
        cwd=REPO,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    site = tmp_path / "site"
    assert (site / "index.html").is_file()
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("SQLAlchemySaver", "AsyncSQLAlchemySaver", "prune_stale", "upgrade"):
        assert name in api, name
