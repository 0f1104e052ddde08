data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

# Only ECS tasks of this account may assume the roles (confused-deputy guard).
data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

# Execution role: used by the ECS agent to pull the image and ship logs, never
# by the application. AWS's managed policy is the standard one; it needs
# ecr:GetAuthorizationToken, which has no resource-level permissions.
resource "aws_iam_role" "execution" {
  name               = "${var.name}-ecs-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

# Service execution roles: one per service, so each may read its own write-key
# secret (injected as API_KEYS) and no other service's. The shared role above
# starts the training tasks, which need no secret.
resource "aws_iam_role" "service_execution" {
  for_each = var.services

  name               = "${var.name}-${each.key}-ecs-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = merge(var.tags, { Service = each.key })
}

resource "aws_iam_role_policy_attachment" "service_execution" {
  for_each = var.services

  role       = aws_iam_role.service_execution[each.key].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "own_api_keys" {
  for_each = var.services

  statement {
    sid       = "ReadOwnApiKeys"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [each.value.api_keys_secret_arn]
  }
}

resource "aws_iam_role_policy" "own_api_keys" {
  for_each = var.services

  name   = "read-own-api-keys"
  role   = aws_iam_role.service_execution[each.key].id
  policy = data.aws_iam_policy_document.own_api_keys[each.key].json
}

# Task roles: one per service, reading only that service's model prefix.
resource "aws_iam_role" "task" {
  for_each = var.services

  name               = "${var.name}-${each.key}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = merge(var.tags, { Service = each.key })
}

data "aws_iam_policy_document" "models_read" {
  for_each = var.services

  statement {
    sid       = "ReadOwnModels"
    actions   = ["s3:GetObject"]
    resources = ["${var.models_bucket_arn}/${each.value.model_prefix}/*"]
  }

  statement {
    sid       = "ListOwnModels"
    actions   = ["s3:ListBucket"]
    resources = [var.models_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${each.value.model_prefix}/*"]
    }
  }
}

resource "aws_iam_role_policy" "models_read" {
  for_each = var.services

  name   = "read-own-models"
  role   = aws_iam_role.task[each.key].id
  policy = data.aws_iam_policy_document.models_read[each.key].json
}

# ---------------------------------------------------------------------------
# Training: one task role per service that may read and write its own model
# prefix and nothing else, and the role EventBridge Scheduler uses to start
# the training tasks.
# ---------------------------------------------------------------------------
resource "aws_iam_role" "training" {
  for_each = var.training

  name               = "${var.name}-${each.key}-train"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = merge(var.tags, { Service = each.key, Purpose = "training" })
}

# What services/common/store.py (S3Backend) calls while publishing:
# get_object/download_file (GetObject), put_object/upload_file (PutObject,
# multipart uploads included; AbortMultipartUpload cleans up a failed one),
# list_objects_v2 (ListBucket).
data "aws_iam_policy_document" "models_write" {
  for_each = var.training

  statement {
    sid       = "ReadWriteOwnModels"
    actions   = ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]
    resources = ["${var.models_bucket_arn}/${var.services[each.key].model_prefix}/*"]
  }

  statement {
    sid       = "ListOwnModels"
    actions   = ["s3:ListBucket"]
    resources = [var.models_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.services[each.key].model_prefix}/*"]
    }
  }
}

resource "aws_iam_role_policy" "models_write" {
  for_each = var.training

  name   = "write-own-models"
  role   = aws_iam_role.training[each.key].id
  policy = data.aws_iam_policy_document.models_write[each.key].json
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  count = length(var.training) > 0 ? 1 : 0

  name               = "${var.name}-training-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = merge(var.tags, { Purpose = "training" })
}

data "aws_iam_policy_document" "scheduler" {
  count = length(var.training) > 0 ? 1 : 0

  statement {
    sid       = "RunTrainingTasks"
    actions   = ["ecs:RunTask"]
    resources = [for k, t in var.training : "arn:${data.aws_partition.current.partition}:ecs:${t.region}:${data.aws_caller_identity.current.account_id}:task-definition/${t.family}:*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.cluster_arn]
    }
  }

  statement {
    sid       = "PassTrainingRoles"
    actions   = ["iam:PassRole"]
    resources = concat([aws_iam_role.execution.arn], [for r in aws_iam_role.training : r.arn])

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "scheduler" {
  count = length(var.training) > 0 ? 1 : 0

  name   = "run-training-tasks"
  role   = aws_iam_role.scheduler[0].id
  policy = data.aws_iam_policy_document.scheduler[0].json
}

# A service's own state table, with exactly the actions its code calls
# (the caller derives them from the code; tests/infra checks they match).
data "aws_iam_policy_document" "state_table" {
  for_each = var.state_tables

  statement {
    sid       = "OwnStateTable"
    actions   = [for a in sort(each.value.actions) : "dynamodb:${a}"]
    resources = [each.value.arn]
  }
}

resource "aws_iam_role_policy" "state_table" {
  for_each = var.state_tables

  name   = "own-state-table"
  role   = aws_iam_role.task[each.key].id
  policy = data.aws_iam_policy_document.state_table[each.key].json
}

# A service's own monitoring table (input counts, actuals; services/common/monitor_store.py),
# with exactly the actions that code calls (the caller derives them; tests/infra checks they match).
data "aws_iam_policy_document" "monitoring_table" {
  for_each = var.monitoring_tables

  statement {
    sid       = "OwnMonitoringTable"
    actions   = [for a in sort(each.value.actions) : "dynamodb:${a}"]
    resources = [each.value.arn]
  }
}

resource "aws_iam_role_policy" "monitoring_table" {
  for_each = var.monitoring_tables

  name   = "own-monitoring-table"
  role   = aws_iam_role.task[each.key].id
  policy = data.aws_iam_policy_document.monitoring_table[each.key].json
}
