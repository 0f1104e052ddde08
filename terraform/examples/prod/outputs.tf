output "platform" {
  description = "Every output of the platform module (the scripts read them with `terraform output -json platform`)."
  value       = module.platform
}
