variable "region" {
  description = "AWS region of the deployment."
  type        = string
  default     = "eu-west-1"
}

variable "environment" {
  description = "staging or prod (both get the production settings)."
  type        = string
  default     = "prod"

  validation {
    condition     = contains(["staging", "prod"], var.environment)
    error_message = "environment must be staging or prod (use examples/dev for dev)."
  }
}

variable "image_tag" {
  description = "Image tag (git revision) pushed by scripts/build_and_push_ecr.sh."
  type        = string
}

variable "image_tags" {
  description = "Per-service tag overrides, to release one service: { sales = \"<tag>\" }."
  type        = map(string)
  default     = {}
}

variable "deployment_timeout" {
  description = "How long apply waits for each service's new tasks to run healthily before it fails."
  type        = string
  default     = "20m"
}

variable "create_services" {
  description = "false for the first apply, before the images exist."
  type        = bool
  default     = true
}

variable "certificate_arn" {
  description = "ACM certificate (in var.region) for api_domain_name."
  type        = string
}

variable "api_domain_name" {
  description = "DNS name of the API (an alias or CNAME of the ALB), covered by certificate_arn."
  type        = string
}

variable "ui_aliases" {
  description = "Custom domain names of the UI (optional; need ui_certificate_arn)."
  type        = list(string)
  default     = []
}

variable "ui_certificate_arn" {
  description = "ACM certificate in us-east-1 for ui_aliases (optional)."
  type        = string
  default     = null
}

variable "minimum_tasks" {
  description = "Tasks per service at least (two zones, so at least 2)."
  type        = number
  default     = 2
}

variable "alarm_emails" {
  description = "E-mail addresses that receive the alarms."
  type        = list(string)
  default     = []
}

variable "deletion_protection" {
  description = "Load balancer deletion protection on, non-empty buckets and repositories kept on destroy. Set false (and apply) before `terraform destroy`."
  type        = bool
  default     = true
}

variable "waf_rate_limit" {
  description = "Requests one client IP may send per 5 minutes before the WAF blocks it."
  type        = number
  default     = 2000
}
