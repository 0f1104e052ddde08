data "aws_caller_identity" "current" {}

locals {
  models_bucket  = "${var.name}-models-${data.aws_caller_identity.current.account_id}"
  website_bucket = "${var.name}-website-${data.aws_caller_identity.current.account_id}"
}

# ---------------------------------------------------------------------------
# Models bucket: private, versioned, encrypted, TLS only. Layout:
#   models/<service>/<version>/manifest.json + files, models/<service>/LATEST
# ---------------------------------------------------------------------------
# AWS-0089: Server access logs would need a second log bucket; use CloudTrail data events when required.
#trivy:ignore:AWS-0089
resource "aws_s3_bucket" "models" {
  #checkov:skip=CKV_AWS_18:Server access logs would need a second log bucket; object-level reads are auditable with CloudTrail data events when required.
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
# Website bucket: the static UI. S3 website endpoints are public and HTTP
# only, which is the point of this bucket: it holds nothing but the built UI.
# ---------------------------------------------------------------------------
# AWS-0089: Holds only the public static UI; access logs would need a second bucket.
#trivy:ignore:AWS-0089
resource "aws_s3_bucket" "website" {
  #checkov:skip=CKV_AWS_18:Holds only the public static UI; access logs would need a second bucket.
  #checkov:skip=CKV_AWS_144:The UI is redeployed from git by scripts/deploy_frontend_s3.sh; replication is not needed.
  #checkov:skip=CKV_AWS_145:Public static files; S3 website endpoints cannot serve KMS-encrypted objects.
  #checkov:skip=CKV2_AWS_62:Nothing consumes bucket event notifications.
  #checkov:skip=CKV2_AWS_6:The public access block below keeps ACLs blocked but must allow the public-read bucket policy of a static website.
  bucket        = local.website_bucket
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { Name = local.website_bucket, Purpose = "web-ui" })
}

resource "aws_s3_bucket_ownership_controls" "website" {
  bucket = aws_s3_bucket.website.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# ACLs stay blocked; only the bucket policy below (public read of objects)
# is allowed to be public.
# AWS-0087: The static website must be readable by everyone through its bucket policy.
# AWS-0093: The static website must be readable by everyone through its bucket policy.
#trivy:ignore:AWS-0087
#trivy:ignore:AWS-0093
resource "aws_s3_bucket_public_access_block" "website" {
  #checkov:skip=CKV_AWS_54:The static website must be readable by everyone through its bucket policy.
  #checkov:skip=CKV_AWS_56:The static website must be readable by everyone through its bucket policy.
  bucket                  = aws_s3_bucket.website.id
  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = false
  restrict_public_buckets = false
}

resource "aws_s3_bucket_versioning" "website" {
  bucket = aws_s3_bucket.website.id
  versioning_configuration {
    status = "Enabled"
  }
}

# AWS-0132: S3 website endpoints cannot serve KMS-encrypted objects.
#trivy:ignore:AWS-0132
resource "aws_s3_bucket_server_side_encryption_configuration" "website" {
  bucket = aws_s3_bucket.website.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "website" {
  bucket = aws_s3_bucket.website.id

  rule {
    id     = "expire-old-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.website]
}

resource "aws_s3_bucket_website_configuration" "website" {
  bucket = aws_s3_bucket.website.id

  index_document {
    suffix = "index.html"
  }

  error_document {
    key = "index.html"
  }
}

data "aws_iam_policy_document" "website" {
  statement {
    sid       = "PublicReadOfTheUI"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.website.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }
  }
}

resource "aws_s3_bucket_policy" "website" {
  bucket = aws_s3_bucket.website.id
  policy = data.aws_iam_policy_document.website.json

  depends_on = [aws_s3_bucket_public_access_block.website]
}
