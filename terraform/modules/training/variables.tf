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

variable "image" {
  description = "Training image: <service's ECR repository>:<tag>-train."
  type        = string
}

variable "command" {
  description = "Container command; python -m services.<name>.train with the registry's arguments."
  type        = list(string)

  validation {
    condition     = length(var.command) >= 3 && var.command[0] == "python" && var.command[1] == "-m"
    error_message = "command must run a Python module: [\"python\", \"-m\", \"services.<name>.train\", ...]."
  }
}

variable "cpu" {
  description = "Fargate task CPU units of a training run."
  type        = number

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be a Fargate CPU size (256, 512, 1024, ...)."
  }
}

variable "memory" {
  description = "Fargate task memory in MiB of a training run."
  type        = number

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880
    error_message = "memory must be between 512 and 122880 MiB."
  }
}

variable "schedule" {
  description = "EventBridge Scheduler expression (cron(...) or rate(...)), in UTC."
  type        = string

  validation {
    condition     = can(regex("^(cron|rate)\\(.+\\)$", var.schedule))
    error_message = "schedule must be an EventBridge Scheduler cron(...) or rate(...) expression."
  }
}

variable "enabled" {
  description = "Whether the schedule runs (false keeps it, disabled)."
  type        = bool
  default     = true
}

variable "schedule_group" {
  description = "Scheduler group of the schedule."
  type        = string
}

variable "cluster_arn" {
  description = "ECS cluster the training task runs in."
  type        = string
}

variable "scheduler_role_arn" {
  description = "Role EventBridge Scheduler assumes to run the task (ecs:RunTask on training task definitions, iam:PassRole on their roles)."
  type        = string
}

variable "execution_role_arn" {
  description = "Task execution role (image pull, log delivery)."
  type        = string
}

variable "task_role_arn" {
  description = "Training task role of this service (read and write its own model prefix only)."
  type        = string
}

variable "environment" {
  description = "Plain environment variables of the container (no secrets); MODEL_STORE_URI is required."
  type        = map(string)

  validation {
    condition     = contains(keys(var.environment), "MODEL_STORE_URI")
    error_message = "environment must set MODEL_STORE_URI."
  }
}

variable "container_user" {
  description = "uid:gid the container runs as (non-root)."
  type        = string
  default     = "10001:10001"

  validation {
    condition     = can(regex("^[1-9][0-9]*:[1-9][0-9]*$", var.container_user))
    error_message = "container_user must be a numeric, non-root uid:gid."
  }
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

variable "s3_prefix_list_id" {
  description = "Prefix list of the S3 gateway endpoint."
  type        = string
}

variable "alarm_topic_arn" {
  description = "SNS topic told about failed runs."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the training log group, in days."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}
