output "region" {
  description = "AWS region of the deployment (read by the scripts)."
  value       = local.region
}

output "alb_dns_name" {
  description = "DNS name of the shared application load balancer (point api_domain_name at it)."
  value       = module.alb.dns_name
}

output "alb_zone_id" {
  description = "Route 53 zone of the load balancer, for an alias record of api_domain_name."
  value       = module.alb.zone_id
}

output "api_base_url" {
  description = "Base URL of the REST API (every service lives under <api_base_url>/api/<service>/)."
  value       = local.api_base_url
}

output "ui_url" {
  description = "Where operators open the UI (CloudFront, or the S3 website endpoint in dev)."
  value       = module.website.url
}

output "website_bucket" {
  description = "Bucket that holds the UI (scripts/deploy_frontend_s3.sh syncs frontend/ into it)."
  value       = module.website.bucket_name
}

output "cloudfront_distribution_id" {
  description = "Distribution in front of the UI bucket (null with ui_hosting = s3-website); invalidated after a UI deploy."
  value       = module.website.distribution_id
}

output "models_bucket" {
  description = "Bucket of the model store; each service reads s3://<bucket>/models/<service>/."
  value       = module.s3.models_bucket_name
}

output "model_store_uri" {
  description = "MODEL_STORE_URI given to every service (the store root; services append /<service>/)."
  value       = "s3://${module.s3.models_bucket_name}/models"
}

output "logs_bucket" {
  description = "Bucket with the ALB access logs (alb/) and the S3 server access logs (s3/<bucket>/)."
  value       = module.s3.logs_bucket_name
}

output "ecr_repository_urls" {
  description = "ECR repository URL per service."
  value       = module.ecr.repository_urls
}

output "ecr_repository_base" {
  description = "Common prefix of the repository URLs: <registry>/<name>-<environment> (the repository of service S is <base>/S)."
  value       = module.ecr.repository_base
}

output "flow_table" {
  description = "DynamoDB table holding the flow service's gate state (null when flow_state_service is null)."
  value       = local.flow_enabled ? module.dynamodb[0].table_name : null
}

output "ecs_cluster_name" {
  description = "Name of the ECS cluster running the services."
  value       = aws_ecs_cluster.this.name
}

output "service_names" {
  description = "ECS service per registry service (empty while create_services = false)."
  value       = { for k, s in module.service : k => s.service_name }
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = module.alarms.topic_arn
}

output "training" {
  description = "Per retrained service: its training task definition family, schedule and log group (empty while create_services = false)."
  value = {
    for k, t in module.training : k => {
      task_definition = t.task_definition_family
      schedule        = t.schedule_name
      log_group       = t.log_group_name
      security_group  = t.security_group_id
    }
  }
}

output "monitoring_tables" {
  description = "Monitoring table (DynamoDB) per service: input counts per model version, actuals and their scores."
  value       = { for k, t in module.monitoring_table : k => t.table_name }
}

output "monitoring_namespace" {
  description = "CloudWatch namespace of the monitoring metrics (drift PSI, live error against the baseline)."
  value       = local.monitoring_namespace
}

output "api_key_secrets" {
  description = "Write-key secret name per service (scripts/set_api_keys.sh sets and rotates them)."
  value       = module.api_keys.secret_names
}

output "waf_web_acl_arn" {
  description = "ARN of the API's WAF web ACL (null when var.waf.enabled is false)."
  value       = try(module.waf[0].web_acl_arn, null)
}
