variable "name" {
  description = "Name of the web ACL (and prefix of its metric names)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,128}$", var.name))
    error_message = "name must be 1-128 letters, digits, _ or -."
  }
}

variable "load_balancer_arn" {
  description = "ARN of the ALB the web ACL protects."
  type        = string
}

variable "rate_limit" {
  description = "Requests one client IP may send per evaluation window before it is blocked."
  type        = number
  default     = 2000

  validation {
    condition     = var.rate_limit >= 10 && var.rate_limit <= 2000000000
    error_message = "rate_limit must be between 10 and 2,000,000,000 (AWS WAF's range)."
  }
}

variable "rate_window_seconds" {
  description = "Evaluation window of the rate limit: 60, 120, 300 or 600 seconds."
  type        = number
  default     = 300

  validation {
    condition     = contains([60, 120, 300, 600], var.rate_window_seconds)
    error_message = "rate_window_seconds must be 60, 120, 300 or 600."
  }
}

variable "tags" {
  description = "Tags for the web ACL."
  type        = map(string)
  default     = {}
}
