data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# The regional account ELB delivers access logs from (regions opened before
# August 2022); newer regions use the log delivery service principal instead,
# and the policy below admits both.
data "aws_elb_service_account" "current" {}

locals {
  account_id    = data.aws_caller_identity.current.account_id
  models_bucket = "${var.name}-models-${local.account_id}"
  logs_bucket   = "${var.name}-logs-${local.account_id}"
}

# ---------------------------------------------------------------------------
# Models bucket: private, versioned, encrypted, TLS only. Layout:
#   models/<service>/<version>/manifest.json + files, models/<service>/LATEST
# ---------------------------------------------------------------------------
resource "aws_s3_bucket" "models" {
  #checkov:skip=CKV_AWS_144:Model artifacts are rebuilt from code and data in git; cross-region replication doubles cost without need.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) encryption; model artifacts are not secret and a customer-managed key would add KMS grants to every task role.
  #checkov:skip=CKV2_AWS_62:Services poll LATEST; nothing consumes bucket event notifications.
  bucket        = local.models_bucket
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { Name = local.models_bucket, Purpose = "model-store" })
}

resource "aws_s3_bucket_ownership_controls" "models" {
  bucket = aws_s3_bucket.models.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "models" {
  bucket                  = aws_s3_bucket.models.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "models" {
  bucket = aws_s3_bucket.models.id
  versioning_configuration {
    status = "Enabled"
  }
}

# AWS-0132: SSE-S3 (AES256); model artifacts are not secret and a CMK would add KMS grants to every task role.
#trivy:ignore:AWS-0132
resource "aws_s3_bucket_server_side_encryption_configuration" "models" {
  bucket = aws_s3_bucket.models.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "models" {
  bucket = aws_s3_bucket.models.id

  rule {
    id     = "expire-old-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.models]
}

# Every read and write of a model, who made it, to the logs bucket.
resource "aws_s3_bucket_logging" "models" {
  bucket        = aws_s3_bucket.models.id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "s3/${local.models_bucket}/"

  depends_on = [aws_s3_bucket_policy.logs]
}

data "aws_iam_policy_document" "models" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.models.arn,
      "${aws_s3_bucket.models.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "models" {
  bucket = aws_s3_bucket.models.id
  policy = data.aws_iam_policy_document.models.json

  depends_on = [aws_s3_bucket_public_access_block.models]
}

# ---------------------------------------------------------------------------
# Logs bucket: ALB access logs (alb/), S3 server access logs of the other
# buckets (s3/<bucket>/). SSE-S3, because ELB log delivery cannot write with a
# KMS key; objects expire after log_retention_days.
# ---------------------------------------------------------------------------
# AWS-0089: This is the access-log bucket itself; logging it into itself would log every log delivery.
#trivy:ignore:AWS-0089
resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_18:This is the access-log bucket itself; logging it into itself would log every log delivery.
  #checkov:skip=CKV_AWS_144:Access logs are kept in one region for log_retention_days; replication doubles cost without need.
  #checkov:skip=CKV_AWS_145:ELB access log delivery only supports SSE-S3 (AES256) encryption, not KMS.
  #checkov:skip=CKV2_AWS_62:Nothing consumes notifications of log deliveries.
  bucket        = local.logs_bucket
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { Name = local.logs_bucket, Purpose = "access-logs" })
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

# AWS-0132: ELB access log delivery only supports SSE-S3 (AES256), not KMS.
#trivy:ignore:AWS-0132
resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    id     = "expire-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.log_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.logs]
}

data "aws_iam_policy_document" "logs" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.logs.arn,
      "${aws_s3_bucket.logs.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  # ALB access logs, regions opened before August 2022: the region's ELB account.
  statement {
    sid       = "ElbAccountWritesAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/${var.alb_log_prefix}/AWSLogs/${local.account_id}/*"]

    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.current.arn]
    }
  }

  # ALB access logs, newer regions: the log delivery service principal.
  statement {
    sid       = "ElbLogDeliveryWritesAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/${var.alb_log_prefix}/AWSLogs/${local.account_id}/*"]

    principals {
      type        = "Service"
      identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    }
  }

  # S3 server access logs of this stack's own buckets, from this account only.
  statement {
    sid       = "S3ServerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/s3/*"]

    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:s3:::${var.name}-*-${local.account_id}"]
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.id
  policy = data.aws_iam_policy_document.logs.json

  depends_on = [aws_s3_bucket_public_access_block.logs]
}
