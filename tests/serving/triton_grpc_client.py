"""tritonclient.grpc, unchanged, against a server: ``python triton_grpc_client.py URL JOB.json``.

Run as its own process because tritonclient ships its own copy of the OIP messages, which
protobuf will not hold beside modelyard's in one process. Prints one JSON object: health,
metadata, each inference's outputs (as lists of exact floats) and id, and the error codes.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException


def main(url: str, job_path: str) -> None:
    with open(job_path) as handle:
        job = json.load(handle)
    client = grpcclient.InferenceServerClient(url)
    model = job["model"]
    meta = client.get_model_metadata(model, as_json=True)
    report: dict[str, Any] = {
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "model_ready": client.is_model_ready(model),
        "server": client.get_server_metadata(as_json=True),
        "metadata": meta,
        "answers": [],
        "errors": {},
    }
    for index, call in enumerate(job["calls"]):
        rows = np.asarray(call["rows"], dtype=call["dtype"])
        tensor = grpcclient.InferInput(
            meta["inputs"][0]["name"], list(rows.shape), call["datatype"]
        )
        tensor.set_data_from_numpy(rows)
        result = client.infer(model, [tensor], request_id=f"t-{index}")
        response = result.get_response()
        output = response.outputs[0].name
        report["answers"].append(
            {
                "id": response.id,
                "version": response.model_version,
                "output": output,
                "values": result.as_numpy(output).tolist(),
            }
        )
    for name, call in {
        "unknown model": lambda: client.infer("nope", [tensor]),
        "wrong width": lambda: client.infer(model, [_input("FP64", np.ones((1, 3)))]),
        "nan": lambda: client.infer(model, [_input("FP64", np.full((1, 8), np.nan))]),
        "too large": lambda: client.infer(model, [_input("FP64", np.ones((300_000, 8)))]),
    }.items():
        try:
            call()
            report["errors"][name] = "OK"
        except InferenceServerException as exc:
            report["errors"][name] = exc.status()
    print(json.dumps(report))


def _input(datatype: str, rows: np.ndarray) -> grpcclient.InferInput:
    tensor = grpcclient.InferInput("input-0", list(rows.shape), datatype)
    tensor.set_data_from_numpy(rows)
    return tensor


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
