"""A moto server for `terraform apply`, with the few calls the AWS provider
makes that moto 5.2.5 does not answer. Run as a process:

    python -m tests.infra.moto_aws -H 127.0.0.1 -p PORT

What this adds, and so what the apply tier emulates rather than exercises:

- Application Auto Scaling `TagResource`, `UntagResource`,
  `ListTagsForResource` (moto answers HTTP 500, which the provider retries for
  a quarter of an hour), and the `Tags` of `RegisterScalableTarget`, kept per
  scalable-target ARN.
- ECS scheduling: moto has no containers, so a service never reports running
  tasks and `wait_for_steady_state` would wait forever. Here a service runs
  its desired count as soon as it is created or updated (what Fargate reaches
  for an image that starts and passes its health check), unless the image tag
  of its task definition is listed in `MOTO_ECS_FAILING_IMAGE_TAGS` (comma
  separated): then it stays at zero running tasks, a release that never gets
  healthy, so a test can watch the provider's steady-state wait give up.

- S3 `PutBucketLogging`: moto checks the target bucket's policy itself and
  crashes on a statement whose Principal is the string "*" (any TLS-only
  Deny), and accepts only a Resource equal to `<bucket>/<prefix>*` or
  `<bucket>/*`. Here the same check (an Allow of s3:PutObject for the logging
  service principal) matches the Resource as the wildcard pattern it is.

- S3 bucket policies on object reads and writes: moto treats a statement
  whose condition does not hold as a Deny, so a TLS-only policy (`Deny s3:*`
  when `aws:SecureTransport` is false) refuses every object request. Here a
  statement applies only when its condition holds, and a request counts as
  made over TLS, as every AWS SDK call of the services and training tasks is
  (on loopback the test speaks plain HTTP to moto).
- CloudFront distribution configs read back as written: moto forgets an
  origin's `OriginAccessControlId`, adds `ForwardedValues` to a cache
  behaviour that uses a cache policy, and `SSLSupportMethod` to the default
  certificate, each a diff on every plan.

Everything else is moto as released; `MOTO_IAM_LOAD_MANAGED_POLICIES=true`
must be set by the caller so `AmazonECSTaskExecutionRolePolicy` exists.
"""

from __future__ import annotations

import fnmatch
import json
import os
import sys

from moto.applicationautoscaling import models as aas_models
from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
from moto.cloudfront import models as cloudfront_models
from moto.ecs import models as ecs_models
from moto.s3 import models as s3_models


# --------------------------------------------------------------------------
# Application Auto Scaling tags
# --------------------------------------------------------------------------
def _tags(backend) -> dict[str, dict[str, str]]:
    if not hasattr(backend, "_tags_by_arn"):
        backend._tags_by_arn = {}
    return backend._tags_by_arn


def _known_arn(backend, arn: str) -> bool:
    return any(t.arn == arn for dim in backend.targets.values() for t in dim.values())


def _not_found(arn: str):
    body = json.dumps({"__type": "ResourceNotFoundException", "message": f"No resource {arn}"})
    return 400, {"content-type": "application/x-amz-json-1.1"}, body


def list_tags_for_resource(self):
    arn = self._get_param("ResourceARN")
    backend = self.applicationautoscaling_backend
    if not _known_arn(backend, arn):
        return _not_found(arn)
    return json.dumps({"Tags": _tags(backend).get(arn, {})})


def tag_resource(self):
    arn = self._get_param("ResourceARN")
    backend = self.applicationautoscaling_backend
    if not _known_arn(backend, arn):
        return _not_found(arn)
    _tags(backend).setdefault(arn, {}).update(self._get_param("Tags") or {})
    return json.dumps({})


def untag_resource(self):
    arn = self._get_param("ResourceARN")
    backend = self.applicationautoscaling_backend
    if not _known_arn(backend, arn):
        return _not_found(arn)
    for key in self._get_param("TagKeys") or []:
        _tags(backend).get(arn, {}).pop(key, None)
    return json.dumps({})


_register = ApplicationAutoScalingResponse.register_scalable_target


def register_scalable_target(self):
    answer = _register(self)
    tags = self._get_param("Tags")
    if tags:
        _tags(self.applicationautoscaling_backend).setdefault(json.loads(answer)["ScalableTargetARN"], {}).update(tags)
    return answer


_deregister = aas_models.ApplicationAutoscalingBackend.deregister_scalable_target


def deregister_scalable_target(self, namespace, r_id, dimension):
    target = self.targets.get(dimension, {}).get(r_id)
    _deregister(self, namespace, r_id, dimension)
    if target is not None:
        _tags(self).pop(target.arn, None)


# --------------------------------------------------------------------------
# ECS: a deployment runs its desired count unless its image is marked failing
# --------------------------------------------------------------------------
def _failing_tags() -> set[str]:
    return {t for t in os.environ.get("MOTO_ECS_FAILING_IMAGE_TAGS", "").split(",") if t}


