# The platform as one module: a VPC, one shared ALB, one Fargate service per
# entry of services/registry.json, the UI, alarms. Nothing here lists services
# by hand, and nothing here configures a provider: the caller does (see
# examples/), so this module can be called with for_each, count and depends_on.

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  registry = jsondecode(file("${path.module}/../services/registry.json"))
  services = { for s in local.registry.services : s.name => s }

  prefix = "${var.name}-${var.environment}"
  region = data.aws_region.current.name

  tags = merge(
    {
      Project     = var.name
      Environment = var.environment
      ManagedBy   = "terraform"
    },
    var.tags,
  )

  # Task counts: the registry's, raised to the environment's floor.
  min_tasks = { for k, s in local.services : k => max(s.min_tasks, var.minimum_tasks) }
  max_tasks = { for k, s in local.services : k => max(s.max_tasks, local.min_tasks[k]) }

  # The registry gives each service "models/<name>"; the app wants the store
  # root and appends "/<service>/" itself, so every task gets s3://<bucket>/models
  # and reads only models/<name>/ (which its task role is limited to).
  model_store_root = { for k, s in local.services : k => trimsuffix(s.model_prefix, "/${k}") }

  # Scheduled retraining: the registry's "train" entry of each service
  # (schedule, cpu, memory, extra arguments of python -m services.<name>.train).
  training = { for k, s in local.services : k => s.train if can(s.train.schedule) }

  flow_enabled = var.flow_state_service != null && contains(keys(local.services), coalesce(var.flow_state_service, "-"))

  # The DynamoDB calls services/flow/state.py makes (DynamoStateStore):
  # put_item, get_item, update_item, batch_get_item, scan, and describe_table
  # for its readiness check; no query, no batch_write_item.
  # tests/infra reads the code and fails when this list and the code disagree.
  flow_state_actions = ["BatchGetItem", "DescribeTable", "GetItem", "PutItem", "Scan", "UpdateItem"]

  # The DynamoDB calls services/common/monitor_store.py makes (DynamoMonitorStore): update_item
  # (ADD counts), get_item, batch_get_item, transact_write_items of one conditional Put and one
  # Update (authorised as PutItem and UpdateItem), describe_table for its check. No scan, no query.
  # tests/infra reads the code and fails when this list and the code disagree.
  monitoring_actions = ["BatchGetItem", "DescribeTable", "GetItem", "PutItem", "UpdateItem"]

  # CloudWatch namespace of the embedded metrics the services log (MONITORING_NAMESPACE).
  monitoring_namespace = "${var.name}/${var.environment}/monitoring"

  https        = var.certificate_arn != null
  api_base_url = var.api_domain_name != null ? "https://${var.api_domain_name}" : "${local.https ? "https" : "http"}://${module.alb.dns_name}"

  cors_origins = join(",", concat([module.website.url], var.extra_cors_origins))
}

module "vpc" {
  source = "./modules/vpc"

  name               = local.prefix
  cidr               = var.vpc_cidr
  az_count           = var.az_count
  zone_names         = var.availability_zones
  region             = local.region
  flow_log_retention = var.log_retention_days
  tags               = local.tags
}

module "s3" {
  source = "./modules/s3"

  name               = local.prefix
  log_retention_days = var.log_retention_days
  force_destroy      = var.force_destroy
  tags               = local.tags
}

module "website" {
  source = "./modules/website"

  name            = local.prefix
  mode            = var.ui_hosting
  aliases         = var.ui_aliases
  certificate_arn = var.ui_certificate_arn
  logs_bucket     = module.s3.logs_bucket_name
  force_destroy   = var.force_destroy
  tags            = local.tags
}

module "ecr" {
  source = "./modules/ecr"

  name = local.prefix
  # <svc> holds both images of a release: <tag> (serving) and <tag>-train
  # (training), as scripts/build_and_push_ecr.sh pushes them.
  repositories       = keys(local.services)
  keep_tagged_images = 60
  force_destroy      = var.force_destroy
  tags               = local.tags
}

module "dynamodb" {
  source = "./modules/dynamodb"
  count  = local.flow_enabled ? 1 : 0

