# What pages someone: one SNS topic, and per service the alarms that say it is
# failing its users (5xx answers, unhealthy targets, slow p99) or cannot load
# its model (from its JSON logs). The load balancer's own 5xx are watched too.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# CloudWatch may publish to an encrypted topic only with a customer-managed
# key whose policy admits it (the AWS-managed aws/sns key does not).
data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:A KMS key policy: Resource "*" is this key only, and the account-root statement is AWS's default, which hands control to IAM.
  #checkov:skip=CKV_AWS_111:A KMS key policy: Resource "*" is this key only, and the account-root statement is AWS's default, which hands control to IAM.
  #checkov:skip=CKV_AWS_356:A KMS key policy: Resource "*" is this key only (a key policy cannot name its own ARN before the key exists).
  statement {
    sid       = "AccountAdministersTheKey"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "AlarmSourcesEncryptMessages"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_kms_key" "alarms" {
  description             = "${var.name} alarm topic"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "alarms" {
  name          = "alias/${var.name}-alarms"
  target_key_id = aws_kms_key.alarms.key_id
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.alarms.arn
  tags              = var.tags
}

data "aws_iam_policy_document" "topic" {
  statement {
    sid       = "CloudWatchPublishesAlarms"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }

  # EventBridge rules of this account (failed training runs).
  statement {
    sid       = "EventBridgePublishesEvents"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.topic.json
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.email_endpoints)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  actions = [aws_sns_topic.alarms.arn]
}

# ---------------------------------------------------------------------------
# load balancer
# ---------------------------------------------------------------------------
resource "aws_cloudwatch_metric_alarm" "elb_5xx" {
  alarm_name          = "${var.name}-alb-5xx"
  alarm_description   = "The load balancer itself answered 5xx (no healthy target, timeouts) more than ${var.thresholds.elb_5xx_count} times a minute."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_ELB_5XX_Count"
  dimensions          = { LoadBalancer = var.load_balancer_arn_suffix }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = var.thresholds.elb_5xx_count
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

# ---------------------------------------------------------------------------
# per service
# ---------------------------------------------------------------------------
resource "aws_cloudwatch_metric_alarm" "target_5xx" {
  for_each = var.services

  alarm_name          = "${var.name}-${each.key}-5xx"
  alarm_description   = "${each.key} answered 5xx more than ${var.thresholds.target_5xx_count} times a minute in 3 of 5 minutes."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  dimensions          = { LoadBalancer = var.load_balancer_arn_suffix, TargetGroup = each.value.target_group_arn_suffix }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = var.thresholds.target_5xx_count
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = merge(var.tags, { Service = each.key })
}

resource "aws_cloudwatch_metric_alarm" "unhealthy_targets" {
  for_each = var.services

  alarm_name          = "${var.name}-${each.key}-unhealthy-targets"
  alarm_description   = "A task of ${each.key} failed its /ready health check for ${var.thresholds.unhealthy_minutes} minutes."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = { LoadBalancer = var.load_balancer_arn_suffix, TargetGroup = each.value.target_group_arn_suffix }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = var.thresholds.unhealthy_minutes
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = merge(var.tags, { Service = each.key })
}

resource "aws_cloudwatch_metric_alarm" "p99_latency" {
  for_each = var.services

  alarm_name          = "${var.name}-${each.key}-p99-latency"
  alarm_description   = "The slowest 1 % of ${each.key}'s answers took longer than ${var.thresholds.p99_latency_seconds} s for 5 minutes."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = { LoadBalancer = var.load_balancer_arn_suffix, TargetGroup = each.value.target_group_arn_suffix }
  extended_statistic  = "p99"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.thresholds.p99_latency_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = merge(var.tags, { Service = each.key })
}

# The services log one JSON line per failed model load or refresh (see
# services/common/holder.py); each becomes a data point of ModelLoadFailures.
resource "aws_cloudwatch_log_metric_filter" "model_load_failures" {
  for_each = var.services

  name           = "${var.name}-${each.key}-model-load-failures"
  log_group_name = each.value.log_group_name
  pattern        = var.model_load_failure_pattern

  metric_transformation {
    namespace     = var.metric_namespace
    name          = "ModelLoadFailures-${each.key}"
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "model_load_failures" {
  for_each = var.services

  alarm_name          = "${var.name}-${each.key}-model-load-failures"
  alarm_description   = "${each.key} could not load or refresh its model (it keeps serving the previous one, or none)."
  namespace           = var.metric_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.model_load_failures[each.key].metric_transformation[0].name
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.thresholds.model_load_failures
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = merge(var.tags, { Service = each.key })
}

# ---------------------------------------------------------------------------
# live monitoring: the services log these as CloudWatch embedded metrics
# (services/common/monitoring.py) for the version they serve, every minute
# per worker; every worker reports the same store-wide figure, so Maximum is
# that figure. A service that does not emit one (powerball has no input
# features, flow no actuals; live error only after 30 actuals) leaves its
# alarm without data, which does not breach.
# ---------------------------------------------------------------------------
resource "aws_cloudwatch_metric_alarm" "input_drift" {
  for_each = var.services

  alarm_name          = "${var.name}-${each.key}-input-drift"
  alarm_description   = "An input feature of ${each.key} drifted from the training profile: its PSI exceeded ${var.thresholds.drift_psi} for 15 minutes (GET /api/${each.key}/monitoring names the feature)."
  namespace           = var.monitoring_namespace
  metric_name         = "DriftMaxPSI"
  dimensions          = { Service = each.key }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.thresholds.drift_psi
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = merge(var.tags, { Service = each.key })
}

resource "aws_cloudwatch_metric_alarm" "live_error_above_baseline" {
  for_each = var.services

  alarm_name          = "${var.name}-${each.key}-live-error-above-baseline"
  alarm_description   = "On the actuals received, ${each.key}'s served model has been worse than its baseline (live error ratio above ${var.thresholds.live_error_ratio}) for 30 minutes."
  namespace           = var.monitoring_namespace
  metric_name         = "LiveErrorRatio"
  dimensions          = { Service = each.key }
  statistic           = "Maximum"
  period              = 900
  evaluation_periods  = 2
  threshold           = var.thresholds.live_error_ratio
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = merge(var.tags, { Service = each.key })
}
