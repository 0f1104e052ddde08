"""Run the images here the way ECS Fargate runs the task definitions Terraform writes.

The task settings are read from the Terraform, never restated: the deployable configuration
terraform/examples/dev is applied to a moto server, limited (-target) to its ECS task definitions
and what they depend on (the addresses are found in the plan, so module layout does not matter),
and every task definition's container definition and volumes are read back from the state.

What cannot run here is emulated, each the closest thing podman has:
- awsvpc networking: the container gets its own network namespace (slirp4netns) with its task
  port published on a free 127.0.0.1 port; AWS (S3 and DynamoDB through the VPC endpoints) is the
  moto server on the host's loopback, 10.0.2.2 inside the namespace.
- a task volume with no host path is an empty root-owned 0755 directory, except where the image
  declares a VOLUME at the mount path: then ECS copies that path's contents and owner into it
  (docs.aws.amazon.com/AmazonECS/latest/developerguide/bind-mounts.html), which is what a fresh
  podman named volume does on first mount. The root-owned directory is a bind mount of an empty
  0755 directory, not podman's --tmpfs (always world-writable, which would hide the failure).
- initProcessEnabled: podman --init with tini, the init Docker's --init runs.
- what ECS itself puts in every task's environment: AWS_REGION and AWS_DEFAULT_REGION (the
  task's region), AWS_EXECUTION_ENV; the task role's credentials are moto's fixed test ones.
- the container definition's `secrets`: ECS's agent reads each from Secrets Manager with the task's
  execution role before the container starts and sets it in the environment, and the task fails to
  start (ResourceInitializationError) when one cannot be read; here the same read goes to the moto
  server (its IAM is not enforced: which role may read which secret is checked by the apply tier).
- the image's HEALTHCHECK is off (--no-healthcheck): ECS ignores health checks that are only in
  the image; the load balancer probes the service's health path instead.
- CPU is not capped (the machine is shared by 8 engineers; a 0.25-vCPU quota measures them,
  not the image); memory is, at the task's memory.
"""
from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PODMAN = ["podman", *shlex.split(os.environ.get("PODMAN_FLAGS", "--runtime runc --cgroup-manager=cgroupfs"))]
# What this sandbox allows (../shared/containers.md): higher limits than these are refused.
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
TINI = "/usr/bin/tini-static"
HOST_LOOPBACK = "10.0.2.2"  # the host's 127.0.0.1 as slirp4netns shows it inside the namespace
MOTO_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}  # pragma: allowlist secret
REQUIRED_TOOLS = {"podman": "podman", "runc": "runc", "slirp4netns": "slirp4netns", TINI: "tini",
                  "debootstrap": "debootstrap"}