def _settle(backend, service) -> None:
    """Running count of a service after moto changed it: what Fargate would
    reach for a healthy image, none for a failing one."""
    try:
        definition = backend.describe_task_definition(service.task_definition)
        images = [c.get("image", "") for c in definition.container_definitions]
    except Exception:  # noqa: BLE001 - unknown definition: leave moto's numbers
        return
    failing = any(image.rsplit(":", 1)[-1] in _failing_tags() for image in images)
    running = 0 if failing else service.desired_count
    service.running_count = running
    service.pending_count = service.desired_count - running
    for deployment in service.deployments:
        deployment["runningCount"] = running
        deployment["pendingCount"] = service.desired_count - running
        deployment["taskDefinition"] = service.task_definition
        deployment["rolloutState"] = "IN_PROGRESS" if failing else "COMPLETED"


_create_service = ecs_models.EC2ContainerServiceBackend.create_service
_update_service = ecs_models.EC2ContainerServiceBackend.update_service


def create_service(self, *args, **kwargs):
    service = _create_service(self, *args, **kwargs)
    _settle(self, service)
    return service


def update_service(self, *args, **kwargs):
    service = _update_service(self, *args, **kwargs)
    _settle(self, service)
    return service


# --------------------------------------------------------------------------
# S3 server access logging: the target bucket's policy, read as IAM reads it
# --------------------------------------------------------------------------
def _log_permissions_enabled_policy(target_bucket, target_prefix) -> bool:
    if not target_bucket.policy:
        return False
    wanted = f"arn:{target_bucket.partition}:s3:::{target_bucket.name}/{target_prefix or ''}x"
    for st in json.loads(target_bucket.policy.decode())["Statement"]:
        principal = st.get("Principal")
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        services = [services] if isinstance(services, str) else services
        actions = st.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = st.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if (st.get("Effect") == "Allow" and s3_models.LOGGING_SERVICE_PRINCIPAL in services
                and "s3:PutObject" in actions and any(fnmatch.fnmatchcase(wanted, r) for r in resources)):
            return True
    return False


# --------------------------------------------------------------------------
# CloudFront: keep what the provider sent, add nothing it did not
# --------------------------------------------------------------------------
_origin_init = cloudfront_models.Origin.__init__
_behaviour_init = cloudfront_models.DefaultCacheBehaviour.__init__
_certificate_init = cloudfront_models.ViewerCertificate.__init__


def origin_init(self, origin):
    _origin_init(self, origin)
    self.origin_access_control_id = origin.get("OriginAccessControlId") or ""


def behaviour_init(self, config):
    _behaviour_init(self, config)
    if config.get("CachePolicyId") and "ForwardedValues" not in config:
        self.forwarded_values = None


def certificate_init(self, config):
    _certificate_init(self, config)
    self.ssl_support_method = config.get("SSLSupportMethod")


# --------------------------------------------------------------------------
# S3 bucket policies: conditions decide whether a statement applies
# --------------------------------------------------------------------------
_REQUEST_CONTEXT = {"aws:securetransport": "true"}


def _condition_holds(conditions: dict) -> bool:
    for operator, tests in conditions.items():
        for key, expected in tests.items():
            actual = _REQUEST_CONTEXT.get(key.lower())
            expected = [str(v).lower() for v in (expected if isinstance(expected, list) else [expected])]
            if operator in ("Bool", "StringEquals", "StringEqualsIgnoreCase"):
                if actual is None or actual.lower() not in expected:
                    return False
            else:  # a key this emulation does not know (source ARN, account, ...): not this caller
                return False
    return True


def get_permission(self, action: str, resource: str):
    from moto.iam.access_control import PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    permitted = False
    for st in json.loads(self.policy.decode())["Statement"]:
        actions = st.get("Action", [])
        resources = st.get("Resource", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        if not (any(fnmatch.fnmatchcase(action, a) for a in actions)
                and any(fnmatch.fnmatchcase(resource, r) for r in resources)):
            continue
        if not _condition_holds(st.get("Condition", {})):
            continue
        if st.get("Effect") == "Deny":
            return PermissionResult.DENIED
        # An Allow for everyone applies to the caller; one for a service
        # principal (CloudFront, log delivery) does not.
        permitted = permitted or st.get("Principal") in ("*", {"AWS": "*"})
    return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL


def install() -> None:
    ApplicationAutoScalingResponse.list_tags_for_resource = list_tags_for_resource
    ApplicationAutoScalingResponse.tag_resource = tag_resource
    ApplicationAutoScalingResponse.untag_resource = untag_resource
    ApplicationAutoScalingResponse.register_scalable_target = register_scalable_target
    aas_models.ApplicationAutoscalingBackend.deregister_scalable_target = deregister_scalable_target
    ecs_models.EC2ContainerServiceBackend.create_service = create_service
    ecs_models.EC2ContainerServiceBackend.update_service = update_service
    cloudfront_models.Origin.__init__ = origin_init
    cloudfront_models.DefaultCacheBehaviour.__init__ = behaviour_init
    cloudfront_models.ViewerCertificate.__init__ = certificate_init
    s3_models.FakeBucket._log_permissions_enabled_policy = staticmethod(_log_permissions_enabled_policy)
    s3_models.FakeBucket.get_permission = get_permission


def main(argv: list[str] | None = None) -> None:
    install()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