  name                = "${local.prefix}-${var.flow_state_service}-state"
  deletion_protection = !var.force_destroy
  tags                = local.tags
}

# One monitoring table per service (input counts per model version, actuals and
# their scores; services/common/monitor_store.py), each reachable by that
# service's task role only.
module "monitoring_table" {
  source   = "./modules/dynamodb"
  for_each = local.services

  name                = "${local.prefix}-${each.key}-monitoring"
  ttl_attribute       = null
  deletion_protection = !var.force_destroy
  tags                = local.tags
}

# The write keys of each service (services/common/auth.py): a secret with no
# value in Terraform; scripts/set_api_keys.sh sets and rotates it.
module "api_keys" {
  source = "./modules/api_keys"

  name                    = local.prefix
  services                = keys(local.services)
  recovery_window_in_days = var.force_destroy ? 0 : var.api_keys_recovery_window_days
  tags                    = local.tags
}

module "waf" {
  source = "./modules/waf"
  count  = var.waf.enabled ? 1 : 0

  name                = "${local.prefix}-api"
  load_balancer_arn   = module.alb.arn
  rate_limit          = var.waf.rate_limit
  rate_window_seconds = var.waf.rate_window_seconds
  tags                = local.tags
}

module "iam" {
  source = "./modules/iam"

  name              = local.prefix
  models_bucket_arn = module.s3.models_bucket_arn
  services          = { for k, s in local.services : k => { model_prefix = s.model_prefix, api_keys_secret_arn = module.api_keys.secret_arns[k] } }
  training          = { for k, t in local.training : k => { family = "${local.prefix}-${k}-train", region = local.region } }
  cluster_arn       = aws_ecs_cluster.this.arn
  state_tables = local.flow_enabled ? {
    (var.flow_state_service) = { arn = module.dynamodb[0].table_arn, actions = local.flow_state_actions }
  } : {}
  monitoring_tables = {
    for k in keys(local.services) : k => { arn = module.monitoring_table[k].table_arn, actions = local.monitoring_actions }
  }
  tags = local.tags
}

module "alb" {
  source = "./modules/alb"

  name                  = local.prefix
  vpc_id                = module.vpc.vpc_id
  vpc_cidr              = module.vpc.vpc_cidr
  subnet_ids            = module.vpc.public_subnet_ids
  allowed_ingress_cidrs = var.allowed_ingress_cidrs
  certificate_arn       = var.certificate_arn
  deletion_protection   = var.alb_deletion_protection
  access_logs_bucket    = module.s3.logs_bucket_name
  access_logs_prefix    = module.s3.alb_log_prefix
  tags                  = local.tags

  services = {
    for k, s in local.services : k => {
      port        = s.port
      path_prefix = s.path_prefix
      health_path = s.health_path
      priority    = s.priority
    }
  }
}

