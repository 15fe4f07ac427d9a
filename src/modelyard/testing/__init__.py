"""Test doubles and fault injection for modelyard's own tests, benchmarks and demo.

Nothing in the lifecycle imports this package: it exists so that the safety nets (gate,
rollout analysis, rollback) can be shown catching what they are for.
"""
