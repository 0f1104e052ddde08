# A production (or staging) deployment: the API over HTTPS only (port 80
# redirects), the UI from a private bucket through CloudFront, at least two
# tasks per service spread over the zones, deletion protection on, alarms
# mailed to the on-call address.
#
#   cp backend.tf.example backend.tf && terraform init
#   terraform apply -var-file=prod.tfvars -var image_tag=$TAG -var create_services=false   # first time only
#   terraform apply -var-file=prod.tfvars -var image_tag=$TAG

provider "aws" {
  region = var.region
}

module "platform" {
  source = "../.."

  name            = "mlplat"
  environment     = var.environment
  image_tag       = var.image_tag
  image_tags      = var.image_tags
  create_services = var.create_services

  deployment_timeout = var.deployment_timeout

  certificate_arn = var.certificate_arn
  api_domain_name = var.api_domain_name

  ui_hosting         = "cloudfront"
  ui_aliases         = var.ui_aliases
  ui_certificate_arn = var.ui_certificate_arn

  minimum_tasks = var.minimum_tasks
  az_count      = 2

  alarm_emails = var.alarm_emails

  # A public API: a per-IP rate limit and AWS managed rules in front of it; writes also need the
  # service's key (API_KEYS from Secrets Manager, set by scripts/set_api_keys.sh).
  waf = { enabled = true, rate_limit = var.waf_rate_limit }

  alb_deletion_protection = var.deletion_protection
  force_destroy           = !var.deletion_protection

  tags = {
    Owner = "platform-team"
  }
}
