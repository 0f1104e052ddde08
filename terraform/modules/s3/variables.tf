variable "name" {
  description = "Name prefix of the buckets (<project>-<environment>); the account id is appended for global uniqueness."
  type        = string
}

variable "noncurrent_version_days" {
  description = "Days a replaced or deleted object version of the models bucket is kept before it expires."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_days >= 1
    error_message = "noncurrent_version_days must be at least 1."
  }
}

variable "log_retention_days" {
  description = "Days access logs are kept in the logs bucket."
  type        = number
  default     = 365

  validation {
    condition     = var.log_retention_days >= 1
    error_message = "log_retention_days must be at least 1."
  }
}

variable "alb_log_prefix" {
  description = "Key prefix of the load balancer's access logs in the logs bucket."
  type        = string
  default     = "alb"
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete non-empty buckets."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}