def missing_tools() -> list[str]:
    """Debian packages the image tier needs that are not installed."""
    return sorted({pkg for tool, pkg in REQUIRED_TOOLS.items()
                   if not (shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin") or Path(tool).is_file())})


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args[:3])}... failed ({result.returncode}): {result.stderr[-3000:]}")
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------
def build_images(services: list[str], repository_base: str, tag: str, train: bool = False,
                 log: Path | None = None) -> list[str]:
    """scripts/build_images.sh (the same build `make images` runs); the built references."""
    args = ["bash", str(ROOT / "scripts" / "build_images.sh"), "--repository-base", repository_base, "--tag", tag,
            *(["--train"] if train else []), *services]
    with open(log or os.devnull, "a") as err:
        out = subprocess.run(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True, timeout=1800,
                             env={**os.environ, "CONTAINER_ENGINE": "podman"})
    if out.returncode != 0:
        tail = Path(log).read_text()[-4000:] if log else ""
        raise RuntimeError(f"build_images.sh failed ({out.returncode}):\n{tail}")
    return out.stdout.split()


def image_config(image: str) -> dict:
    return json.loads(podman("image", "inspect", "--format", "{{json .Config}}", image).stdout)


# --------------------------------------------------------------------------
# task definitions from the Terraform
# --------------------------------------------------------------------------
@dataclass
class TaskDefinition:
    family: str
    container: dict
    volumes: list[dict]
    cpu: int
    memory: int
    region: str

    @property
    def name(self) -> str:
        return self.container["name"]

    @property
    def environment(self) -> dict[str, str]:
        return {e["name"]: e["value"] for e in self.container.get("environment", [])}

    @property
    def port(self) -> int:
        (mapping,) = self.container["portMappings"]
        return int(mapping["containerPort"])

    def secrets(self, endpoint: str) -> dict[str, str]:
        """The `secrets` as ECS injects them: each valueFrom read from Secrets Manager (moto here)."""
        import boto3

        client = boto3.client("secretsmanager", endpoint_url=endpoint, region_name=self.region,
                              aws_access_key_id="testing", aws_secret_access_key="testing")  # pragma: allowlist secret
        out = {}
        for secret in self.container.get("secrets", []):
            try:
                out[secret["name"]] = client.get_secret_value(SecretId=secret["valueFrom"])["SecretString"]
            except client.exceptions.ResourceNotFoundException:
                raise RuntimeError(f"ResourceInitializationError: unable to retrieve secret {secret['valueFrom']} "
                                   f"for {secret['name']}: it has no value (scripts/set_api_keys.sh init)") from None
        return out


DEPLOYABLE = "examples/dev"  # a configuration that calls the platform module with a provider


def task_definitions_from_terraform(endpoint: str, work: Path, variables: dict[str, str],
                                    configuration: str = DEPLOYABLE) -> dict[str, TaskDefinition]:
    """Apply `configuration`'s task definitions to the moto server at `endpoint`; by container name.

    The addresses of the task definitions come from the plan (so any module layout works), and
    `apply -target` creates them with what they depend on (repositories, buckets, table, roles,
    log groups), not the network, load balancer or services.
    """
    from tests.infra.conftest import provider_mirror, terraform_cli_config, terraform_command

    mirror, command = provider_mirror(), terraform_command()
    if mirror is None or command is None:
        raise RuntimeError("no Terraform provider mirror (TF_PLUGIN_DIR or /opt/tf-plugins) or no Terraform CLI")
    copy = work / "repo"
    shutil.copytree(ROOT / "terraform", copy / "terraform",
                    ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*.tfvars*"))
    (copy / "services").mkdir()
    shutil.copy(ROOT / "services" / "registry.json", copy / "services" / "registry.json")
    workdir = copy / "terraform" / configuration
    # Merged into the configuration's provider block (override file): credentials moto accepts,
    # path-style S3 (the endpoint is an IP address), and no long retries of what moto lacks.
    (workdir / "moto_override.tf").write_text(
        'provider "aws" {\n'
        '  access_key                  = "testing"\n'
        '  secret_key                  = "testing"\n'  # pragma: allowlist secret (moto accepts any key)
        "  s3_use_path_style           = true\n"
        "  skip_credentials_validation = true\n"
        "  skip_metadata_api_check     = true\n"
        "  max_retries                 = 1\n"
        "}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    env.update(AWS_ENDPOINT_URL=endpoint, AWS_REGION=variables.get("region", "eu-west-1"),
               AWS_CONFIG_FILE=str(work / "no-aws-config"), AWS_SHARED_CREDENTIALS_FILE=str(work / "no-aws-credentials"),
               CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1", HOME=str(work),
               TF_CLI_CONFIG_FILE=str(terraform_cli_config(work / "terraform.rc", mirror)))
    var_args = [arg for k, v in variables.items() for arg in ("-var", f"{k}={v}")]

    def terraform(*args: str) -> str:
        out = subprocess.run([*command, f"-chdir={workdir}", *args], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=900)
        if out.returncode != 0:
            raise RuntimeError(f"terraform {' '.join(args[:2])} failed ({out.returncode}):\n"
                               f"{out.stdout[-4000:]}\n{out.stderr[-4000:]}")
        return out.stdout

    terraform("init", "-input=false", "-no-color", "-backend=false")
    terraform("plan", "-input=false", "-no-color", "-refresh=false", "-out=tier.plan", *var_args)
    plan = json.loads(terraform("show", "-json", "tier.plan"))
    targets = sorted(c["address"] for c in plan["resource_changes"] if c["type"] == "aws_ecs_task_definition")
    if not targets:
        raise RuntimeError(f"the plan of {configuration} has no aws_ecs_task_definition")
    terraform("apply", "-input=false", "-no-color", "-auto-approve", *var_args, *(f"-target={t}" for t in targets))
    state = json.loads(terraform("show", "-json"))

    def walk(module: dict):
        yield from module.get("resources", [])
        for child in module.get("child_modules", []):
            yield from walk(child)

    found = {}
    for res in walk(state["values"]["root_module"]):
        if res["type"] == "aws_ecs_task_definition" and res["mode"] == "managed":
            values = res["values"]
            (container,) = json.loads(values["container_definitions"])
            found[container["name"]] = TaskDefinition(values["family"], container, values["volume"],
                                                      int(values["cpu"]), int(values["memory"]),
                                                      variables.get("region", "eu-west-1"))
    return found


# --------------------------------------------------------------------------
# running a task
# --------------------------------------------------------------------------
@dataclass
class Task:
    """One container started from a task definition; stop() or the context exit removes it."""

    image: str
    definition: TaskDefinition
    aws_endpoint: str  # as seen from the host, e.g. http://127.0.0.1:PORT
    command: list[str] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    detach: bool = True
    cpus: float | None = None  # a CPU quota (not set by the tier: see the module docstring)
    name: str = field(default_factory=lambda: f"mlplat-tier-{uuid.uuid4().hex[:10]}")
    host_port: int = 0
    started: float = 0.0
    _volumes: list[str] = field(default_factory=list)
    _dirs: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.host_port}"

    def run_args(self) -> list[str]:
        c = self.definition.container
        args = ["run", "--name", self.name, "--pull=never", "--no-healthcheck", *ULIMITS,
                "--network", "slirp4netns:allow_host_loopback=true", "--memory", f"{self.definition.memory}m"]
        if self.detach:
            args.append("-d")
        if self.cpus:
            args += ["--cpus", f"{self.cpus:g}"]
        if c.get("user"):
            args += ["--user", c["user"]]
        if c.get("readonlyRootFilesystem"):
            args += ["--read-only", "--read-only-tmpfs=false"]
        if c.get("privileged"):
            args.append("--privileged")
        linux = c.get("linuxParameters") or {}
        if linux.get("initProcessEnabled"):
            args += ["--init", "--init-path", TINI]
        for cap in (linux.get("capabilities") or {}).get("drop") or []:
            args += ["--cap-drop", cap]
        for cap in (linux.get("capabilities") or {}).get("add") or []:
            args += ["--cap-add", cap]
        if c.get("stopTimeout"):
            args += ["--stop-timeout", str(c["stopTimeout"])]
        for mapping in c.get("portMappings", []):
            self.host_port = self.host_port or free_port()
            args += ["-p", f"127.0.0.1:{self.host_port}:{mapping['containerPort']}"]
        declared = set((image_config(self.image).get("Volumes") or {}))
        volumes = {v["name"]: v for v in self.definition.volumes}
        for mount in c.get("mountPoints", []):
            volume = volumes[mount["sourceVolume"]]
            if volume.get("host_path") or volume.get("efs_volume_configuration") or volume.get("docker_volume_configuration"):
                raise NotImplementedError(f"volume {volume['name']}: only task-local volumes are emulated")
            ro = ",ro" if mount.get("readOnly") else ""
            if mount["containerPath"] in declared:
                vol = f"{self.name}-{volume['name']}"
                podman("volume", "create", vol)
                self._volumes.append(vol)
                args += ["-v", f"{vol}:{mount['containerPath']}{ro}"]
            else:
                empty = tempfile.mkdtemp(prefix="fargate-volume-")
                os.chmod(empty, 0o755)
                self._dirs.append(empty)
                args += ["-v", f"{empty}:{mount['containerPath']}{ro}"]
        # ECS's own variables first; the task definition's override them, as in ECS.
        ecs = {"AWS_REGION": self.definition.region, "AWS_DEFAULT_REGION": self.definition.region,
               "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE"}
        env = {**ecs, **self.definition.environment, **self.definition.secrets(self.aws_endpoint), **MOTO_CREDENTIALS,
               "AWS_ENDPOINT_URL": self.aws_endpoint.replace("127.0.0.1", HOST_LOOPBACK), **self.extra_env}
        for key in sorted(env):
            args += ["-e", f"{key}={env[key]}"]
        return [*args, self.image, *self.command]

    def start(self) -> "Task":
        args = self.run_args()
        self.started = time.monotonic()
        podman(*args, timeout=60)
        return self

    def run(self, timeout: float = 600) -> subprocess.CompletedProcess:
        """Run to completion (detach=False); returns the process with the container's output."""
        args = self.run_args()
        self.started = time.monotonic()
        try:
            return podman(*args, timeout=timeout, check=False)
        finally:
            self.remove()

    def wait_ready(self, path: str, timeout: float = 90) -> float:
        """Seconds from `podman run` to the first 200 on `path`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + path, timeout=2) as resp:
                    if resp.status == 200:
                        return time.monotonic() - self.started
            except OSError:
                pass
            if self.state()["Status"] not in ("running", "created", "configured"):
                raise RuntimeError(f"{self.name} stopped before {path} answered:\n{self.logs()[-4000:]}")
            time.sleep(0.05)
        raise TimeoutError(f"{path} not ready after {timeout}s:\n{self.logs()[-4000:]}")

    def state(self) -> dict:
        return json.loads(podman("inspect", "--format", "{{json .State}}", self.name).stdout)

    def logs(self) -> str:
        out = podman("logs", self.name, check=False)
        return out.stdout + out.stderr

    def signal(self, name: str) -> None:
        podman("kill", "--signal", name, self.name)

    def wait_exit(self, timeout: float) -> int | None:
        """Exit code, or None when still running after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state()
            if state["Status"] in ("exited", "stopped"):
                return int(state["ExitCode"])
            time.sleep(0.05)
        return None

    def remove(self) -> None:
        podman("rm", "--force", "--time", "0", self.name, check=False)
        for vol in self._volumes:
            podman("volume", "rm", "--force", vol, check=False)
        for d in self._dirs:
            shutil.rmtree(d, ignore_errors=True)
        self._volumes, self._dirs = [], []

    def __enter__(self) -> "Task":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.remove()


@contextlib.contextmanager
def moto_env(endpoint: str):
    """boto3 in this process pointed at `endpoint` with moto's credentials, for the block only."""
    keys = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(MOTO_CREDENTIALS, AWS_ENDPOINT_URL=endpoint, AWS_DEFAULT_REGION="eu-west-1")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
