# The platform: one VPC, one shared ALB, one Fargate service per entry of
# services/registry.json. Nothing in this directory lists services by hand.

locals {
  registry = jsondecode(file("${path.module}/../services/registry.json"))
  services = { for s in local.registry.services : s.name => s }

  prefix = "${var.name}-${var.environment}"

  tags = merge(
    {
      Project     = var.name
      Environment = var.environment
      ManagedBy   = "terraform"
    },
    var.tags,
  )

  # The registry gives each service "models/<name>"; the app wants the store
  # root and appends "/<service>/" itself, so every task gets s3://<bucket>/models
  # and reads only models/<name>/ (which its task role is limited to).
  model_store_root = { for k, s in local.services : k => trimsuffix(s.model_prefix, "/${k}") }

  flow_enabled = var.flow_state_service != null && contains(keys(local.services), coalesce(var.flow_state_service, "-"))

  api_base_url = var.api_domain_name != null ? "https://${var.api_domain_name}" : "${var.certificate_arn != null ? "https" : "http"}://${module.alb.dns_name}"

  cors_origins = join(",", concat([module.s3.website_url], var.extra_cors_origins))
}

module "vpc" {
  source = "./modules/vpc"

  name               = local.prefix
  cidr               = var.vpc_cidr
  az_count           = var.az_count
  zone_names         = var.availability_zones
  region             = var.region
  flow_log_retention = var.log_retention_days
  tags               = var.tags
}

module "s3" {
  source = "./modules/s3"

  name          = local.prefix
  force_destroy = var.force_destroy
  tags          = var.tags
}

module "ecr" {
  source = "./modules/ecr"

  name          = local.prefix
  repositories  = keys(local.services)
  force_destroy = var.force_destroy
  tags          = var.tags
}

module "dynamodb" {
  source = "./modules/dynamodb"
  count  = local.flow_enabled ? 1 : 0

  name                = "${local.prefix}-${var.flow_state_service}-state"
  deletion_protection = !var.force_destroy
  tags                = var.tags
}

module "iam" {
  source = "./modules/iam"

  name              = local.prefix
  models_bucket_arn = module.s3.models_bucket_arn
  services          = { for k, s in local.services : k => { model_prefix = s.model_prefix } }
  dynamodb_tables   = local.flow_enabled ? { (var.flow_state_service) = module.dynamodb[0].table_arn } : {}
  tags              = var.tags
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
  tags                  = var.tags

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

  tags = var.tags
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
  source   = "./modules/ecs_service"
  for_each = local.services

  name         = each.key
  name_prefix  = local.prefix
  region       = var.region
  cluster_arn  = aws_ecs_cluster.this.arn
  cluster_name = aws_ecs_cluster.this.name

  image        = "${module.ecr.repository_urls[each.key]}:${lookup(var.image_tags, each.key, var.image_tag)}"
  port         = each.value.port
  cpu          = each.value.cpu
  memory       = each.value.memory
  min_tasks    = each.value.min_tasks
  max_tasks    = each.value.max_tasks
  model_prefix = each.value.model_prefix

  cpu_target_percent = var.cpu_target_percent
  log_retention_days = var.log_retention_days

  vpc_id                  = module.vpc.vpc_id
  subnet_ids              = module.vpc.private_subnet_ids
  alb_security_group_id   = module.alb.security_group_id
  target_group_arn        = module.alb.target_group_arns[each.key]
  s3_prefix_list_id       = module.vpc.s3_prefix_list_id
  dynamodb_prefix_list_id = module.vpc.dynamodb_prefix_list_id
  vpc_cidr                = module.vpc.vpc_cidr

  execution_role_arn = module.iam.execution_role_arn
  task_role_arn      = module.iam.task_role_arns[each.key]

  environment = merge(
    {
      MODEL_STORE_URI       = "s3://${module.s3.models_bucket_name}/${local.model_store_root[each.key]}"
      MODEL_CACHE_DIR       = "/tmp/model-cache"
      MODEL_REFRESH_SECONDS = tostring(var.model_refresh_seconds)
      CORS_ORIGINS          = local.cors_origins
      AWS_REGION            = var.region
      PORT                  = tostring(each.value.port)
    },
    local.flow_enabled && each.key == var.flow_state_service ? {
      FLOW_STATE_BACKEND  = "dynamodb"
      FLOW_DYNAMODB_TABLE = module.dynamodb[0].table_name
    } : {},
  )

  tags = var.tags
}
