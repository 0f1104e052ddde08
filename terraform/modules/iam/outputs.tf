output "execution_role_arn" {
  description = "Task execution role of the training tasks (image pull, logs; no secret)."
  value       = aws_iam_role.execution.arn
}

output "service_execution_role_arns" {
  description = "Execution role ARN per service (image pull, logs, and its own write-key secret)."
  value       = { for k, r in aws_iam_role.service_execution : k => r.arn }
}

output "task_role_arns" {
  description = "Task role ARN per service."
  value       = { for k, r in aws_iam_role.task : k => r.arn }
}

output "training_role_arns" {
  description = "Training task role ARN per trained service."
  value       = { for k, r in aws_iam_role.training : k => r.arn }
}

output "scheduler_role_arn" {
  description = "Role EventBridge Scheduler assumes to start training tasks (null without training)."
  value       = try(aws_iam_role.scheduler[0].arn, null)
}
