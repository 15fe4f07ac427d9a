"""The pool server: many models in one process under one memory budget.

Each model keeps its own data plane (rate limit, breaker, metrics labels, versions, canary);
the pool loads a model at its first request and evicts the least recently used ones, by the
memory their loads were measured to take, when the budget would be exceeded (``pool``,
``ledger``, ``measure``). ``app`` routes by the model name in the path.
"""
