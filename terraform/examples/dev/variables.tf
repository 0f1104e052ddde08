variable "region" {
  description = "AWS region of the development deployment."
  type        = string
  default     = "eu-west-1"
}

variable "image_tag" {
  description = "Image tag (git revision) pushed by scripts/build_and_push_ecr.sh."
  type        = string
}
