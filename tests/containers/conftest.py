"""The image tier's session: podman and friends, a moto server, the task definitions from the
Terraform (applied to that moto server), the images built by scripts/build_images.sh, and every
service's --small model published to the models bucket the task definitions name."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.common.registry import load_registry
from tests.conftest import MotoServer, free_port

from . import fargate

REPOSITORY_BASE = "localhost/mlplat-test"  # the tier's own images; nothing else is touched
TAG = "tier"
SERVICES = [e.name for e in load_registry().services]


def unavailable(reason: str) -> None:
    """Fail in CI (.ci/run installs everything), skip elsewhere, naming what is missing."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def tier_tools() -> None:
    from tests.infra.conftest import provider_mirror, terraform_command

    missing = fargate.missing_tools()
    if missing:
        unavailable(f"IMAGE TIER: not installed: {' '.join(missing)} (apt-get install {' '.join(missing)})")
    if provider_mirror() is None or terraform_command() is None:
        unavailable("IMAGE TIER: no Terraform AWS provider mirror (TF_PLUGIN_DIR or /opt/tf-plugins) or no "
                    "Terraform CLI: the task definitions are read from the Terraform, applied to moto")


@pytest.fixture(scope="session")
def tier_moto(tier_tools):
    server = MotoServer(free_port())
    server.start()
    yield server
    server.stop()


aws_env = fargate.moto_env   # the tests' name for it


@pytest.fixture(scope="session")
def task_definitions(tier_tools, tier_moto, tmp_path_factory) -> dict[str, fargate.TaskDefinition]:
    """By container name: what `terraform apply` of examples/dev gives ECS; each service's write-key
    secret given a value (TIER_KEYS) as scripts/set_api_keys.sh init does."""
    import boto3

    found = fargate.task_definitions_from_terraform(
        tier_moto.endpoint, tmp_path_factory.mktemp("terraform"),
        {"region": "eu-west-1", "image_tag": TAG})
    client = boto3.client("secretsmanager", endpoint_url=tier_moto.endpoint, region_name="eu-west-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # pragma: allowlist secret
    for name, td in found.items():
        for secret in td.container.get("secrets", []):
            client.put_secret_value(SecretId=secret["valueFrom"], SecretString=TIER_KEYS[name])
    return found


TIER_KEYS = {s: f"{s}_container_tier_{'k' * 30}" for s in SERVICES}


@pytest.fixture(scope="session")
def build_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("images") / "build.log"


@pytest.fixture(scope="session")
def serving_images(tier_tools, build_log) -> dict[str, str]:
    built = fargate.build_images(SERVICES, REPOSITORY_BASE, TAG, log=build_log)
    assert built == [f"{REPOSITORY_BASE}/{s}:{TAG}" for s in SERVICES]
    return dict(zip(SERVICES, built))


@pytest.fixture(scope="session")
def published(task_definitions, tier_moto, small_models):
    """publish(service): its --small version in the store its task definition names; the version."""
    from services.common.store import ModelStore

    done: dict[str, str] = {}

    def publish(service: str) -> str:
        if service not in done:
            folder = small_models.folder(service)
            uri = task_definitions[service].environment["MODEL_STORE_URI"]
            with aws_env(tier_moto.endpoint):
                store = ModelStore(uri)
                store.publish(service, folder)
                done[service] = store.latest_version(service)
        return done[service]

    return publish
