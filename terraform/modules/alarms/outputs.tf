output "topic_arn" {
  description = "SNS topic every alarm notifies (subscribe a pager or chat integration to it)."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_names" {
  description = "Every alarm, by what it watches."
  value = {
    elb_5xx             = aws_cloudwatch_metric_alarm.elb_5xx.alarm_name
    target_5xx          = { for k, a in aws_cloudwatch_metric_alarm.target_5xx : k => a.alarm_name }
    unhealthy_targets   = { for k, a in aws_cloudwatch_metric_alarm.unhealthy_targets : k => a.alarm_name }
    p99_latency         = { for k, a in aws_cloudwatch_metric_alarm.p99_latency : k => a.alarm_name }
    model_load_failures = { for k, a in aws_cloudwatch_metric_alarm.model_load_failures : k => a.alarm_name }
    input_drift         = { for k, a in aws_cloudwatch_metric_alarm.input_drift : k => a.alarm_name }
    live_error          = { for k, a in aws_cloudwatch_metric_alarm.live_error_above_baseline : k => a.alarm_name }
  }
}
