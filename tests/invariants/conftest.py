"""Fixtures of the invariant tests: the access-request fixtures (datasets, files, committee) and an
agreement renderer that runs WeasyPrint once per kind of page and keeps each version's bytes apart."""

import pytest

from tests.access_requests.conftest import (  # noqa: F401  fixtures, registered by their import
    dataset,
    download_files,
    member2,
    processing_dataset,
)

# The bytes WeasyPrint made for each kind of agreement page, once per test session.
_RENDERED: dict[str, bytes] = {}


@pytest.fixture
def agreement_pdf_once_per_kind(monkeypatch):
    """The property test needs executed agreements, not their wording: WeasyPrint renders the first
    version and the first certificate page for real and later renders reuse those bytes. A version's
    PDF gets its agreement and number appended as a PDF comment after the end marker, so every version
    keeps a hash of its own (a signature over one never counts for another); the sealing at execution
    (pyHanko) is real."""
    from access_requests.services import agreements as ag

    real = ag.pdf_render

    def render(template, context, *args, **kwargs):
        certificate = bool(context.get("certificate"))
        key = f"{template}{'+certificate' if certificate else ''}"
        if key not in _RENDERED:
            _RENDERED[key] = real(template, context, *args, **kwargs)
        if certificate:
            return _RENDERED[key]
        mark = f"\n% {context.get('agreement_reference')} version {context.get('version_number')}\n"
        return _RENDERED[key] + mark.encode()

    monkeypatch.setattr(ag, "pdf_render", render)


def pytest_terminal_summary(terminalreporter):
    """Say what the state machine did (tests/invariants/test_workflows.py), and what it found."""
    import sys

    workflows = sys.modules.get("tests.invariants.test_workflows")
    if workflows is None or not workflows.STATS["steps"]:
        return
    stats = workflows.STATS
    for name, count in sorted(stats.items()):
        if name not in ("steps", "violations"):
            terminalreporter.write_line(f"  {name}: {count}")
    for violation in sorted(set(workflows.VIOLATIONS)):
        terminalreporter.write_line(f"  violated: {violation}")
    terminalreporter.write_line(f"steps: {stats['steps']}, violations: {stats['violations']}")
