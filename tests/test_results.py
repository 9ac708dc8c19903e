"""The one event type of every answer stream, and the helper that drains a stream."""

from __future__ import annotations

import pytest

from rag.errors import RagError
from rag.results import Event, final


def test_final_returns_the_last_final_result() -> None:
    events = [Event("evidence", "quoted"), Event("token", "a"), Event("final", "", 42)]
    assert final(iter(events)) == 42


def test_a_stream_without_a_final_event_is_a_reported_bug_not_none() -> None:
    with pytest.raises(RagError, match="without a final answer"):
        final(iter([Event("token", "a")]))
    with pytest.raises(RagError):
        final(iter([]))
