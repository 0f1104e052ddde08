output "repository_urls" {
  description = "Repository URL per service."
  value       = { for k, r in aws_ecr_repository.this : k => r.repository_url }
}

output "repository_arns" {
  description = "Repository ARN per service."
  value       = { for k, r in aws_ecr_repository.this : k => r.arn }
}

output "repository_base" {
  description = "<registry>/<name>: the repository of service S is <repository_base>/S."
  value       = "${split("/", values(aws_ecr_repository.this)[0].repository_url)[0]}/${var.name}"
}
