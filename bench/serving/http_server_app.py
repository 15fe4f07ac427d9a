"""One modelyard server from a launch spec, on the HTTP server named on the command line.

``python bench/serving/http_server_app.py SPEC.json PORT uvicorn|granian``: the app
``modelyard serve`` runs (the spec's model from the verified cache, its deploy.yaml's
options), served by uvicorn as ``run_server`` does today, or by granian's embedded server
(ASGI, one Rust runtime thread, on this process's asyncio loop, as ``run_server`` would embed
it). Used by ``http_servers.py`` to compare the two in one run.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from modelyard.serving.process.arenas import limit_malloc_arenas
from modelyard.serving.process.launch import cache_loader, cached_source, read_spec
from modelyard.serving.process.server import run_server
from modelyard.serving.rest.app import create_app
from modelyard.serving.runtimes.imports import refuse_pandas_for


def main() -> None:
    spec = read_spec(Path(sys.argv[1]))
    port, kind = int(sys.argv[2]), sys.argv[3]
    logging.basicConfig(level=logging.INFO)
    limit_malloc_arenas()  # as python -m modelyard.serving does
    source = cached_source(spec)
    refuse_pandas_for(source.path)
    if kind == "uvicorn":
        run_server(source, spec.options, port=port, loader=cache_loader(spec))
        return
    import uvloop
    from granian.constants import Interfaces
    from granian.server.embed import Server

    app = create_app(source, spec.options, cache_loader(spec))
    server = Server(app, address="127.0.0.1", port=port, interface=Interfaces.ASGI,
                    log_access=False)  # fmt: skip
    uvloop.run(server.serve())


if __name__ == "__main__":
    main()
