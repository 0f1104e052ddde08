variable "name" {
  description = "Prefix (<project>-<environment>) of the secret names: <name>/<service>/api-keys."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_+=.@-]+$", var.name))
    error_message = "name may hold letters, digits and _+=.@- only."
  }
}

variable "services" {
  description = "Services that get a write-key secret (every registry entry)."
  type        = list(string)

  validation {
    condition     = alltrue([for s in var.services : can(regex("^[a-z][a-z0-9_-]*$", s))])
    error_message = "Each service name must be a lowercase identifier."
  }
}

variable "kms_key_id" {
  description = "KMS key for the secrets; null uses the account's aws/secretsmanager key."
  type        = string
  default     = null
}

variable "recovery_window_in_days" {
  description = "Days a deleted secret can be restored (0 deletes at once; 7-30 otherwise)."
  type        = number
  default     = 7

  validation {
    condition     = var.recovery_window_in_days == 0 || (var.recovery_window_in_days >= 7 && var.recovery_window_in_days <= 30)
    error_message = "recovery_window_in_days must be 0 or 7-30."
  }
}

variable "tags" {
  description = "Tags for every secret."
  type        = map(string)
  default     = {}
}
