# A development deployment of the whole platform: plain HTTP on the ALB,
# deletion protection off and force_destroy on so `terraform destroy` cleans up.
#
#   terraform init && terraform apply -var image_tag=$(git rev-parse --short=12 HEAD)

provider "aws" {
  region = var.region
}

module "platform" {
  #checkov:skip=CKV_AWS_150:A development stack is torn down with `terraform destroy`; production keeps the root default (deletion protection on).
  source = "../.."

  name                    = "mlplat"
  environment             = "dev"
  region                  = var.region
  image_tag               = var.image_tag
  alb_deletion_protection = false
  force_destroy           = true
  log_retention_days      = 365

  tags = {
    Owner = "platform-team"
  }
}
