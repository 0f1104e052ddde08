output "bucket_name" {
  description = "Bucket holding the UI (scripts/deploy_frontend_s3.sh syncs frontend/ into it)."
  value       = aws_s3_bucket.this.id
}

output "url" {
  description = "Where operators open the UI, and so the origin the services allow by CORS: https://<alias or distribution> (cloudfront) or the http:// website endpoint (s3-website)."
  value = (local.cloudfront
    ? "https://${length(var.aliases) > 0 ? var.aliases[0] : aws_cloudfront_distribution.this[0].domain_name}"
  : "http://${aws_s3_bucket_website_configuration.this[0].website_endpoint}")
}

output "distribution_id" {
  description = "CloudFront distribution id (null in s3-website mode); the frontend script invalidates it after a deploy."
  value       = try(aws_cloudfront_distribution.this[0].id, null)
}

output "distribution_arn" {
  description = "CloudFront distribution ARN (null in s3-website mode)."
  value       = try(aws_cloudfront_distribution.this[0].arn, null)
}
