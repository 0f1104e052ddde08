output "api_base_url" {
  description = "Base URL of the REST API."
  value       = module.platform.api_base_url
}

output "website_url" {
  description = "URL of the web UI."
  value       = module.platform.website_url
}

output "models_bucket" {
  description = "Models bucket."
  value       = module.platform.models_bucket
}
