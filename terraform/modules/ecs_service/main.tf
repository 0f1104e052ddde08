locals {
  full_name = "${var.name_prefix}-${var.name}"

  writable_paths = [
    { name = "tmp", path = "/tmp" },
    { name = "var", path = "/app/var" },
  ]

  container_definition = {
    name                   = var.name
    image                  = var.image
    essential              = true
    user                   = var.container_user
    readonlyRootFilesystem = true
    privileged             = false

    portMappings = [{
      containerPort = var.port
      protocol      = "tcp"
    }]

    environment = [for k in sort(keys(var.environment)) : { name = k, value = var.environment[k] }]
    secrets     = [for k in sort(keys(var.secrets)) : { name = k, valueFrom = var.secrets[k] }]

    # The root filesystem is read-only; the only writable paths are two
    # task-local volumes at the paths the image declares as VOLUMEs owned by
    # its user (so ECS gives them that owner, not root 0755): /tmp (model
    # cache, metrics and gunicorn worker files) and /app/var (the services'
    # local state). tests/containers runs the images with exactly these.
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

    stopTimeout = 30
  }
}

# AWS-0017: Encrypted with the CloudWatch Logs service key; the logs hold request metadata, not secrets.
#trivy:ignore:AWS-0017
resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Encrypted with the CloudWatch Logs service key; the logs hold request metadata, not secrets, and a customer-managed key adds cost and key-policy surface.
  name              = "/ecs/${local.full_name}"
  retention_in_days = var.log_retention_days
  tags              = merge(var.tags, { Service = var.name })
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

  tags = merge(var.tags, { Service = var.name })

  lifecycle {
    precondition {
      condition     = endswith(var.model_prefix, "/${var.name}") && endswith(var.environment["MODEL_STORE_URI"], "/${trimsuffix(var.model_prefix, "/${var.name}")}")
      error_message = "The registry's model_prefix must be <store root>/<service name> and MODEL_STORE_URI must point at that store root."
    }
    precondition {
      condition     = var.max_tasks >= var.min_tasks
      error_message = "max_tasks must be at least min_tasks."
    }
  }
}

resource "aws_security_group" "this" {
  name        = "${local.full_name}-tasks"
  description = "Tasks of ${var.name}: in from the load balancer only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${local.full_name}-tasks", Service = var.name })
}

resource "aws_vpc_security_group_ingress_rule" "from_alb" {
  security_group_id            = aws_security_group.this.id
  description                  = "Container port from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port
  referenced_security_group_id = var.alb_security_group_id
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

# Only for a service that keeps state in DynamoDB (flow).
resource "aws_vpc_security_group_egress_rule" "dynamodb" {
  count = var.dynamodb_egress ? 1 : 0

  security_group_id = aws_security_group.this.id
  description       = "HTTPS to DynamoDB through the gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = var.dynamodb_prefix_list_id
}

resource "aws_ecs_service" "this" {
  name                   = var.name
  cluster                = var.cluster_arn
  task_definition        = aws_ecs_task_definition.this.arn
  desired_count          = var.min_tasks
  launch_type            = "FARGATE"
  platform_version       = "LATEST"
  propagate_tags         = "SERVICE"
  enable_execute_command = false

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = 60

  # Spread tasks over the subnets' zones and move them back when a zone recovers.
  availability_zone_rebalancing = "ENABLED"

  # `terraform apply` returns only once the new tasks run and are healthy, and
  # fails when they never are (or the circuit breaker rolls back), instead of
  # returning as soon as ECS accepted the new task definition.
  wait_for_steady_state = var.wait_for_steady_state

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.this.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = var.target_group_arn
    container_name   = var.name
    container_port   = var.port
  }

  tags = merge(var.tags, { Service = var.name })

  timeouts {
    create = var.deployment_timeout
    update = var.deployment_timeout
  }

  lifecycle {
    # Autoscaling owns the task count after creation.
    ignore_changes = [desired_count]
  }
}

resource "aws_appautoscaling_target" "this" {
  service_namespace  = "ecs"
  resource_id        = "service/${var.cluster_name}/${aws_ecs_service.this.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_tasks
  max_capacity       = var.max_tasks

  tags = merge(var.tags, { Service = var.name })
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "${local.full_name}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  resource_id        = aws_appautoscaling_target.this.resource_id
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target_percent
    scale_in_cooldown  = 120
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}
