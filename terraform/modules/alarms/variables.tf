variable "name" {
  description = "Name prefix (<project>-<environment>) of the topic, key and alarms."
  type        = string
}

variable "load_balancer_arn_suffix" {
  description = "ARN suffix of the load balancer (LoadBalancer dimension)."
  type        = string
}

variable "services" {
  description = "Per service: its target group's ARN suffix (TargetGroup dimension) and its log group."
  type = map(object({
    target_group_arn_suffix = string
    log_group_name          = string
  }))
}

variable "thresholds" {
  description = "When an alarm fires."
  type = object({
    elb_5xx_count       = optional(number, 5)
    target_5xx_count    = optional(number, 5)
    unhealthy_minutes   = optional(number, 3)
    p99_latency_seconds = optional(number, 1)
    model_load_failures = optional(number, 1)
    drift_psi           = optional(number, 0.25)
    live_error_ratio    = optional(number, 1)
  })
  default = {}

  validation {
    condition     = var.thresholds.unhealthy_minutes >= 1 && var.thresholds.p99_latency_seconds > 0 && var.thresholds.model_load_failures >= 1
    error_message = "unhealthy_minutes and model_load_failures must be at least 1, p99_latency_seconds above 0."
  }

  validation {
    condition     = var.thresholds.drift_psi > 0 && var.thresholds.live_error_ratio > 0
    error_message = "drift_psi and live_error_ratio must be above 0."
  }
}

variable "monitoring_namespace" {
  description = "CloudWatch namespace of the embedded metrics the services log (services/common/monitoring.py): DriftMaxPSI and LiveErrorRatio per Service."
  type        = string
}

variable "model_load_failure_pattern" {
  description = "CloudWatch Logs filter pattern matching the line a service logs when a model fails to load."
  type        = string
  default     = "{ ($.level = \"ERROR\") && ($.message = \"model refresh failed\") }"
}

variable "metric_namespace" {
  description = "CloudWatch namespace of the metrics made from the logs."
  type        = string
}

variable "email_endpoints" {
  description = "E-mail addresses subscribed to the alarm topic (each must confirm the subscription)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.email_endpoints : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "Each email endpoint must be an e-mail address."
  }
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}
