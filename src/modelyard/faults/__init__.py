"""Fault injection: model versions that are broken on purpose (``models``: a clone, one that
errors, one that diverges, one that cannot load), for the tests, the benchmarks and the demo.

Nothing in the lifecycle imports this package: it exists so that the safety nets (gate,
rollout analysis, rollback) can be shown catching what they are for.
"""
