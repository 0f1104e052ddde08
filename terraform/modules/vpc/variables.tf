variable "name" {
  description = "Name prefix for the VPC and its resources."
  type        = string
}

variable "cidr" {
  description = "IPv4 CIDR block of the VPC."
  type        = string

  validation {
    condition     = can(cidrnetmask(var.cidr))
    error_message = "cidr must be a valid IPv4 CIDR block."
  }
}

variable "az_count" {
  description = "Number of availability zones (each gets one public and one private subnet)."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3."
  }
}

variable "region" {
  description = "AWS region, used to name the VPC endpoint services."
  type        = string
}

variable "zone_names" {
  description = "Availability zones allowed for the subnets (null: <region>a, <region>b, <region>c); the first az_count available ones are used."
  type        = list(string)
  default     = null
}

variable "interface_endpoints" {
  description = "Interface VPC endpoints created in the private subnets so tasks reach AWS APIs without a NAT or public IP."
  type        = list(string)
  default     = ["ecr.api", "ecr.dkr", "logs"]
}

variable "flow_log_retention" {
  description = "Retention in days of the VPC flow log group."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}
