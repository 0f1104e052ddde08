variable "name" {
  description = "Name prefix of the load balancer, its security group and target groups."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the load balancer and target groups."
  type        = string
}

variable "vpc_cidr" {
  description = "VPC CIDR; the load balancer may only send traffic into it, on the services' ports."
  type        = string
}

variable "subnet_ids" {
  description = "Public subnets (at least two zones) for the internet-facing load balancer."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "An application load balancer needs subnets in at least two availability zones."
  }
}

variable "allowed_ingress_cidrs" {
  description = "IPv4 CIDR blocks allowed to reach the listeners."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "certificate_arn" {
  description = "ACM certificate for the HTTPS listener; null serves plain HTTP only."
  type        = string
  default     = null
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "access_logs_bucket" {
  description = "Bucket the load balancer writes its access logs to (its policy must admit the regional ELB log delivery)."
  type        = string
}

variable "access_logs_prefix" {
  description = "Key prefix of the access logs in that bucket (no leading or trailing slash)."
  type        = string
  default     = "alb"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9/_-]*[a-z0-9]$", var.access_logs_prefix))
    error_message = "access_logs_prefix must be a plain key prefix without leading or trailing slash."
  }
}

variable "deletion_protection" {
  description = "Turn on load balancer deletion protection."
  type        = bool
  default     = true
}

variable "services" {
  description = "One entry per service (from the registry): container port, /api/<svc> path prefix, readiness path, listener rule priority."
  type = map(object({
    port        = number
    path_prefix = string
    health_path = string
    priority    = number
  }))

  validation {
    condition     = alltrue([for k, s in var.services : s.path_prefix == "/api/${k}" && startswith(s.health_path, "${s.path_prefix}/")])
    error_message = "Each service's path_prefix must be /api/<name> and its health_path must lie under it."
  }

  validation {
    condition     = length(distinct([for s in values(var.services) : s.priority])) == length(var.services)
    error_message = "Listener rule priorities must be unique."
  }
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}
