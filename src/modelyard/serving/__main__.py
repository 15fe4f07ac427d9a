"""``python -m modelyard.serving SPEC.json``: see :mod:`modelyard.serving.process.main`."""

from __future__ import annotations

import sys

from modelyard.serving.process.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
