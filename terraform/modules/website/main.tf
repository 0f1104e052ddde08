# The static UI, in one of two modes:
#   cloudfront  - a private bucket read only by one CloudFront distribution
#                 through origin access control; HTTPS to the viewer. Production.
#   s3-website  - the bucket's own website endpoint, public read, HTTP only.
#                 The simple mode for development.

data "aws_caller_identity" "current" {}

locals {
  bucket     = "${var.name}-website-${data.aws_caller_identity.current.account_id}"
  cloudfront = var.mode == "cloudfront"
  website    = var.mode == "s3-website"
  origin_id  = "ui-bucket"
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:The UI is redeployed from git by scripts/deploy_frontend_s3.sh; replication is not needed.
  #checkov:skip=CKV_AWS_145:Static UI files (no secrets), SSE-S3; the s3-website mode cannot serve KMS-encrypted objects.
  #checkov:skip=CKV2_AWS_62:Nothing consumes bucket event notifications.
  bucket        = local.bucket
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { Name = local.bucket, Purpose = "web-ui" })
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# Fully private behind CloudFront; in s3-website mode ACLs stay blocked and
# only the public-read bucket policy below is allowed.
# AWS-0087: In s3-website (development) mode the UI must be readable by everyone through the bucket policy.
# AWS-0093: In s3-website (development) mode the UI must be readable by everyone through the bucket policy.
#trivy:ignore:AWS-0087
#trivy:ignore:AWS-0093
resource "aws_s3_bucket_public_access_block" "this" {
  #checkov:skip=CKV_AWS_54:Only in s3-website (development) mode, where the UI must be readable by everyone through its bucket policy; true behind CloudFront.
  #checkov:skip=CKV_AWS_56:Only in s3-website (development) mode, where the UI must be readable by everyone through its bucket policy; true behind CloudFront.
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = local.cloudfront
  restrict_public_buckets = local.cloudfront
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id
  versioning_configuration {
    status = "Enabled"
  }
}

# AWS-0132: Static UI files, SSE-S3; S3 website endpoints cannot serve KMS-encrypted objects.
#trivy:ignore:AWS-0132
resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

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

  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_logging" "this" {
  bucket        = aws_s3_bucket.this.id
  target_bucket = var.logs_bucket
  target_prefix = "s3/${local.bucket}/"
}

# ---------------------------------------------------------------------------
# s3-website mode
# ---------------------------------------------------------------------------
resource "aws_s3_bucket_website_configuration" "this" {
  count  = local.website ? 1 : 0
  bucket = aws_s3_bucket.this.id

  index_document {
    suffix = "index.html"
  }

  error_document {
    key = "index.html"
  }
}

# ---------------------------------------------------------------------------
# cloudfront mode
# ---------------------------------------------------------------------------
resource "aws_cloudfront_origin_access_control" "this" {
  count = local.cloudfront ? 1 : 0

  name                              = local.bucket
  description                       = "CloudFront reads ${local.bucket} with SigV4"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

# AWS-0010: CloudFront standard logs need an ACL-enabled bucket; the UI is static files and every API call is in the ALB access logs.
# AWS-0011: A WAF web ACL is an account-level choice with its own cost; the distribution serves only static files.
#trivy:ignore:AWS-0010
#trivy:ignore:AWS-0011
resource "aws_cloudfront_distribution" "this" {
  #checkov:skip=CKV_AWS_86:CloudFront standard logs need an ACL-enabled bucket; the UI is static files and every API call is in the ALB access logs.
  #checkov:skip=CKV_AWS_68:A WAF web ACL is an account-level choice with its own cost; the distribution serves only static files.
  #checkov:skip=CKV2_AWS_47:No WAF (see CKV_AWS_68); the origin is a bucket of static files, no Java to exploit.
  #checkov:skip=CKV_AWS_310:One origin, the UI bucket; S3 is the failover story (a second bucket would be a second copy to keep in sync).
  #checkov:skip=CKV_AWS_374:The UI is for every operator wherever they are; no country is restricted.
  #checkov:skip=CKV_AWS_174:Only without ui_certificate_arn, when CloudFront's own *.cloudfront.net certificate is used and its protocol floor cannot be set; with a certificate the floor is TLSv1.2_2021.
  #checkov:skip=CKV2_AWS_32:The default behaviour sets response_headers_policy_id to AWS's managed SecurityHeadersPolicy (by its documented ID); the check only recognises a policy resource defined here.
  #checkov:skip=CKV2_AWS_42:Only without ui_certificate_arn (see CKV_AWS_174); set aliases and a certificate for a custom domain.
  count = local.cloudfront ? 1 : 0

  enabled             = true
  comment             = "${var.name} web UI"
  default_root_object = "index.html"
  http_version        = "http2and3"
  is_ipv6_enabled     = true
  price_class         = var.price_class
  aliases             = var.aliases
  wait_for_deployment = true

  origin {
    origin_id                = local.origin_id
    domain_name              = aws_s3_bucket.this.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.this[0].id
  }

  default_cache_behavior {
    target_origin_id       = local.origin_id
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD"]
    cached_methods         = ["GET", "HEAD"]
    compress               = true
    # AWS managed policies (fixed, documented IDs): Managed-CachingOptimized
    # (honours the origin's Cache-Control: index.html and config.js are
    # no-cache), Managed-SecurityHeadersPolicy (HSTS, nosniff, frame deny).
    cache_policy_id            = "658327ea-f89d-4fab-a63d-7e88639e58f6"
    response_headers_policy_id = "67f7725c-6f97-4210-82d7-5512b31e9d03"
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = var.certificate_arn == null
    acm_certificate_arn            = var.certificate_arn
    ssl_support_method             = var.certificate_arn == null ? null : "sni-only"
    minimum_protocol_version       = var.certificate_arn == null ? "TLSv1" : "TLSv1.2_2021"
  }

  tags = var.tags
}

# ---------------------------------------------------------------------------
# bucket policy: TLS only, plus who may read
# ---------------------------------------------------------------------------
data "aws_iam_policy_document" "this" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
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

  dynamic "statement" {
    for_each = local.cloudfront ? [1] : []
    content {
      sid       = "CloudFrontReadsTheUI"
      actions   = ["s3:GetObject"]
      resources = ["${aws_s3_bucket.this.arn}/*"]

      principals {
        type        = "Service"
        identifiers = ["cloudfront.amazonaws.com"]
      }

      condition {
        test     = "StringEquals"
        variable = "AWS:SourceArn"
        values   = [aws_cloudfront_distribution.this[0].arn]
      }
    }
  }

  dynamic "statement" {
    for_each = local.website ? [1] : []
    content {
      sid       = "PublicReadOfTheUI"
      actions   = ["s3:GetObject"]
      resources = ["${aws_s3_bucket.this.arn}/*"]

      principals {
        type        = "*"
        identifiers = ["*"]
      }
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.this.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}
