output "alb_dns_name" {
  description = "DNS name of the shared application load balancer."
  value       = module.alb.dns_name
}

output "api_base_url" {
  description = "Base URL of the REST API (every service lives under <api_base_url>/api/<service>/)."
  value       = local.api_base_url
}

output "website_url" {
  description = "URL of the S3 static website that serves the UI."
  value       = module.s3.website_url
}

output "website_bucket" {
  description = "Bucket that holds the UI (scripts/deploy_frontend_s3.sh syncs frontend/ into it)."
  value       = module.s3.website_bucket_name
}

output "models_bucket" {
  description = "Bucket of the model store; each service reads s3://<bucket>/models/<service>/."
  value       = module.s3.models_bucket_name
}

output "model_store_uri" {
  description = "MODEL_STORE_URI given to every service (the store root; services append /<service>/)."
  value       = "s3://${module.s3.models_bucket_name}/models"
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

output "region" {
  description = "AWS region of the deployment (read by the scripts)."
  value       = var.region
}
