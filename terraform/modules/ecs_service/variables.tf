variable "name" {
  description = "Service name, as in services/registry.json."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9_-]*$", var.name))
    error_message = "name must be a lowercase identifier."
  }
}

variable "name_prefix" {
  description = "Prefix (<project>-<environment>) for the names of the module's resources."
  type        = string
}

variable "region" {
  description = "AWS region (for the awslogs driver)."
  type        = string
}

variable "cluster_arn" {
  description = "ECS cluster that runs the service."
  type        = string
}

variable "cluster_name" {
  description = "Name of that cluster (for the autoscaling resource id)."
  type        = string
}

variable "image" {
  description = "Full image reference: <ecr repository url>:<tag>."
  type        = string
}

variable "port" {
  description = "Container port (the registry's port; also given to the app as PORT)."
  type        = number

  validation {
    condition     = var.port >= 1024 && var.port <= 65535
    error_message = "port must be an unprivileged port (1024-65535): the container runs as a non-root user."
  }
}

variable "cpu" {
  description = "Fargate task CPU units."
  type        = number

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be a Fargate CPU size (256, 512, 1024, ...)."
  }
}

variable "memory" {
  description = "Fargate task memory in MiB (must be valid for the chosen cpu)."
  type        = number

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880
    error_message = "memory must be between 512 and 122880 MiB."
  }
}

variable "min_tasks" {
  description = "Minimum (and initial) number of tasks."
  type        = number

  validation {
    condition     = var.min_tasks >= 1
    error_message = "min_tasks must be at least 1."
  }
}

variable "max_tasks" {
  description = "Maximum number of tasks autoscaling may run."
  type        = number
}

variable "model_prefix" {
  description = "The service's own prefix in the models bucket (models/<name>); checked against MODEL_STORE_URI."
  type        = string
}

variable "cpu_target_percent" {
  description = "Average CPU utilisation kept by target tracking."
  type        = number
  default     = 60
}

variable "log_retention_days" {
  description = "Retention of the service's log group, in days."
  type        = number
  default     = 365
}

variable "vpc_id" {
  description = "VPC of the tasks."
  type        = string
}

variable "vpc_cidr" {
  description = "VPC CIDR (tasks reach the interface endpoints on 443 inside it)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the tasks."
  type        = list(string)
}

variable "alb_security_group_id" {
  description = "Security group of the load balancer: the only source admitted on the container port."
  type        = string
}

variable "target_group_arn" {
  description = "Target group of this service."
  type        = string
}

variable "s3_prefix_list_id" {
  description = "Prefix list of the S3 gateway endpoint (model downloads, ECR image layers)."
  type        = string
}

variable "dynamodb_egress" {
  description = "Allow HTTPS to DynamoDB (through the gateway endpoint): for a service whose code calls it (its monitoring table; flow's state table)."
  type        = bool
  default     = false
}

variable "dynamodb_prefix_list_id" {
  description = "Prefix list of the DynamoDB gateway endpoint (used when dynamodb_egress is true)."
  type        = string
}

variable "wait_for_steady_state" {
  description = "Make apply wait until the service's new tasks run and pass their health checks (and fail when they do not)."
  type        = bool
  default     = true
}

variable "deployment_timeout" {
  description = "How long apply waits for a deployment to reach a steady state before it fails (Terraform duration, e.g. 20m)."
  type        = string
  default     = "20m"

  validation {
    condition     = can(regex("^[0-9]+[smh]$", var.deployment_timeout))
    error_message = "deployment_timeout must be a Terraform duration such as 30s, 20m or 1h."
  }
}

variable "execution_role_arn" {
  description = "Task execution role (image pull, log delivery)."
  type        = string
}

variable "task_role_arn" {
  description = "Task role of this service (its own model prefix only)."
  type        = string
}

variable "environment" {
  description = "Plain environment variables of the container (no secrets)."
  type        = map(string)
  default     = {}

  validation {
    condition     = contains(keys(var.environment), "MODEL_STORE_URI")
    error_message = "environment must set MODEL_STORE_URI."
  }
}

variable "container_user" {
  description = "uid:gid the container runs as (non-root; must own nothing but /tmp, which is a writable volume)."
  type        = string
  default     = "10001:10001"

  validation {
    condition     = can(regex("^[1-9][0-9]*:[1-9][0-9]*$", var.container_user))
    error_message = "container_user must be a numeric, non-root uid:gid."
  }
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}

variable "secrets" {
  description = "Environment variables ECS fills from Secrets Manager at start: name => secret ARN (the execution role must be allowed to read each)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.secrets : can(regex("^arn:[a-z-]+:secretsmanager:", v))])
    error_message = "Each secret must be a Secrets Manager ARN."
  }
}
