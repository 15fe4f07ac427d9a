"""The local backend: one supervised server process per deployment on this machine.

The supervisor (``supervisor``) owns the server child (``process``) and the rollout loop
(``controller``), acting on the server through its admin client (``actuator``); what was
decided lives in the SQLite state store (``state``, ``records``), serialised by file locks
(``locks``); registry alias moves are recorded and applied by ``aliases``. ``operations``
holds what the CLI calls: deploy, up, down, rollout commands, rollback, history.

The modules are layered like the packages (``pyproject.toml``, checked by ``lint-imports``):
``backend`` > ``operations`` | ``supervisor`` (peers: one starts the other as a process, never
imports it) > ``controller`` | ``aliases`` > ``actuator`` | ``process`` | ``logs`` |
``sink_health`` | ``state`` > ``locks`` | ``records``.
"""
