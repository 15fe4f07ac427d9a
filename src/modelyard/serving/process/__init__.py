"""Server processes: the launch spec and cache check (``launch``), uvicorn (``server``), the
pre-imported template that forks servers (``template``) and the ``python -m modelyard.serving``
entry point (``main``)."""
