variable "name" {
  description = "Short project name; prefixes every resource name (with the environment)."
  type        = string
  default     = "mlplat"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}[a-z0-9]$", var.name))
    error_message = "name must be 3-16 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Deployment environment; part of every resource name and tag."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging, prod."
  }
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC; split into public (ALB) and private (tasks, endpoints) subnets."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be a valid IPv4 CIDR block of /20 or larger."
  }
}

variable "az_count" {
  description = "Number of availability zones to spread subnets and tasks over."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3 (the ALB needs at least two zones)."
  }
}

variable "availability_zones" {
  description = "Zone names the subnets may use (null: <region>a, <region>b, <region>c of the provider's region); the first az_count available ones are used."
  type        = list(string)
  default     = null
}

variable "image_tag" {
  description = "Image tag (the git revision pushed by scripts/build_and_push_ecr.sh) deployed for every service."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && var.image_tag != "latest"
    error_message = "image_tag must be a valid Docker tag other than 'latest' (repositories are immutable; use the git revision)."
  }
}

variable "image_tags" {
  description = "Per-service image tag overrides, keyed by service name; services not listed use image_tag."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for t in values(var.image_tags) : can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", t)) && t != "latest"])
    error_message = "Every image_tags value must be a valid Docker tag other than 'latest'."
  }
}

variable "create_services" {
  description = "Create the ECS services (and what belongs to them). Set false for the very first apply of an environment, before any image is pushed: everything else is created and every output is saved."
  type        = bool
  default     = true
}

variable "certificate_arn" {
  description = "ACM certificate (in the stack's region) for the ALB's HTTPS listener on 443; port 80 then only redirects to it. Required outside dev; null serves plain HTTP (development only)."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "certificate_arn must be null or an ACM certificate ARN."
  }

  validation {
    condition     = var.certificate_arn != null || var.environment == "dev"
    error_message = "staging and prod serve the API over HTTPS only: set certificate_arn (an ACM certificate for api_domain_name)."
  }
}

variable "api_domain_name" {
  description = "DNS name that points at the ALB and matches certificate_arn (e.g. api.example.com). Used for the API base URL; when null the ALB DNS name is used."
  type        = string
  default     = null

  validation {
    condition     = var.api_domain_name == null || can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", var.api_domain_name))
    error_message = "api_domain_name must be null or a lowercase DNS name."
  }
}

variable "ui_hosting" {
  description = "How the UI is served: cloudfront (private bucket, origin access control, HTTPS; required outside dev) or s3-website (public HTTP website endpoint; development)."
  type        = string
  default     = "cloudfront"

  validation {
    condition     = contains(["cloudfront", "s3-website"], var.ui_hosting)
    error_message = "ui_hosting must be cloudfront or s3-website."
  }

  validation {
    condition     = var.ui_hosting == "cloudfront" || var.environment == "dev"
    error_message = "Only dev may serve the UI from the public S3 website endpoint; staging and prod use cloudfront."
  }
}

variable "ui_aliases" {
  description = "Custom domain names of the UI's CloudFront distribution (need ui_certificate_arn)."
  type        = list(string)
  default     = []
}

variable "ui_certificate_arn" {
  description = "ACM certificate in us-east-1 covering ui_aliases; null uses CloudFront's *.cloudfront.net name and certificate."
  type        = string
  default     = null

  validation {
    condition     = (var.ui_certificate_arn == null) == (length(var.ui_aliases) == 0)
    error_message = "ui_aliases and ui_certificate_arn go together: set both or neither."
  }
}

variable "minimum_tasks" {
  description = "Floor on every service's task count (the registry's min_tasks is raised to it). At least 2 outside dev, so each service survives a task or a zone going away."
  type        = number
  default     = 2

  validation {
    condition     = var.minimum_tasks >= 1 && (var.minimum_tasks >= 2 || var.environment == "dev")
    error_message = "minimum_tasks must be at least 1, and at least 2 in staging and prod."
  }
}

