"""Train the example click-through-rate model on generated data.

modelyard runs this script inside an MLflow run: plain `mlflow` calls land in that run.
Parameters from model.yaml (and `--param k=v`) arrive as `--k=v` arguments.
"""

import argparse
import time

import mlflow
import mlflow.sklearn
import numpy as np
from impressions import impressions
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

parser = argparse.ArgumentParser()
parser.add_argument("--n_samples", type=int, default=20000)
parser.add_argument("--max_iter", type=int, default=200)
parser.add_argument("--C", type=float, default=1.0)
parser.add_argument("--seed", type=int, default=7)
parser.add_argument("--label_noise", type=float, default=0.0, help="share of labels flipped")
args = parser.parse_args()

# Eight features of an ad impression (position, hour, priors, ...); clicks are rare (~12 %).
X, y = impressions(args.n_samples, args.seed)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=args.seed)
if args.label_noise:  # a deliberately worse model, for trying the evaluation gate
    flip = np.random.default_rng(args.seed).random(len(y_train)) < args.label_noise
    y_train = np.where(flip, 1 - y_train, y_train)

with mlflow.start_run():
    model = make_pipeline(StandardScaler(), LogisticRegression(C=args.C, max_iter=args.max_iter))
    model.fit(X_train, y_train)
    proba = model.predict_proba(X_test)[:, 1]
    timings = []
    for row in X_test[:200]:
        start = time.perf_counter()
        model.predict_proba(row.reshape(1, -1))
        timings.append((time.perf_counter() - start) * 1000)
    train_proba = model.predict_proba(X_train)[:, 1]
    mlflow.log_metrics(
        {
            "train_loss": log_loss(y_train, train_proba),
            "train_auc": roc_auc_score(y_train, train_proba),
            "loss": log_loss(y_test, proba),
            "auc": roc_auc_score(y_test, proba),
            "p50_ms": float(np.percentile(timings, 50)),
            "p90_ms": float(np.percentile(timings, 90)),
        }
    )
    # Naming the requirements skips MLflow's slow inference of them; the runtime pins these.
    mlflow.sklearn.log_model(
        model, name="model", input_example=X_test[:2], pip_requirements=["scikit-learn"]
    )
    print(f"auc={roc_auc_score(y_test, proba):.4f} loss={log_loss(y_test, proba):.4f}")
