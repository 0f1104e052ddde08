variable "name" {
  description = "Table name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.name))
    error_message = "name must be a valid DynamoDB table name."
  }
}

variable "hash_key" {
  description = "Partition key (string), e.g. pk = <stadiumId>#<gateId>."
  type        = string
  default     = "pk"
}

variable "ttl_attribute" {
  description = "Attribute holding an expiry epoch (seconds) after which DynamoDB deletes the item; null turns TTL off."
  type        = string
  default     = "expires_at"
}

variable "deletion_protection" {
  description = "Turn on table deletion protection."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}
