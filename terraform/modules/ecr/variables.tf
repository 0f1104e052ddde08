variable "name" {
  description = "Namespace of the repositories: each is <name>/<service>."
  type        = string
}

variable "repositories" {
  description = "Service names; one repository each."
  type        = list(string)

  validation {
    condition     = length(var.repositories) > 0 && alltrue([for r in var.repositories : can(regex("^[a-z][a-z0-9_-]*$", r))])
    error_message = "repositories must be a non-empty list of lowercase service names."
  }
}

variable "keep_tagged_images" {
  description = "Number of tagged images kept per repository (older ones expire); a release pushes two (serving and -train)."
  type        = number
  default     = 30

  validation {
    condition     = var.keep_tagged_images >= 5
    error_message = "keep_tagged_images must be at least 5, so rollbacks have images to go back to."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete repositories that still hold images."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}
