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
