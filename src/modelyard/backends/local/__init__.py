"""The local backend: one supervised server process per deployment on this machine.

The supervisor (``supervisor``) owns the server child (``process``) and the rollout loop
(``controller``), acting on the server through its admin client (``actuator``); what was
decided lives in the SQLite state store (``state``, ``records``), serialised by file locks
(``locks``). ``operations`` holds what the CLI calls: deploy, up, down, rollout commands,
rollback, history.
"""
