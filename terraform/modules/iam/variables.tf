variable "name" {
  description = "Name prefix of the roles."
  type        = string
}

variable "models_bucket_arn" {
  description = "ARN of the models bucket."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]+$", var.models_bucket_arn))
    error_message = "models_bucket_arn must be an S3 bucket ARN (no key part)."
  }
}

variable "services" {
  description = "One entry per service: its own prefix in the models bucket (models/<name>) and the ARN of its write-key secret."
  type = map(object({
    model_prefix        = string
    api_keys_secret_arn = string
  }))

  validation {
    condition     = alltrue([for k, s in var.services : can(regex("^[a-z0-9_-]+(/[a-z0-9_-]+)*$", s.model_prefix)) && endswith(s.model_prefix, "/${k}")])
    error_message = "Each model_prefix must be a plain path ending in /<service name>, with no wildcard and no trailing slash."
  }
}

variable "state_tables" {
  description = "Per service that keeps state in DynamoDB: its table ARN and the DynamoDB actions (without the dynamodb: prefix) its code calls."
  type = map(object({
    arn     = string
    actions = list(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for t in values(var.state_tables) : length(t.actions) > 0 && alltrue([for a in t.actions : can(regex("^[A-Z][A-Za-z]+$", a))])])
    error_message = "Each state table needs a non-empty list of plain DynamoDB action names (e.g. GetItem), no wildcard."
  }
}

variable "monitoring_tables" {
  description = "Per service: its monitoring table ARN and the DynamoDB actions (without the dynamodb: prefix) services/common/monitor_store.py calls."
  type = map(object({
    arn     = string
    actions = list(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for t in values(var.monitoring_tables) : length(t.actions) > 0 && alltrue([for a in t.actions : can(regex("^[A-Z][A-Za-z]+$", a))])])
    error_message = "Each monitoring table needs a non-empty list of plain DynamoDB action names (e.g. UpdateItem), no wildcard."
  }
}

variable "training" {
  description = "Services retrained on a schedule: the family and region of their training task definition (<prefix>-<service>-train), which the scheduler role may run."
  type = map(object({
    family = string
    region = string
  }))
  default = {}

  validation {
    condition     = alltrue([for k, t in var.training : contains(keys(var.services), k) && t.family != ""])
    error_message = "Every trained service must be one of var.services, with its task definition family."
  }
}

variable "cluster_arn" {
  description = "ECS cluster the scheduler may run training tasks in (required with training)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}
