# A development deployment of the whole platform: plain HTTP on the ALB, the
# UI on the S3 website endpoint, one task per service, deletion protection off
# and force_destroy on so `terraform destroy` cleans up.
#
#   terraform init
#   terraform apply -var image_tag=$TAG -var create_services=false   # first time only
#   terraform apply -var image_tag=$TAG

provider "aws" {
  region = var.region
}

module "platform" {
  #checkov:skip=CKV_AWS_150:A development stack is torn down with `terraform destroy`; production keeps the root default (deletion protection on).
  source = "../.."

  name            = "mlplat"
  environment     = "dev"
  image_tag       = var.image_tag
  create_services = var.create_services

  ui_hosting    = "s3-website"
  minimum_tasks = 1

  alb_deletion_protection = false
  force_destroy           = true
  log_retention_days      = 365
  alarm_emails            = var.alarm_emails

  tags = {
    Owner = "platform-team"
  }
}
