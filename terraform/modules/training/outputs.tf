output "task_definition_arn" {
  description = "ARN of the training task definition revision."
  value       = aws_ecs_task_definition.this.arn
}

output "task_definition_family" {
  description = "Family of the training task definition (<prefix>-<service>-train)."
  value       = aws_ecs_task_definition.this.family
}

output "schedule_name" {
  description = "Name of the EventBridge Scheduler schedule."
  value       = aws_scheduler_schedule.this.name
}

output "log_group_name" {
  description = "CloudWatch log group of the training runs."
  value       = aws_cloudwatch_log_group.this.name
}

output "security_group_id" {
  description = "Security group of the training tasks."
  value       = aws_security_group.this.id
}
