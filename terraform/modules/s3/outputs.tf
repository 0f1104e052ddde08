output "models_bucket_name" {
  description = "Name of the models bucket."
  value       = aws_s3_bucket.models.id
}

output "models_bucket_arn" {
  description = "ARN of the models bucket."
  value       = aws_s3_bucket.models.arn
}

output "logs_bucket_name" {
  description = "Name of the logs bucket (ALB access logs under <alb_log_prefix>/, S3 access logs under s3/<bucket>/)."
  # The policy must be in place before a load balancer is told to log here:
  # ELB checks that it may write when access logs are turned on.
  value      = aws_s3_bucket.logs.id
  depends_on = [aws_s3_bucket_policy.logs]
}

output "alb_log_prefix" {
  description = "Key prefix under which the load balancer's access logs are admitted."
  value       = var.alb_log_prefix
}