variable "wait_for_steady_state" {
  description = "Make apply wait until every changed service runs its new tasks healthily, and fail when it does not."
  type        = bool
  default     = true
}

variable "deployment_timeout" {
  description = "How long apply waits for a service's deployment to become steady before it fails (e.g. 20m)."
  type        = string
  default     = "20m"
}

variable "training_enabled" {
  description = "Run the registry's retraining schedules (false keeps the schedules, disabled)."
  type        = bool
  default     = true
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic."
  type        = list(string)
  default     = []
}

variable "alarm_thresholds" {
  description = "Alarm thresholds (see modules/alarms): elb_5xx_count, target_5xx_count per minute, unhealthy_minutes, p99_latency_seconds, model_load_failures per 5 minutes, drift_psi (largest feature PSI), live_error_ratio (live error of the model / its baseline's)."
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
}

variable "alb_deletion_protection" {
  description = "Turn on deletion protection for the load balancer. Set false before `terraform destroy`."
  type        = bool
  default     = true
}

variable "allowed_ingress_cidrs" {
  description = "IPv4 CIDR blocks allowed to reach the load balancer on ports 80/443."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.allowed_ingress_cidrs) > 0 && alltrue([for c in var.allowed_ingress_cidrs : can(cidrnetmask(c))])
    error_message = "allowed_ingress_cidrs must be a non-empty list of IPv4 CIDR blocks."
  }
}

variable "log_retention_days" {
  description = "Retention of the services' CloudWatch log groups and the VPC flow logs, in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ..., 365, ...)."
  }
}

variable "model_refresh_seconds" {
  description = "How often each service polls <MODEL_STORE_URI>/<service>/LATEST for a new model version."
  type        = number
  default     = 60

  validation {
    condition     = var.model_refresh_seconds >= 5 && var.model_refresh_seconds <= 3600
    error_message = "model_refresh_seconds must be between 5 and 3600."
  }
}

variable "cpu_target_percent" {
  description = "Average CPU utilisation that target-tracking autoscaling keeps each service at."
  type        = number
  default     = 60

  validation {
    condition     = var.cpu_target_percent >= 10 && var.cpu_target_percent <= 90
    error_message = "cpu_target_percent must be between 10 and 90."
  }
}

variable "extra_cors_origins" {
  description = "Origins allowed by CORS in addition to the UI's own (e.g. a local development UI)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for o in var.extra_cors_origins : can(regex("^https?://[^/]+$", o))])
    error_message = "Each extra CORS origin must be scheme://host[:port] with no path."
  }
}

variable "flow_state_service" {
  description = "Registry service that keeps gate state in DynamoDB (gets the table and FLOW_STATE_BACKEND=dynamodb). Null for none."
  type        = string
  default     = "flow"
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete non-empty buckets and ECR repositories. Keep false outside throwaway environments."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Extra tags applied to every resource (beside Project, Environment and ManagedBy)."
  type        = map(string)
  default     = {}
}

variable "waf" {
  description = "A WAF web ACL on the ALB: a per-IP rate limit (requests per window) and AWS managed common rules. On in the prod example."
  type = object({
    enabled             = bool
    rate_limit          = optional(number, 2000)
    rate_window_seconds = optional(number, 300)
  })
  default = { enabled = false }

  validation {
    condition     = var.waf.rate_limit >= 10 && contains([60, 120, 300, 600], var.waf.rate_window_seconds)
    error_message = "waf.rate_limit must be >= 10 and waf.rate_window_seconds one of 60, 120, 300, 600."
  }
}

variable "api_keys_recovery_window_days" {
  description = "Days a deleted write-key secret can be restored (0: deleted at once, for throwaway stacks)."
  type        = number
  default     = 7

  validation {
    condition     = var.api_keys_recovery_window_days == 0 || (var.api_keys_recovery_window_days >= 7 && var.api_keys_recovery_window_days <= 30)
    error_message = "api_keys_recovery_window_days must be 0 or 7-30."
  }
}
