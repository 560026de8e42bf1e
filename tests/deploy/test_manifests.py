"""deploy/'s Compose file, Kubernetes manifests and Dockerfile, checked without a Docker engine or
a cluster (neither runs here): the Compose file against the Compose specification's JSON schema,
the manifests with kubernetes-validate (strict: unknown fields fail) at KUBERNETES_VERSION, the
KEDA ScaledObject field by field against the objects it names, and the Dockerfile parsed for what
the image promises (pinned base, non-root user, healthcheck)."""

from __future__ import annotations

import copy
import io
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from deploy_support import DEPLOY, ROOT, body_limits
from dockerfile_parse import DockerfileParser

from profai.api.routes.health import router as health_router
from profai.settings import Settings

KUBERNETES_VERSION = "1.37.0"  # the newest kubernetes-validate 1.37.0 has schemas for (1.25 to 1.37)
# The Compose specification's schema as check-jsonschema 0.39.0 ships it (its file
# check_jsonschema/builtin_schemas/vendor/compose-spec.json, from the compose-spec project's
# schema/compose-spec.json; Apache-2.0, see data/LICENSE.compose-spec). The copy in the
# docker-compose 1.29.2 wheel (compose/config/compose_spec.json, 2021) is older than the
# `env_file: [{path, required}]` form of Compose 2.24 that our file uses.
COMPOSE_SCHEMA = Path(__file__).parent / "data" / "compose-spec.json"
COMPOSE_FILES = [DEPLOY / "docker-compose.yml"]
K8S = DEPLOY / "k8s"
HEALTH_PATHS = {route.path for route in health_router.routes}  # the app's liveness and readiness routes


