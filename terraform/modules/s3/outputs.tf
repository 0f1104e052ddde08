output "models_bucket_name" {
  description = "Name of the models bucket."
  value       = aws_s3_bucket.models.id
}

output "models_bucket_arn" {
  description = "ARN of the models bucket."
  value       = aws_s3_bucket.models.arn
}

output "website_bucket_name" {
  description = "Name of the website bucket."
  value       = aws_s3_bucket.website.id
}

output "website_url" {
  description = "URL of the S3 static website (also the CORS origin the services allow)."
  value       = "http://${aws_s3_bucket_website_configuration.website.website_endpoint}"
}
