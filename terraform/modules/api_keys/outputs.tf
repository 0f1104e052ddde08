output "secret_arns" {
  description = "Secret ARN per service (the task definition's API_KEYS valueFrom)."
  value       = { for k, s in aws_secretsmanager_secret.this : k => s.arn }
}

output "secret_names" {
  description = "Secret name per service (what scripts/set_api_keys.sh writes)."
  value       = { for k, s in aws_secretsmanager_secret.this : k => s.name }
}