resource "aws_ecs_cluster" "this" {
  name = local.prefix

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = local.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

module "service" {
  source = "./modules/ecs_service"
  # create_services = false on the very first apply: everything else exists,
  # so images and models can be pushed before any task tries to start.
  for_each = var.create_services ? local.services : {}

  name         = each.key
  name_prefix  = local.prefix
  region       = local.region
  cluster_arn  = aws_ecs_cluster.this.arn
  cluster_name = aws_ecs_cluster.this.name

  image        = "${module.ecr.repository_urls[each.key]}:${lookup(var.image_tags, each.key, var.image_tag)}"
  port         = each.value.port
  cpu          = each.value.cpu
  memory       = each.value.memory
  min_tasks    = local.min_tasks[each.key]
  max_tasks    = local.max_tasks[each.key]
  model_prefix = each.value.model_prefix

  cpu_target_percent    = var.cpu_target_percent
  log_retention_days    = var.log_retention_days
  wait_for_steady_state = var.wait_for_steady_state
  deployment_timeout    = var.deployment_timeout

  vpc_id                  = module.vpc.vpc_id
  subnet_ids              = module.vpc.private_subnet_ids
  alb_security_group_id   = module.alb.security_group_id
  target_group_arn        = module.alb.target_group_arns[each.key]
  s3_prefix_list_id       = module.vpc.s3_prefix_list_id
  dynamodb_egress         = true # every service writes its monitoring table (flow its state table too)
  dynamodb_prefix_list_id = module.vpc.dynamodb_prefix_list_id
  vpc_cidr                = module.vpc.vpc_cidr

  execution_role_arn = module.iam.service_execution_role_arns[each.key]
  task_role_arn      = module.iam.task_role_arns[each.key]

  # API_KEYS from this service's own secret, injected by ECS at start (never in the task definition).
  secrets = { API_KEYS = module.api_keys.secret_arns[each.key] }

  environment = merge(
    {
      MODEL_STORE_URI       = "s3://${module.s3.models_bucket_name}/${local.model_store_root[each.key]}"
      MODEL_CACHE_DIR       = "/tmp/model-cache"
      MODEL_REFRESH_SECONDS = tostring(var.model_refresh_seconds)
      CORS_ORIGINS          = local.cors_origins
      AWS_REGION            = local.region
      PORT                  = tostring(each.value.port)
      # Monitoring: counts and actuals in this service's own table; metrics to CloudWatch as
      # embedded-metric lines in the logs (no agent).
      MONITORING_BACKEND        = "dynamodb"
      MONITORING_DYNAMODB_TABLE = module.monitoring_table[each.key].table_name
      MONITORING_NAMESPACE      = local.monitoring_namespace
    },
    local.flow_enabled && each.key == var.flow_state_service ? {
      FLOW_STATE_BACKEND  = "dynamodb"
      FLOW_DYNAMODB_TABLE = module.dynamodb[0].table_name
    } : {},
  )

  tags = local.tags
}

module "alarms" {
  source = "./modules/alarms"

  name                     = local.prefix
  load_balancer_arn_suffix = module.alb.arn_suffix
  metric_namespace         = "${var.name}/${var.environment}"
  monitoring_namespace     = local.monitoring_namespace
  email_endpoints          = var.alarm_emails
  thresholds               = var.alarm_thresholds
  tags                     = local.tags

  services = {
    for k, svc in module.service : k => {
      target_group_arn_suffix = module.alb.target_group_arn_suffixes[k]
      log_group_name          = svc.log_group_name
    }
  }
}

resource "aws_scheduler_schedule_group" "training" {
  count = var.create_services && length(local.training) > 0 ? 1 : 0

  name = local.prefix
  tags = local.tags
}

module "training" {
  source   = "./modules/training"
  for_each = var.create_services ? local.training : {}

  name        = each.key
  name_prefix = local.prefix
  region      = local.region

  image   = "${module.ecr.repository_urls[each.key]}:${lookup(var.image_tags, each.key, var.image_tag)}-train"
  command = concat(["python", "-m", "services.${each.key}.train"], try(each.value.args, []))
  cpu     = each.value.cpu
  memory  = each.value.memory

  schedule       = each.value.schedule
  enabled        = var.training_enabled
  schedule_group = aws_scheduler_schedule_group.training[0].name

  cluster_arn        = aws_ecs_cluster.this.arn
  scheduler_role_arn = module.iam.scheduler_role_arn
  execution_role_arn = module.iam.execution_role_arn
  task_role_arn      = module.iam.training_role_arns[each.key]

  # The same store root the service reads: training publishes with the same
  # code (services.common.store), version folder first and LATEST last.
  environment = {
    MODEL_STORE_URI = "s3://${module.s3.models_bucket_name}/${local.model_store_root[each.key]}"
    MODEL_CACHE_DIR = "/tmp/model-cache"
    AWS_REGION      = local.region
    PROGRESS        = "0"
  }

  vpc_id             = module.vpc.vpc_id
  vpc_cidr           = module.vpc.vpc_cidr
  subnet_ids         = module.vpc.private_subnet_ids
  s3_prefix_list_id  = module.vpc.s3_prefix_list_id
  alarm_topic_arn    = module.alarms.topic_arn
  log_retention_days = var.log_retention_days

  tags = local.tags
}
