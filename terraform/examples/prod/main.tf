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

  alb_deletion_protection = var.deletion_protection
  force_destroy           = !var.deletion_protection

  tags = {
    Owner = "platform-team"
  }
}
