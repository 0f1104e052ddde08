variable "name" {
  description = "Name prefix (<project>-<environment>); the bucket is <name>-website-<account id>."
  type        = string
}

variable "mode" {
  description = "cloudfront: private bucket behind CloudFront with origin access control (production). s3-website: the bucket's public HTTP website endpoint (development)."
  type        = string
  default     = "cloudfront"

  validation {
    condition     = contains(["cloudfront", "s3-website"], var.mode)
    error_message = "mode must be cloudfront or s3-website."
  }
}

variable "aliases" {
  description = "Custom domain names of the distribution (cloudfront mode); each must be covered by certificate_arn."
  type        = list(string)
  default     = []
}

variable "certificate_arn" {
  description = "ACM certificate in us-east-1 for the aliases (cloudfront mode); null uses the *.cloudfront.net certificate."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "certificate_arn must be null or an ACM certificate ARN in us-east-1 (CloudFront only uses certificates from there)."
  }
}

variable "price_class" {
  description = "CloudFront price class (edge locations used)."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.price_class)
    error_message = "price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "logs_bucket" {
  description = "Bucket receiving the website bucket's S3 server access logs."
  type        = string
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the bucket with the UI still in it."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}
