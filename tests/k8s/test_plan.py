"""Plan, apply and prune against the in-memory cluster: a deploy.yaml change updates exactly
the objects it should, removing a model prunes exactly its objects."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from zoo_versions import cluster_with_secret, pins

from modelyard.config import Workspace, load_workspace
from modelyard.k8s import InMemoryCluster, ObjectKey, apply_workspace, plan, workspace_plan
from modelyard.k8s.apply import describe


def _applied(ws: Workspace) -> InMemoryCluster:
    cluster = cluster_with_secret()
    first = apply_workspace(cluster, ws, versions=pins(ws.models))
    assert first.updates == []
    assert first.prunes == []
    return cluster


def _edit_deploy(root: Path, model_id: str, path: tuple[str, ...], value: object) -> None:
    file = root / "models" / model_id / "deploy.yaml"
    data = yaml.safe_load(file.read_text()) or {}
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    file.write_text(yaml.safe_dump(data))


def test_second_apply_changes_nothing(zoo: Workspace) -> None:
    cluster = _applied(zoo)
    again = workspace_plan(cluster, zoo, versions=pins(zoo.models))
    assert again.empty
    assert len(again.unchanged) == len(cluster.objects) - 1  # all but the Secret


def test_autoscaling_change_updates_only_the_hpa(zoo: Workspace, zoo_dir: Path) -> None:
    cluster = _applied(zoo)
    _edit_deploy(zoo_dir, "ranker", ("autoscaling", "cpu_percent"), 55)
    changed = workspace_plan(cluster, load_workspace(zoo_dir, env={}), versions=pins(zoo.models))
    assert [str(c.key) for c in changed.updates] == [
        "HorizontalPodAutoscaler.autoscaling ml/ranker"
    ]
    assert changed.updates[0].fields == (
        "spec.metrics[0].containerResource.target.averageUtilization",
    )
    assert changed.creates == []
    assert changed.prunes == []


def test_resources_change_updates_only_the_workload(zoo: Workspace, zoo_dir: Path) -> None:
    cluster = _applied(zoo)
    _edit_deploy(zoo_dir, "plain", ("resources", "cpu"), "750m")
    changed = workspace_plan(cluster, load_workspace(zoo_dir, env={}), versions=pins(zoo.models))
    assert [str(c.key) for c in changed.updates] == ["Deployment.apps ml/plain"]


def test_server_setting_change_rolls_the_pods(zoo: Workspace, zoo_dir: Path) -> None:
    cluster = _applied(zoo)
    _edit_deploy(zoo_dir, "ranker", ("batching", "max_batch_size"), 64)
    changed = workspace_plan(cluster, load_workspace(zoo_dir, env={}), versions=pins(zoo.models))
    # a new ConfigMap of its own for the new pods; the stable pods keep theirs (their
    # Rollout template still names it), while the unused training slice goes
    assert [str(c.key) for c in changed.updates] == ["Rollout.argoproj.io ml/ranker"]
    created = sorted(c.key.name.rsplit("-", 1)[0] for c in changed.creates)
    assert created == ["ranker-source", "ranker-workspace"]
    assert [c.key.name.rsplit("-", 1)[0] for c in changed.prunes] == ["ranker-source"]


def test_removing_a_model_prunes_exactly_its_objects(zoo: Workspace, zoo_dir: Path) -> None:
    cluster = _applied(zoo)
    theirs = {k for k, o in cluster.objects.items() if o["metadata"]["name"].startswith("busy")}
    shutil.rmtree(zoo_dir / "models" / "busy")
    smaller = load_workspace(zoo_dir, env={})
    changed = apply_workspace(cluster, smaller, versions=pins(smaller.models))
    assert {c.key for c in changed.prunes} == theirs
    assert changed.creates == []
    assert changed.updates == []
    assert not any(k.name.startswith("busy") for k in cluster.objects)
    assert workspace_plan(cluster, smaller, versions=pins(smaller.models)).empty


def test_no_prune_and_dry_run_change_nothing(zoo: Workspace, zoo_dir: Path) -> None:
    cluster = _applied(zoo)
    before = dict(cluster.objects)
    shutil.rmtree(zoo_dir / "models" / "busy")
    smaller = load_workspace(zoo_dir, env={})
    assert (
        apply_workspace(cluster, smaller, prune=False, versions=pins(smaller.models)).prunes == []
    )
    dry = apply_workspace(cluster, smaller, dry_run=True, versions=pins(smaller.models))
    assert dry.prunes
    assert cluster.objects.keys() == before.keys()


def test_unowned_and_other_workspace_objects_are_never_pruned() -> None:
    owner = {"app.kubernetes.io/managed-by": "modelyard", "app.kubernetes.io/part-of": "zoo"}
    live = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "theirs", "namespace": "ml"}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "other-ws",
                "namespace": "ml",
                "labels": {**owner, "app.kubernetes.io/part-of": "elsewhere"},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "stale", "namespace": "ml", "labels": owner},
        },
    ]
    result = plan([], live, owner)
    assert [c.key for c in result.prunes] == [ObjectKey("", "Service", "ml", "stale")]


def test_server_added_fields_are_not_differences() -> None:
    desired = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "namespace": "ml"},
        "spec": {"ports": [{"port": 80, "targetPort": "http"}]},
    }
    live = {
        **desired,
        "metadata": {"name": "s", "namespace": "ml", "uid": "1", "resourceVersion": "9"},
        "spec": {"ports": [{"port": "80", "targetPort": "http", "protocol": "TCP"}], "x": 1},
        "status": {"loadBalancer": {}},
    }
    assert plan([desired], [live], {}).unchanged
    live["spec"] = {"ports": [{"port": 81, "targetPort": "http"}]}
    assert plan([desired], [live], {}).updates[0].fields == ("spec.ports[0].port",)


def test_describe_lists_changes_and_counts(zoo: Workspace) -> None:
    lines = describe(workspace_plan(InMemoryCluster(), zoo, versions=pins(zoo.models)))
    assert lines[0].startswith("+ create")
    assert lines[-1].endswith("0 unchanged")


def test_pinning_a_new_version_updates_only_the_workload(zoo: Workspace) -> None:
    cluster = cluster_with_secret()
    apply_workspace(cluster, zoo, versions=pins(zoo.models))
    changed = workspace_plan(cluster, zoo, versions={**pins(zoo.models), "ranker": 4})
    assert [c.key.kind for c in changed.updates] == ["Rollout"]
    assert changed.updates[0].desired is not None
    container = changed.updates[0].desired["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][-2:] == ["--version", "4"]
    template = changed.updates[0].desired["spec"]["template"]
    assert template["metadata"]["annotations"]["modelyard.dev/version"] == "4"
    assert changed.creates == []
    assert changed.prunes == []
