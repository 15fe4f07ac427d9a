"""The HTTP front end: OIP v2 and v1 handlers (``handlers``), the raw-ASGI hot path
(``asgi``), the feedback route (``feedback``) and the Starlette app that holds them (``app``)."""
