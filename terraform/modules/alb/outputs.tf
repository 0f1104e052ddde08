output "arn" {
  description = "ARN of the load balancer."
  value       = aws_lb.this.arn
}

output "dns_name" {
  description = "DNS name of the load balancer."
  value       = aws_lb.this.dns_name
}

output "zone_id" {
  description = "Route 53 zone of the load balancer, for alias records."
  value       = aws_lb.this.zone_id
}

output "security_group_id" {
  description = "Security group of the load balancer; service tasks admit traffic only from it."
  value       = aws_security_group.alb.id
}

output "target_group_arns" {
  description = "Target group ARN per service."
  value       = { for k, tg in aws_lb_target_group.service : k => tg.arn }
  # An ECS service can only register with a target group that a listener uses.
  depends_on = [aws_lb_listener_rule.service]
}

output "arn_suffix" {
  description = "ARN suffix of the load balancer (the LoadBalancer dimension of its CloudWatch metrics)."
  value       = aws_lb.this.arn_suffix
}

output "target_group_arn_suffixes" {
  description = "ARN suffix per service's target group (the TargetGroup dimension of its CloudWatch metrics)."
  value       = { for k, tg in aws_lb_target_group.service : k => tg.arn_suffix }
}

output "https_listener_arn" {
  description = "ARN of the HTTPS listener (null without a certificate)."
  value       = try(aws_lb_listener.https[0].arn, null)
}
