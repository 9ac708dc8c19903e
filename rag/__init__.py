"""citerag: answers about a collection of news articles, every sentence cited to its source.

>>> from rag import RagChain
>>> chain = RagChain.from_settings()  # doctest: +SKIP
>>> answer = chain.ask("Why do analysts doubt a Russia-Iran split?")  # doctest: +SKIP
>>> for c in answer.citations:  # doctest: +SKIP
...     print(c.n, c.title, c.locator)
"""

from rag import _offline  # noqa: F401  (must run before any library import)
from rag.chain import RagChain
from rag.config import Settings
from rag.errors import ConfigError, DocumentError, ModelError, QuestionError, RagError, StoreError
from rag.index.ingest import IngestReport
from rag.index.store import Filters
from rag.results import Answer, Citation

__all__ = [
    "Answer",
    "Citation",
    "ConfigError",
    "DocumentError",
    "Filters",
    "IngestReport",
    "ModelError",
    "QuestionError",
    "RagChain",
    "RagError",
    "Settings",
    "StoreError",
]
__version__ = "0.1.0"
