locals {
  https = var.certificate_arn != null

  not_found_body = jsonencode({
    error = {
      code    = "not_found"
      message = "No service is mounted at this path; services live under /api/<service>/."
    }
  })
}

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "Public listeners of the shared load balancer"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-alb" })
}

resource "aws_vpc_security_group_ingress_rule" "http" {
  #checkov:skip=CKV_AWS_260:The load balancer is the public entry point of the API; with a certificate port 80 only redirects to HTTPS. Restrict with allowed_ingress_cidrs.
  for_each = toset(var.allowed_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTP from allowed clients"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "https" {
  for_each = local.https ? toset(var.allowed_ingress_cidrs) : toset([])

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from allowed clients"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

# Egress only into the VPC and only on the services' container ports. Written
# against the VPC CIDR rather than the tasks' security groups so the ALB module
# does not depend on the service module (which depends on this one).
resource "aws_vpc_security_group_egress_rule" "to_services" {
  for_each = toset([for s in values(var.services) : tostring(s.port)])

  security_group_id = aws_security_group.alb.id
  description       = "To service tasks on port ${each.value}"
  ip_protocol       = "tcp"
  from_port         = tonumber(each.value)
  to_port           = tonumber(each.value)
  cidr_ipv4         = var.vpc_cidr
}

# AWS-0053: The load balancer is the public entry point of the REST API.
#trivy:ignore:AWS-0053
resource "aws_lb" "this" {
  #checkov:skip=CKV2_AWS_28:A WAF web ACL is an account-level choice with its own cost; attach one with aws_wafv2_web_acl_association when the API is exposed beyond trusted clients.
  name               = "${var.name}-alb"
  load_balancer_type = "application"
  internal           = false
  security_groups    = [aws_security_group.alb.id]
  subnets            = var.subnet_ids

  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  enable_http2               = true
  idle_timeout               = 60

  # Every request, with its status and target timings, to the logs bucket
  # (whose policy lets the regional ELB log delivery write under this prefix).
  access_logs {
    enabled = true
    bucket  = var.access_logs_bucket
    prefix  = var.access_logs_prefix
  }

  tags = merge(var.tags, { Name = "${var.name}-alb" })
}

resource "aws_lb_target_group" "service" {
  #checkov:skip=CKV_AWS_378:TLS terminates at the load balancer; ALB-to-task traffic stays inside private subnets on the container port.
  for_each = var.services

  # A generated name, so a change that replaces the group (a new port in the
  # registry) creates the new one first, moves the listener rule to it, and
  # only then deletes the old one, which a fixed name would not allow.
  name_prefix          = "${substr(replace(each.key, "_", ""), 0, 5)}-"
  port                 = each.value.port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    enabled             = true
    path                = each.value.health_path
    protocol            = "HTTP"
    port                = "traffic-port"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = merge(var.tags, { Name = "${var.name}-${each.key}", Service = each.key })

  lifecycle {
    create_before_destroy = true
  }
}

# Port 80: redirects to HTTPS when a certificate is given, otherwise serves
# the API itself (development without a domain).
# AWS-0054: Plain HTTP only without a certificate (development); otherwise it redirects to HTTPS.
#trivy:ignore:AWS-0054
resource "aws_lb_listener" "http" {
  #checkov:skip=CKV_AWS_2:Plain HTTP is served only when no certificate is configured (development); with certificate_arn set this listener only redirects to HTTPS.
  #checkov:skip=CKV2_AWS_20:Redirect to HTTPS is conditional on certificate_arn, which static analysis cannot resolve.
  #checkov:skip=CKV_AWS_103:The HTTP listener carries no TLS; the HTTPS listener pins ssl_policy to TLS 1.2+.
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = local.https ? "redirect" : "fixed-response"

    dynamic "redirect" {
      for_each = local.https ? [1] : []
      content {
        port        = "443"
        protocol    = "HTTPS"
        status_code = "HTTP_301"
      }
    }

    dynamic "fixed_response" {
      for_each = local.https ? [] : [1]
      content {
        content_type = "application/json"
        message_body = local.not_found_body
        status_code  = "404"
      }
    }
  }

  tags = var.tags
}

resource "aws_lb_listener" "https" {
  count = local.https ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type = "fixed-response"

    fixed_response {
      content_type = "application/json"
      message_body = local.not_found_body
      status_code  = "404"
    }
  }

  tags = var.tags
}

# One rule per service: /api/<svc>/* goes, unchanged, to that service.
resource "aws_lb_listener_rule" "service" {
  for_each = var.services

  listener_arn = local.https ? aws_lb_listener.https[0].arn : aws_lb_listener.http.arn
  priority     = each.value.priority

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.service[each.key].arn
  }

  condition {
    path_pattern {
      values = ["${each.value.path_prefix}/*"]
    }
  }

  tags = merge(var.tags, { Service = each.key })
}
