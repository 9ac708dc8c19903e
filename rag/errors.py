"""One exception hierarchy: catch ``RagError`` to handle anything citerag raises on purpose.

Every message says what went wrong *and* what to do about it, because these messages reach users
of the CLI and the chat directly.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class of every error citerag raises deliberately."""


class ConfigError(RagError):
    """A setting is missing or invalid; the message names the setting (``RAG_...``)."""


class DocumentError(RagError):
    """A corpus file cannot be indexed (empty, binary, undecodable, unreadable, or outside its
    folder)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class StoreError(RagError):
    """The index cannot be opened or written (Chroma unreachable, nothing indexed)."""


class ModelError(RagError):
    """A model cannot be loaded or a generation backend cannot be reached."""


class QuestionError(RagError):
    """The question itself is unusable (empty or far too long)."""


__all__ = ["RagError", "ConfigError", "DocumentError", "StoreError", "ModelError", "QuestionError"]
