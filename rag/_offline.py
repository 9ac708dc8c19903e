"""Make every library we import behave offline, before any of them is imported.

citerag runs on air-gapped machines: a library that phones home (Hugging Face Hub look-ups,
Gradio's version check, Chroma's telemetry) either hangs for a minute or fails there. These
variables must be set before ``huggingface_hub``, ``gradio`` or ``chromadb`` are first imported,
which is why ``rag/__init__.py`` imports this module before anything else.
"""

from __future__ import annotations

import os

_OFFLINE_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_DATASETS_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def apply() -> None:
    """Set offline defaults (without overriding a user's explicit choice) and exempt loopback
    from any configured proxy, so local servers (Chroma, Gradio) stay reachable."""
    for key, value in _OFFLINE_DEFAULTS.items():
        os.environ.setdefault(key, value)
    for key in ("NO_PROXY", "no_proxy"):
        present = [h for h in os.environ.get(key, "").split(",") if h]
        missing = [h for h in _LOOPBACK if h not in present]
        os.environ[key] = ",".join(present + missing)


apply()
