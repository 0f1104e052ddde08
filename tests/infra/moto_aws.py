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

Everything else is moto as released; `MOTO_IAM_LOAD_MANAGED_POLICIES=true`
must be set by the caller so `AmazonECSTaskExecutionRolePolicy` exists.
"""

from __future__ import annotations

import json
import os
import sys

from moto.applicationautoscaling import models as aas_models
from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
from moto.ecs import models as ecs_models


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


def install() -> None:
    ApplicationAutoScalingResponse.list_tags_for_resource = list_tags_for_resource
    ApplicationAutoScalingResponse.tag_resource = tag_resource
    ApplicationAutoScalingResponse.untag_resource = untag_resource
    ApplicationAutoScalingResponse.register_scalable_target = register_scalable_target
    aas_models.ApplicationAutoscalingBackend.deregister_scalable_target = deregister_scalable_target
    ecs_models.EC2ContainerServiceBackend.create_service = create_service
    ecs_models.EC2ContainerServiceBackend.update_service = update_service


def main(argv: list[str] | None = None) -> None:
    install()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
