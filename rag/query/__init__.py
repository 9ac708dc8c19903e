"""A question to a cited answer: evidence from the index (``retrieval``, follow-ups read by
``conversation``), a fitted scorer deciding which sentences answer and whether any does
(``features``, ``scorer``), and the answerers: quoting (``answer``) or generating with an LLM
(``generative`` on ``llm``, every sentence checked by ``verify``; ``injection`` keeps instructions
inside documents away from the model)."""
