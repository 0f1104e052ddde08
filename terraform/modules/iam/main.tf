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
