# AWS-0025: Encrypted with the AWS managed key (aws/dynamodb); gate counts are not secrets.
#trivy:ignore:AWS-0025
resource "aws_dynamodb_table" "this" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS managed key (aws/dynamodb); gate counts are operational data, not secrets.
  name                        = var.name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = var.hash_key
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = var.hash_key
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  ttl {
    enabled        = var.ttl_attribute != null
    attribute_name = var.ttl_attribute != null ? var.ttl_attribute : ""
  }

  tags = var.tags
}