def _documents() -> list[tuple[str, dict]]:
    docs = []
    for path in sorted(K8S.rglob("*.yaml")):
        docs += [(f"{path.relative_to(K8S)}:{doc['kind']}/{doc['metadata']['name']}", doc)
                 for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


DOCS = _documents()
KUBERNETES_DOCS = [(name, doc) for name, doc in DOCS if not doc["apiVersion"].startswith("keda.sh/")]


def _one(kind: str, name: str) -> dict:
    (doc,) = [d for _, d in DOCS if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def _deployments() -> list[dict]:
    return [d for _, d in DOCS if d["kind"] == "Deployment"]


# --- Compose ---------------------------------------------------------------------------------

def _compose_errors(doc: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(json.loads(COMPOSE_SCHEMA.read_text()),
                                                format_checker=jsonschema.FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_the_compose_file_follows_the_compose_specification(path):
    assert _compose_errors(yaml.safe_load(path.read_text())) == []


def test_the_compose_schema_check_finds_mistakes():
    doc = yaml.safe_load(COMPOSE_FILES[0].read_text())
    doc["services"]["api"]["restart_policy"] = "always"  # a swarm-era key in the wrong place
    doc["services"]["worker"]["stop_grace_period"] = ["60s"]
    errors = _compose_errors(doc)
    assert any("restart_policy" in e for e in errors) and any("stop_grace_period" in e for e in errors), errors


def test_the_compose_file_names_files_services_and_volumes_that_exist():
    doc = yaml.safe_load(COMPOSE_FILES[0].read_text())
    services, volumes = doc["services"], set(doc["volumes"])
    for name, service in services.items():
        if "build" in service:
            context = (DEPLOY / service["build"]["context"]).resolve()
            assert (context / service["build"]["dockerfile"]).is_file(), name
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in volumes, f"{name} mounts undeclared volume {source}"
    assert "./nginx/nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]


# --- Kubernetes --------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "doc"), KUBERNETES_DOCS, ids=[name for name, _ in KUBERNETES_DOCS])
def test_each_manifest_is_valid_for_the_pinned_kubernetes_version(name, doc):
    assert kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True) == "1.37"


def test_the_kubernetes_check_finds_mistakes():
    doc = copy.deepcopy(_one("Deployment", "profai-api"))
    doc["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}  # misspelt
    with pytest.raises(kubernetes_validate.ValidationError, match="readinessprobe"):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def _containers(deployment: dict) -> list[dict]:
    pod = deployment["spec"]["template"]["spec"]
    return pod["containers"] + pod.get("initContainers", [])


@pytest.mark.parametrize("deployment", _deployments(), ids=lambda d: d["metadata"]["name"])
def test_every_container_has_resource_requests_and_limits(deployment):
    for container in _containers(deployment):
        resources = container.get("resources", {})
        for part in ("requests", "limits"):
            assert set(resources.get(part, {})) >= {"cpu", "memory"}, (container["name"], part, resources)


def test_the_api_probes_use_the_apps_health_routes():
    (api,) = _one("Deployment", "profai-api")["spec"]["template"]["spec"]["containers"]
    ports = {port["name"] for port in api["ports"]}
    probes = {kind: api[kind]["httpGet"] for kind in ("startupProbe", "readinessProbe", "livenessProbe")}
    assert probes["readinessProbe"]["path"] == "/api/v1/health"  # checks the database, vectors, queue
    assert probes["livenessProbe"]["path"] == "/health"  # the process answers; a dependency's outage is no reason to restart
    for probe in probes.values():
        assert probe["path"] in HEALTH_PATHS and probe["port"] in ports, probe
    assert {"/health", "/api/v1/health"} == HEALTH_PATHS


@pytest.mark.parametrize("name", ["chroma", "redis"])
def test_the_servers_have_readiness_and_liveness_probes(name):
    (container,) = _one("Deployment", name)["spec"]["template"]["spec"]["containers"]
    assert "readinessProbe" in container and "livenessProbe" in container


@pytest.mark.parametrize("name", ["profai-api", "profai-worker"])
def test_the_replicated_deployments_have_a_disruption_budget(name):
    labels = _one("Deployment", name)["spec"]["template"]["metadata"]["labels"]
    budgets = [d for _, d in DOCS if d["kind"] == "PodDisruptionBudget"
               and d["spec"]["selector"]["matchLabels"].items() <= labels.items()]
    assert len(budgets) == 1, budgets
    spec = budgets[0]["spec"]
    assert spec.get("minAvailable", 0) >= 1 or spec.get("maxUnavailable") == 1, spec


def test_the_ingress_body_limits_are_the_apis_own():
    config = _one("ConfigMap", "profai-config")["data"]
    pdf_limit, csv_limit = body_limits(Settings(_env_file=None, **{name: config[name] for name in
                                                                  ("MAX_UPLOAD_MB", "MAX_FILES", "MAX_DATASET_MB")}))
    size = {}  # ingress path -> proxy-body-size in bytes
    for _, ingress in (item for item in DOCS if item[1]["kind"] == "Ingress"):
        value = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
        assert value.endswith("m"), value
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                size[path["path"]] = int(value[:-1]) * 1024 * 1024
    # "/" covers the PDF uploads; the CSV route has its own.
    assert size["/"] == size["/api/upload-pdfs-sync"] == pdf_limit
    assert size["/api/v1/datasets"] == csv_limit


def test_the_secret_is_a_template_with_no_values():
    secrets = [(name, d) for name, d in DOCS if d["kind"] == "Secret"]
    assert [name for name, _ in secrets] == ["examples/secret.example.yaml:Secret/profai-secrets"]
    secret = secrets[0][1]
    assert "data" not in secret and secret["stringData"] and set(secret["stringData"].values()) == {""}
    assert "DATABASE_URL" in secret["stringData"]
    refs = {src["secretRef"]["name"] for d in _deployments() for c in _containers(d)
            for src in c.get("envFrom", []) if "secretRef" in src}
    assert refs == {secret["metadata"]["name"]}


def test_workers_scale_on_the_celery_queue_length_with_keda():
    scaled = _one("ScaledObject", "profai-worker")
    config = _one("ConfigMap", "profai-config")["data"]
    worker = _one("Deployment", "profai-worker")
    redis = _one("Service", "redis")
    spec = scaled["spec"]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1" and scaled["metadata"]["namespace"] == worker["metadata"]["namespace"]
    assert set(spec) <= {"scaleTargetRef", "pollingInterval", "cooldownPeriod", "initialCooldownPeriod",
                         "idleReplicaCount", "minReplicaCount", "maxReplicaCount", "fallback", "advanced", "triggers"}
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": worker["metadata"]["name"]}
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    assert "replicas" not in worker["spec"], "the Deployment's replicas would undo KEDA's on every apply"

    (trigger,) = spec["triggers"]
    meta = trigger["metadata"]
    assert trigger["type"] == "redis" and set(meta) <= {"address", "host", "port", "databaseIndex", "listName",
                                                       "listLength", "activationListLength", "enableTLS", "unsafeSsl",
                                                       "usernameFromEnv", "passwordFromEnv", "addressFromEnv"}
    assert meta["listName"] == config["CELERY_QUEUE"]  # the list celery_runner.queue_depth() reads
    redis_url = urlsplit(config["REDIS_URL"])
    host, port = meta["address"].rsplit(":", 1)
    assert host.split(".")[:2] == [redis_url.hostname, redis["metadata"]["namespace"]] == [redis["metadata"]["name"], "profai"]
    assert int(port) == redis_url.port == redis["spec"]["ports"][0]["port"]
    assert meta["databaseIndex"] == redis_url.path.lstrip("/")
    assert all(isinstance(v, str) for v in meta.values()), "KEDA's trigger metadata values are strings"
    assert int(meta["listLength"]) >= 1

    # The scaling behaviour is the HPA's own type: check it as part of an HPA.
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "x"},
           "spec": {"scaleTargetRef": spec["scaleTargetRef"], "maxReplicas": spec["maxReplicaCount"],
                    "behavior": spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]}}
    kubernetes_validate.validate(hpa, KUBERNETES_VERSION, strict=True)

    # Never two autoscalers on the workers: KEDA's HPA and one applied from deploy/k8s/.
    top_level = [d for name, d in DOCS if "/" not in name.split(":")[0] and d["kind"] == "HorizontalPodAutoscaler"]
    assert worker["metadata"]["name"] not in {d["spec"]["scaleTargetRef"]["name"] for d in top_level}


# --- Dockerfile ----------------------------------------------------------------------------------

DOCKERFILE = DEPLOY / "Dockerfile"
PINNED = re.compile(r"(@sha256:[0-9a-f]{64}$)|(:\d+\.\d+\.\d+[^:@/]*$)")  # a digest, or an exact version tag


def _stages(text: str) -> tuple[list[str], list[list[dict]]]:
    """The base image of each stage (ARGs resolved) and each stage's instructions."""
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()))  # in memory: given a path, it would write there
    stages: list[list[dict]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return parser.parent_images, stages


def _image_problems(text: str) -> list[str]:
    """What the image should be and is not; empty when all is well."""
    bases, stages = _stages(text)
    names = {s[0]["value"].split()[-1] for s in stages if " as " in s[0]["value"].lower()}
    problems = [f"base image {b} is not pinned" for b in bases if b not in names and not PINNED.search(b)]
    final = stages[-1]
    users = [i["value"].split(":")[0] for i in final if i["instruction"] == "USER"]
    if not users or users[-1] in ("root", "0"):
        problems.append(f"the image runs as root (USER: {users})")
    checks = [i["value"] for i in final if i["instruction"] == "HEALTHCHECK"]
    if not checks or checks[-1].upper().startswith("NONE"):
        problems.append("no HEALTHCHECK")
    elif not any(path in checks[-1] for path in HEALTH_PATHS):
        problems.append(f"the HEALTHCHECK polls none of {HEALTH_PATHS}")
    return problems


def test_the_image_has_a_pinned_base_a_non_root_user_and_a_healthcheck():
    text = DOCKERFILE.read_text()
    assert _image_problems(text) == []
    bases, _ = _stages(text)
    assert bases and all(b.startswith("python:3.11.") for b in bases), bases


@pytest.mark.parametrize(("change", "problem"), [
    (("python:3.11.14-slim-bookworm", "python:3.11-slim"), "is not pinned"),
    (("USER profai:profai", "USER root"), "runs as root"),
    (("HEALTHCHECK --interval", "# HEALTHCHECK --interval"), "no HEALTHCHECK"),
])
def test_the_image_check_finds_each_mistake(change, problem):
    text = DOCKERFILE.read_text()
    assert change[0] in text
    assert any(problem in p for p in _image_problems(text.replace(change[0], change[1])))


def test_the_image_copies_files_that_exist_in_the_build_context():
    _, stages = _stages(DOCKERFILE.read_text())
    for instruction in (i for stage in stages for i in stage if i["instruction"] == "COPY"):
        if instruction["value"].startswith("--from="):
            continue
        *sources, _ = instruction["value"].split()
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository root (the build context)"
