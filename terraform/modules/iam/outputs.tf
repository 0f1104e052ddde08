output "execution_role_arn" {
  description = "Task execution role shared by all services (image pull, logs)."
  value       = aws_iam_role.execution.arn
}

output "task_role_arns" {
  description = "Task role ARN per service."
  value       = { for k, r in aws_iam_role.task : k => r.arn }
}
