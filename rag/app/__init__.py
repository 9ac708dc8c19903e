"""The front ends: the ``rag`` command line (``cli``), the chat and HTTP API (``server``), and
the access token that guards them off loopback (``auth``)."""
