"""A sweep's trials rendered as Kubernetes Jobs: one per trial, valid, each a child run."""

from __future__ import annotations

from modelyard.config import Workspace
from modelyard.k8s import Validator
from modelyard.k8s.context import RenderContext
from modelyard.k8s.render import read_folder
from modelyard.k8s.sweep import TRIAL_LABEL, trial_jobs
from modelyard.k8s.training import job


def test_one_valid_job_per_trial_with_its_params_and_parent(
    workspace: Workspace, validator: Validator
) -> None:
    entry = workspace.model("ctr")
    ctx = RenderContext.of(workspace)
    parent = "0123456789abcdef0123456789abcdef"
    draws = [{"C": 0.5, "max_iter": 50}, {"C": 2.0, "max_iter": 200}]
    jobs = trial_jobs(ctx, entry, parent, draws, read_folder(entry))

    assert [j["metadata"]["name"] for j in jobs] == ["ctr-sweep-01234567-0", "ctr-sweep-01234567-1"]
    assert [p for j in jobs for p in validator.problems(j)] == []
    plain = job(ctx, entry, read_folder(entry))["spec"]["template"]["spec"]["containers"][0]
    for number, (manifest, params) in enumerate(zip(jobs, draws, strict=True)):
        pod = manifest["spec"]["template"]
        assert pod["metadata"]["labels"][TRIAL_LABEL] == str(number)
        container = pod["spec"]["containers"][0]
        assert container["resources"] == plain["resources"]  # the model's own resources
        assert container["securityContext"] == plain["securityContext"]
        args = container["args"]
        assert args[: len(plain["args"])] == plain["args"]
        assert args[args.index("--sweep-parent") + 1] == parent
        assert [args[i + 1] for i, a in enumerate(args) if a == "-p"] == [
            f"{k}={v}" for k, v in params.items()
        ]
