"""Generated ad impressions for the example model: eight features and a click (about 12 %).

One fixed distribution, so that the training script's data and the held-out evaluation
dataset that `modelyard init` writes (eval.parquet, another seed) come from the same world.
"""

import numpy as np

FEATURES = [f"f{i}" for i in range(8)]
LABEL = "clicked"
EVAL_SEED = 2026
EVAL_ROWS = 5000
_WEIGHTS = np.array([1.1, -0.8, 0.6, 0.0, 0.9, -0.5, 0.0, 0.3])
_BIAS = -2.6


def impressions(n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_samples`` rows of features and their 0/1 click labels, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, len(FEATURES)))
    logits = X @ _WEIGHTS + _BIAS + 0.4 * X[:, 0] * X[:, 1]
    y = (rng.random(n_samples) < 1 / (1 + np.exp(-logits))).astype(np.int64)
    return X, y
