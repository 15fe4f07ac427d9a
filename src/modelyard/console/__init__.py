"""The web console (``modelyard ui``): models, deployments, history, usage and cost, on
loopback, rendered on the server from the Backend seam, the registry and the capacity package.
"""

from modelyard.console.app import build_app, serve
from modelyard.console.data import ConsoleData, Links

__all__ = ["ConsoleData", "Links", "build_app", "serve"]
