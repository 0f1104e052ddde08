# Scheduled retraining of one service on ECS: the service's training image runs
# `python -m services.<name>.train` as a Fargate task on the registry's
# schedule (EventBridge Scheduler), publishes through the same model store code
# the services read (LATEST last), and may write nothing but its own prefix.
# A run that fails (demand's data validation exits 3 before it publishes)
# stops with a non-zero exit and leaves the store as it was; an EventBridge
# rule sends such a stop to the alarm topic.

locals {
  full_name = "${var.name_prefix}-${var.name}-train"

  # The image's two VOLUMEs owned by its user, as for the services: /tmp
  # (build folders, model cache, demand's task-local warehouse) and /app/var
  # (reports such as demand's validation report).
  writable_paths = [
    { name = "tmp", path = "/tmp" },
    { name = "var", path = "/app/var" },
  ]

  container_definition = {
    name                   = "train"
    image                  = var.image
    essential              = true
    command                = var.command
    user                   = var.container_user
    readonlyRootFilesystem = true
    privileged             = false

    environment = [for k in sort(keys(var.environment)) : { name = k, value = var.environment[k] }]

    mountPoints = [for v in local.writable_paths : {
      sourceVolume  = v.name
      containerPath = v.path
      readOnly      = false
    }]

    linuxParameters = {
      initProcessEnabled = true
      capabilities       = { drop = ["ALL"] }
    }

    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = var.region
        awslogs-stream-prefix = var.name
      }
    }
  }
}

# AWS-0017: Encrypted with the CloudWatch Logs service key; training logs hold progress and metrics, not secrets.
#trivy:ignore:AWS-0017
resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Encrypted with the CloudWatch Logs service key; training logs hold progress and metrics, not secrets.
  name              = "/ecs/${local.full_name}"
  retention_in_days = var.log_retention_days
  tags              = merge(var.tags, { Service = var.name, Purpose = "training" })
}

resource "aws_ecs_task_definition" "this" {
  family                   = local.full_name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.cpu)
  memory                   = tostring(var.memory)
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arn

  container_definitions = jsonencode([local.container_definition])

  dynamic "volume" {
    for_each = local.writable_paths
    content {
      name = volume.value.name
    }
  }

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  tags = merge(var.tags, { Service = var.name, Purpose = "training" })
}

# No ingress at all; out only to S3 (gateway endpoint) and the interface
# endpoints (ECR, Logs) inside the VPC.
resource "aws_security_group" "this" {
  #checkov:skip=CKV2_AWS_5:Attached to every training task through the schedule's ecs_parameters network configuration, which the check does not follow.
  name        = "${local.full_name}-tasks"
  description = "Training tasks of ${var.name}: no ingress, HTTPS to S3 and the VPC endpoints"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${local.full_name}-tasks", Service = var.name })
}

resource "aws_vpc_security_group_egress_rule" "endpoints" {
  security_group_id = aws_security_group.this.id
  description       = "HTTPS to the interface VPC endpoints (ECR, CloudWatch Logs)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_egress_rule" "s3" {
  security_group_id = aws_security_group.this.id
  description       = "HTTPS to S3 through the gateway endpoint (models, image layers)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = var.s3_prefix_list_id
}

resource "aws_scheduler_schedule" "this" {
  #checkov:skip=CKV_AWS_297:The schedule holds a task definition ARN and network ids, no secret; the AWS-owned key encrypts it.
  name        = local.full_name
  group_name  = var.schedule_group
  description = "Retrain ${var.name} on ${var.schedule}"
  state       = var.enabled ? "ENABLED" : "DISABLED"

  schedule_expression          = var.schedule
  schedule_expression_timezone = "UTC"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = var.cluster_arn
    role_arn = var.scheduler_role_arn

    ecs_parameters {
      task_definition_arn = aws_ecs_task_definition.this.arn
      task_count          = 1
      launch_type         = "FARGATE"
      platform_version    = "LATEST"
      propagate_tags      = "TASK_DEFINITION"

      network_configuration {
        subnets          = var.subnet_ids
        security_groups  = [aws_security_group.this.id]
        assign_public_ip = false
      }
    }

    # A failed run is not retried on its own: it is reported (below) and the
    # next scheduled run starts from the data again.
    retry_policy {
      maximum_retry_attempts = 0
    }
  }
}

# A training task that stops with a non-zero exit code (or never starts) is
# sent to the alarm topic.
resource "aws_cloudwatch_event_rule" "failed" {
  name        = "${local.full_name}-failed"
  description = "A scheduled training run of ${var.name} stopped without success"

  event_pattern = jsonencode({
    source        = ["aws.ecs"]
    "detail-type" = ["ECS Task State Change"]
    detail = {
      clusterArn = [var.cluster_arn]
      group      = ["family:${local.full_name}"]
      lastStatus = ["STOPPED"]
      containers = { exitCode = [{ "anything-but" = 0 }] }
    }
  })

  tags = merge(var.tags, { Service = var.name })
}

resource "aws_cloudwatch_event_target" "failed" {
  rule      = aws_cloudwatch_event_rule.failed.name
  target_id = "alarm-topic"
  arn       = var.alarm_topic_arn
}
