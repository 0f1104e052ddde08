variable "region" {
  description = "AWS region of the development deployment."
  type        = string
  default     = "eu-west-1"
}

variable "image_tag" {
  description = "Image tag (git revision) pushed by scripts/build_and_push_ecr.sh."
  type        = string
}

variable "create_services" {
  description = "false for the first apply, before the images exist."
  type        = bool
  default     = true
}

variable "alarm_emails" {
  description = "E-mail addresses that receive the alarms."
  type        = list(string)
  default     = []
}
