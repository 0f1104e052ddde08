# One Secrets Manager secret per service: the keys its write routes accept
# (services/common/auth.py), a comma-separated list so two keys are valid while
# clients move to a new one. Terraform creates the secret without a value, so
# no key is ever in the plan or the state; scripts/set_api_keys.sh writes and
# rotates the value (docs/deployment.md). The task definition injects it as
# API_KEYS through `secrets`, read by that service's execution role only.

# AWS-0098: the account's aws/secretsmanager key unless kms_key_id is given; only the service's
# execution role may read the secret, which is what protects it.
#trivy:ignore:AWS-0098
resource "aws_secretsmanager_secret" "this" {
  #checkov:skip=CKV_AWS_149:The aws/secretsmanager key unless kms_key_id is set; access is limited by the execution role's policy to its own secret, and a customer-managed key adds a key policy every reader must also pass.
  #checkov:skip=CKV2_AWS_57:Rotation is operator-driven (scripts/set_api_keys.sh rotate: add a key, move clients, drop the old one); a rotation Lambda cannot update the clients that hold the key.
  for_each = toset(var.services)

  name                    = "${var.name}/${each.key}/api-keys"
  description             = "Write keys of the ${each.key} service (comma-separated; set by scripts/set_api_keys.sh)"
  kms_key_id              = var.kms_key_id
  recovery_window_in_days = var.recovery_window_in_days
  tags                    = merge(var.tags, { Service = each.key })
}
