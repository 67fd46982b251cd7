"""IAM enforcement: every request signed by a registered principal is authorized as AWS would.

Who is calling comes from the SigV4 access key id. Three kinds of caller:

- the **admin** identity (``ADMIN_ACCESS_KEY_ID``): fixtures and sandbox setup, never checked;
- **registered principals** (``POST /_bakery/iam/principals``): each function's role as packaged,
  checked on every request;
- **role sessions**: the credentials STS AssumeRole returned, once the caller's policies and the
  role's trust policy (ExternalId included) allowed it; they act in the role's account with the
  role's inline and managed policies, whatever account header the client sends;
- anyone else: refused as AWS refuses an unknown access key
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html ,
  ``InvalidClientTokenId`` / ``UnrecognizedClientException`` / EC2 ``AuthFailure``).

What each action authorizes (its resource ARNs and condition keys) follows the Service
Authorization Reference (https://docs.aws.amazon.com/service-authorization/latest/reference/ ,
"Actions defined by Amazon EC2", "... by AWS Systems Manager", ...). The evaluation itself is
``@cloud-copilot/iam-simulate`` in a Node sidecar (emulator/iam/authorizer.ts), which also refuses
an ARN that is no resource type of the action.

Authorizations AWS makes on the caller's behalf, each with its page:

- tag on create: ``ec2:CreateTags`` with ``ec2:CreateAction`` for every TagSpecification of
  RunInstances, CreateImage, CopyImage
  (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html);
- ``iam:PassRole`` for an instance profile's role, with ``iam:PassedToService``
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html);
- a group's launch template: StartInstanceRefresh / CreateAutoScalingGroup /
  UpdateAutoScalingGroup check the caller's ``ec2:RunInstances`` on the template's resources, its
  ``ec2:CreateTags`` when the template tags, and ``iam:PassRole`` for its profile
  (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-launch-template-permissions.html);
- ``ssm:PutParameter`` with ``DataType: aws:ec2:image`` needs ``ec2:DescribeImages``
  (https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-ec2-aliases.html);
- Auto Scaling publishes a hook's notifications with the hook's ``RoleARN``; PutLifecycleHook
  fails when that role cannot publish its test notification
  (https://docs.aws.amazon.com/autoscaling/ec2/userguide/prepare-for-lifecycle-notifications.html).

Not modelled: SCPs, RCPs, permission boundaries, session policies and tags, a role session's
expiry, resource-based policies other than a role's trust policy (KMS key policies, SNS topic and
SQS queue policies), VPC endpoint policies.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qs, unquote

from . import core

ADMIN_ACCESS_KEY_ID = "ami-bakery-admin"

# A new resource has no id when it is authorized; AWS reports such ARNs with `*`, which
# iam-simulate would expand against the policies. A fixed, well-formed id evaluates the same
# for policies written for these resources (`instance/*`) and keeps the result exact.
NEW = {
    "instance": "i-00000000000000000",
    "volume": "vol-00000000000000000",
    "network-interface": "eni-00000000000000000",
    "image": "ami-00000000000000000",
    "snapshot": "snap-00000000000000000",
    "spot-instances-request": "sir-00000000",
}

EC2_PREFIXES = {
    "i-": "instance",
    "ami-": "image",
    "snap-": "snapshot",
    "vol-": "volume",
    "lt-": "launch-template",
    "sg-": "security-group",
    "subnet-": "subnet",
    "vpc-": "vpc",
    "eni-": "network-interface",
}
# Resources whose ARN carries no account (Service Authorization Reference, EC2 resource types).
ACCOUNTLESS = {"image", "snapshot"}


@dataclass
class Principal:
    access_key_id: str
    arn: str
    account: str
    label: str
    # A role session from STS AssumeRole: its account is the role's, whatever the request says.
    session: bool = False
    # The session's role, whose current policies the session acts with.
    role_arn: str | None = None


@dataclass
class Request:
    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)
    # The resource's account and its own policy, for a resource in another account (a role to assume).
    resource_account: str | None = None
    resource_policy: Any = None

    def public(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"action": self.action, "resource": self.resource, "context": self.context}
        if self.resource_account:
            shown["resourceAccount"] = self.resource_account
        if self.resource_policy is not None:
            shown["resourcePolicy"] = self.resource_policy
        return shown


class Denied(Exception):
    def __init__(self, request: Request, reason: str, principal_arn: str, template: str | None = None):
        super().__init__(reason)
        self.request = request
        self.reason = reason
        self.principal_arn = principal_arn
        self.template = template

    @property
    def message(self) -> str:
        text = (
            f"User: {self.principal_arn} is not authorized to perform: {self.request.action} "
            f"on resource: {self.request.resource} {self.reason}"
        )
        if self.template:
            return f"You are not authorized to use launch template: {self.template}. {text}"
        return text


class UnknownKey(Exception):
    pass


class NotModelled(Exception):
    pass


# --- the evaluator sidecar ---------------------------------------------------------------


class Evaluator:
    """The Node process running iam-simulate; one request line, one answer line, in order."""

    def __init__(self, command: list[str]):
        self.command = command
        self.lock = threading.Lock()
        self.process: subprocess.Popen[str] | None = None
        self.ids = 0

    def _ensure(self) -> subprocess.Popen[str]:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
            )
        return self.process

    def ask(self, message: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            process = self._ensure()
            self.ids += 1
            message = {**message, "id": self.ids}
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(json.dumps(message) + "\n")
            process.stdin.flush()
            line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the IAM evaluator ({' '.join(self.command)}) exited")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"the IAM evaluator refused a message: {answer['error']}")
        return answer


EVALUATOR: Evaluator | None = None
PRINCIPALS: dict[str, Principal] = {}
# Roles that AWS services assume on the account's behalf (a hook's RoleARN), by ARN.
ROLES: set[str] = set()
DENIALS: dict[str, list[dict[str, Any]]] = {}
GRANTS: dict[str, Counter[tuple[str, str, str]]] = {}


def configure(command: list[str] | None) -> None:
    global EVALUATOR
    EVALUATOR = Evaluator(command) if command else None


def reset() -> None:
    with core.LOCK:
        if EVALUATOR is not None:
            keys = [p.arn for p in PRINCIPALS.values()] + sorted(ROLES)
            if keys:
                EVALUATOR.ask({"op": "forget", "principals": keys})
        PRINCIPALS.clear()
        SESSION_POLICIES.clear()
        ROLES.clear()
        DENIALS.clear()
        GRANTS.clear()


def register(account: str, body: dict[str, Any]) -> dict[str, Any]:
    """Registers principals (access key -> role session with policies) and service-assumed roles."""
    if EVALUATOR is None:
        raise ValueError("IAM enforcement is off: the emulator was started without an evaluator (--authorizer)")
    added = []
    for raw in body.get("principals", []):
        key, arn, policies = raw["accessKeyId"], raw["arn"], raw["policies"]
        if key == ADMIN_ACCESS_KEY_ID:
            raise ValueError("the admin access key cannot be registered as a principal")
        if f"::{account}:" not in arn:
            raise ValueError(f"principal {arn} is not in account {account}")
        EVALUATOR.ask({"op": "register", "principal": arn, "policies": policies})
        PRINCIPALS[key] = Principal(key, arn, account, raw.get("label") or arn.rsplit("/", 1)[-1])
        added.append(arn)
    for raw in body.get("roles", []):
        arn = raw["arn"]
        EVALUATOR.ask({"op": "register", "principal": arn, "policies": raw["policies"]})
        ROLES.add(arn)
        added.append(arn)
    return {"registered": added}


def session_account(access_key_id: str | None) -> str | None:
    """The account a role session's key acts in (the role's), or None for any other key."""
    principal = PRINCIPALS.get(access_key_id or "")
    return principal.account if principal is not None and principal.session else None


def principal_for(access_key_id: str | None) -> Principal | None:
    """None for the admin; the principal for a registered key. @raises UnknownKey otherwise."""
    if access_key_id == ADMIN_ACCESS_KEY_ID:
        return None
    principal = PRINCIPALS.get(access_key_id or "")
    if principal is None:
        raise UnknownKey(access_key_id or "(none)")
    return principal


def check(principal_arn: str, account: str, label: str, requests: list[Request], template: str | None = None) -> None:
    """Authorizes every request; raises Denied for the first one IAM would refuse, logging each."""
    if not requests:
        return
    assert EVALUATOR is not None
    answer = EVALUATOR.ask(
        {"op": "authorize", "principal": principal_arn, "account": account, "requests": [r.public() for r in requests]}
    )
    for request, result in zip(requests, answer["results"]):
        if result["allowed"]:
            with core.LOCK:  # SQS requests are authorized outside the model lock
                grants = GRANTS.setdefault(account, Counter())
                for statement in result["statements"] or ["?"]:
                    grants[(label, request.action, statement)] += 1
            continue
        with core.LOCK:
            record_denial(account, principal_arn, label, request.action, request.resource, result["reason"])
        print(f"[bakery] IAM denied {label}: {request.action} on {request.resource} {result['reason']} (context {json.dumps(request.context)})", file=sys.stderr, flush=True)
        raise Denied(request, result["reason"], principal_arn, template)


def record_denial(account: str, principal_arn: str, label: str, action: str, resource: str, reason: str) -> None:
    """Keeps the last 500 denials of an account, for GET /_bakery/iam/denials."""
    DENIALS.setdefault(account, []).append(
        {"time": core.iso(), "principal": principal_arn, "label": label, "action": action, "resource": resource, "reason": reason}
    )
    del DENIALS[account][:-500]


def role_may(role_arn: str, account: str, requests: list[Request]) -> str | None:
    """For a role an AWS service assumes: None when allowed, else why not."""
    if role_arn not in ROLES:
        return f"the role {role_arn} does not exist or cannot be assumed"
    try:
        check(role_arn, account, role_arn.rsplit("/", 1)[-1], requests)
    except Denied as denied:
        return denied.message
    return None


def encoded(denied: Denied) -> str:
    """What EC2 puts in an UnauthorizedOperation message; `sts:DecodeAuthorizationMessage` is not
    emulated, so this is readable base64 of the decision's context."""
    payload = {"allowed": False, "explicitDeny": "explicit deny" in denied.reason, "context": denied.request.public()}
    return base64.b64encode(json.dumps(payload).encode()).decode()


# --- context helpers ---------------------------------------------------------------------


def existing(tags: dict[str, str], service_prefix: str | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for key, value in tags.items():
        context[f"aws:ResourceTag/{key}"] = value
        if service_prefix:
            context[f"{service_prefix}/{key}"] = value
    return context


def creating(tags: dict[str, str]) -> dict[str, Any]:
    if not tags:
        return {}
    context: dict[str, Any] = {f"aws:RequestTag/{key}": value for key, value in tags.items()}
    context["aws:TagKeys"] = list(tags)
    return context


def indexed(params: dict[str, str], prefix: str) -> list[str]:
    values, n = [], 1
    while f"{prefix}.{n}" in params:
        values.append(params[f"{prefix}.{n}"])
        n += 1
    return values


def tag_list(params: dict[str, str], prefix: str) -> dict[str, str]:
    tags, n = {}, 1
    while f"{prefix}.{n}.Key" in params:
        tags[params[f"{prefix}.{n}.Key"]] = params.get(f"{prefix}.{n}.Value", "")
        n += 1
    return tags


def tag_specifications(params: dict[str, str]) -> dict[str, dict[str, str]]:
    specs, n = {}, 1
    while f"TagSpecification.{n}.ResourceType" in params:
        specs[params[f"TagSpecification.{n}.ResourceType"]] = tag_list(params, f"TagSpecification.{n}.Tag")
        n += 1
    return specs


# --- EC2 ---------------------------------------------------------------------------------


class Ec2:
    def __init__(self, account: str, region: str):
        from moto.ec2.models import ec2_backends

        self.account, self.region = account, region
        self.backend = ec2_backends[account][region]

    def arn(self, kind: str, resource_id: str) -> str:
        account = "" if kind in ACCOUNTLESS else self.account
        return f"arn:aws:ec2:{self.region}:{account}:{kind}/{resource_id}"

    def tags(self, resource_id: str) -> dict[str, str]:
        return dict(self.backend.tags.get(resource_id, {}))

    def on(self, action: str, resource_id: str, extra: dict[str, Any] | None = None) -> Request:
        kind = next((k for p, k in EC2_PREFIXES.items() if resource_id.startswith(p)), None)
        if kind is None:
            raise NotModelled(f"no EC2 resource type for id {resource_id!r}")
        context = {"ec2:Region": self.region, **existing(self.tags(resource_id), "ec2:ResourceTag"), **(extra or {})}
        return Request(f"ec2:{action}", self.arn(kind, resource_id), context)

    def new(self, action: str, kind: str, tags: dict[str, str], extra: dict[str, Any] | None = None) -> Request:
        return Request(f"ec2:{action}", self.arn(kind, NEW[kind]), {"ec2:Region": self.region, **creating(tags), **(extra or {})})

    def tag_on_create(self, create_action: str, specs: dict[str, dict[str, str]]) -> list[Request]:
        return [
            self.new("CreateTags", kind, tags, {"ec2:CreateAction": create_action})
            for kind, tags in specs.items()
            if kind in NEW
        ]

    def launch(
        self,
        image_id: str | None,
        subnet_id: str | None,
        group_ids: list[str],
        specs: dict[str, dict[str, str]],
        profile: str | None,
        spot: bool,
        key_name: str | None,
        template_arn: str | None = None,
    ) -> list[Request]:
        """What RunInstances authorizes (Service Authorization Reference, ec2:RunInstances)."""
        from_template = {"ec2:LaunchTemplate": template_arn, "ec2:IsLaunchTemplateResource": "true"} if template_arn else {}
        launched = {"ec2:LaunchTemplate": template_arn} if template_arn else {}
        requests = [
            self.new("RunInstances", "instance", specs.get("instance", {}), launched),
            self.new("RunInstances", "volume", specs.get("volume", {}), launched),
            self.new("RunInstances", "network-interface", specs.get("network-interface", {}), launched),
        ]
        if template_arn:
            template_id = template_arn.rsplit("/", 1)[-1]
            requests.append(self.on("RunInstances", template_id, launched))
        if image_id:
            requests.append(self.on("RunInstances", image_id, from_template))
        if subnet_id:
            requests.append(self.on("RunInstances", subnet_id, launched))
        requests += [self.on("RunInstances", group, from_template) for group in group_ids]
        if key_name:
            requests.append(Request("ec2:RunInstances", f"arn:aws:ec2:{self.region}:{self.account}:key-pair/{key_name}", dict(launched)))
        if spot:
            requests.append(self.new("RunInstances", "spot-instances-request", specs.get("spot-instances-request", {}), launched))
        requests += self.tag_on_create("RunInstances", specs)
        requests += pass_role(self.account, profile, "ec2.amazonaws.com")
        return requests

    def template(self, template_id: str | None, name: str | None):
        backend = self.backend
        if template_id:
            return backend.launch_templates.get(template_id)
        if name:
            return next((t for t in backend.launch_templates.values() if t.name == name), None)
        return None

    def template_id(self, params: dict[str, str]) -> str:
        template = self.template(params.get("LaunchTemplateId"), params.get("LaunchTemplateName"))
        if template is None:
            raise NotModelled("launch template not found")  # moto answers its own NotFound after
        return template.id


def pass_role(account: str, profile: str | None, service: str) -> list[Request]:
    """iam:PassRole for the role(s) of an instance profile given by name or ARN."""
    if not profile:
        return []
    from moto.iam.models import iam_backends

    name = profile.rsplit("/", 1)[-1]
    found = iam_backends[account]["global"].instance_profiles
    for candidate in found.values():
        if candidate.name == name or candidate.arn == profile:
            return [Request("iam:PassRole", role.arn, {"iam:PassedToService": service}) for role in candidate.roles]
    return []


def ec2_requests(action: str, params: dict[str, str], account: str, region: str) -> list[Request]:
    ec2 = Ec2(account, region)
    if action.startswith("Describe"):
        return [Request(f"ec2:{action}", "*", {"ec2:Region": region})]
    if action == "RunInstances":
        subnet = params.get("SubnetId") or params.get("NetworkInterface.1.SubnetId")
        groups = indexed(params, "SecurityGroupId") + indexed(params, "NetworkInterface.1.SecurityGroupId")
        if params.get("LaunchTemplate.LaunchTemplateId") or params.get("LaunchTemplate.LaunchTemplateName"):
            raise NotModelled("RunInstances from a launch template")
        return ec2.launch(
            params.get("ImageId"),
            subnet,
            groups,
            tag_specifications(params),
            params.get("IamInstanceProfile.Name") or params.get("IamInstanceProfile.Arn"),
            params.get("InstanceMarketOptions.MarketType") == "spot",
            params.get("KeyName"),
        )
    if action == "CreateImage":
        specs = tag_specifications(params)
        return [
            ec2.on("CreateImage", params["InstanceId"]),
            ec2.new("CreateImage", "image", specs.get("image", {})),
            ec2.new("CreateImage", "snapshot", specs.get("snapshot", {})),
            *ec2.tag_on_create("CreateImage", specs),
        ]
    if action == "CopyImage":
        specs = tag_specifications(params)
        return [
            ec2.new("CopyImage", "image", specs.get("image", {})),
            ec2.new("CopyImage", "snapshot", specs.get("snapshot", {})),
            *ec2.tag_on_create("CopyImage", specs),
        ]
    if action == "CreateTags":
        tags = tag_list(params, "Tag")
        return [ec2.on("CreateTags", rid, creating(tags)) for rid in indexed(params, "ResourceId")]
    if action in ("StopInstances", "TerminateInstances", "StartInstances"):
        return [ec2.on(action, rid) for rid in indexed(params, "InstanceId")]
    if action in ("ModifyImageAttribute", "DeregisterImage"):
        return [ec2.on(action, params["ImageId"])]
    if action in ("DeleteSnapshot", "ModifySnapshotAttribute"):
        return [ec2.on(action, params["SnapshotId"])]
    if action in ("CreateLaunchTemplateVersion", "ModifyLaunchTemplate", "DeleteLaunchTemplateVersions"):
        return [ec2.on(action, ec2.template_id(params))]
    raise NotModelled(f"ec2:{action}")


# --- Auto Scaling ------------------------------------------------------------------------


def group_of(account: str, region: str, name: str | None):
    from moto.autoscaling.models import autoscaling_backends

    return autoscaling_backends[account][region].autoscaling_groups.get(name or "")


def group_request(action: str, account: str, region: str, name: str | None) -> Request:
    group = group_of(account, region, name)
    if group is None:
        # AWS authorizes the name it was given; the action then fails on its own terms.
        arn = f"arn:aws:autoscaling:{region}:{account}:autoScalingGroup:*:autoScalingGroupName/{name}"
        return Request(f"autoscaling:{action}", arn, {})
    tags = {tag["Key"] if "Key" in tag else tag["key"]: tag.get("Value", tag.get("value", "")) for tag in group.tags}
    return Request(f"autoscaling:{action}", group.arn, existing(tags, "autoscaling:ResourceTag"))


def template_use(account: str, region: str, group, template_id: str | None, template_name: str | None, version: str | None) -> tuple[str | None, list[Request]]:
    """The caller's permissions to launch from a group's launch template version."""
    ec2 = Ec2(account, region)
    if template_id is None and template_name is None and group is not None and group.launch_template:
        template_id = group.launch_template.get("LaunchTemplateId") or group.launch_template.get("launch_template_id")
        version = version or group.launch_template.get("Version")
    template = ec2.template(template_id, template_name)
    if template is None:
        return None, []
    chosen = _template_version(template, version)
    data = chosen.data if chosen is not None else {}
    specs = {
        spec.get("ResourceType"): {t["Key"]: t.get("Value", "") for t in spec.get("Tag", spec.get("Tags", []))}
        for spec in data.get("TagSpecification", data.get("TagSpecifications", [])) or []
    }
    profile = (data.get("IamInstanceProfile") or {})
    subnets = (getattr(group, "vpc_zone_identifier", "") or "").split(",") if group is not None else []
    groups = list(data.get("SecurityGroupId", data.get("SecurityGroupIds", [])) or [])
    return template.id, ec2.launch(
        data.get("ImageId"),
        subnets[0] if subnets and subnets[0] else None,
        groups,
        specs,
        profile.get("Arn") or profile.get("Name"),
        (data.get("InstanceMarketOptions") or {}).get("MarketType") == "spot",
        data.get("KeyName"),
        template_arn=ec2.arn("launch-template", template.id),
    )


def _template_version(template, version: str | None):
    try:
        return template.get_version(version or "$Default")
    except Exception:  # moto raises its NotFound; the action itself reports it
        return None


def autoscaling_requests(action: str, params: dict[str, str], account: str, region: str) -> tuple[list[Request], str | None]:
    if action.startswith("Describe"):
        return [Request(f"autoscaling:{action}", "*", {})], None
    name = params.get("AutoScalingGroupName")
    if action in ("CancelInstanceRefresh", "CompleteLifecycleAction", "RecordLifecycleActionHeartbeat", "RollbackInstanceRefresh"):
        return [group_request(action, account, region, name)], None
    if action == "StartInstanceRefresh":
        group = group_of(account, region, name)
        prefix = "DesiredConfiguration.LaunchTemplate."
        mixed = "DesiredConfiguration.MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification."
        if not any(key.startswith(prefix) for key in params) and any(key.startswith(mixed) for key in params):
            prefix = mixed
        template, implied = template_use(
            account,
            region,
            group,
            params.get(prefix + "LaunchTemplateId"),
            params.get(prefix + "LaunchTemplateName"),
            params.get(prefix + "Version"),
        )
        return [group_request(action, account, region, name), *implied], template
    raise NotModelled(f"autoscaling:{action}")


# --- SSM ---------------------------------------------------------------------------------


def parameter_arn(account: str, region: str, name: str) -> str:
    # Public parameters live in no account: arn:aws:ssm:REGION::parameter/aws/service/...
    owner = "" if name.startswith("/aws/") else account
    return f"arn:aws:ssm:{region}:{owner}:parameter/{name.lstrip('/')}"


def parameter_tags(account: str, region: str, name: str) -> dict[str, str]:
    from moto.ssm.models import ssm_backends

    return dict(ssm_backends[account][region]._resource_tags.get("Parameter", {}).get(name, {}))


def json_tags(body: dict[str, Any]) -> dict[str, str]:
    """`Tags: [{Key, Value}]` of a JSON-protocol request."""
    return {tag["Key"]: tag["Value"] for tag in body.get("Tags", [])}


def ssm_requests(action: str, body: dict[str, Any], account: str, region: str) -> list[Request]:
    if action in ("GetCommandInvocation", "ListCommands", "ListCommandInvocations", "DescribeInstanceInformation"):
        return [Request(f"ssm:{action}", "*", {})]
    if action == "GetParameter":
        name = body["Name"].split(":")[0]
        return [Request("ssm:GetParameter", parameter_arn(account, region, name), existing(parameter_tags(account, region, name)))]
    if action == "GetParameters":
        return [Request("ssm:GetParameters", parameter_arn(account, region, n), {}) for n in body.get("Names", [])]
    if action == "PutParameter":
        name = body["Name"]
        tags = json_tags(body)
        context = {**creating(tags), "ssm:Overwrite": "true" if body.get("Overwrite") else "false"}
        requests = [Request("ssm:PutParameter", parameter_arn(account, region, name), context)]
        if body.get("DataType") == "aws:ec2:image":
            requests.append(Request("ec2:DescribeImages", "*", {"ec2:Region": region}))
        return requests
    if action == "AddTagsToResource":
        if body.get("ResourceType") != "Parameter":
            raise NotModelled(f"ssm:AddTagsToResource on {body.get('ResourceType')}")
        name = body["ResourceId"]
        tags = json_tags(body)
        context = {**existing(parameter_tags(account, region, name)), **creating(tags)}
        return [Request("ssm:AddTagsToResource", parameter_arn(account, region, name), context)]
    if action == "SendCommand":
        document = body["DocumentName"]
        owner = "" if document.startswith("AWS-") else account
        requests = [Request("ssm:SendCommand", f"arn:aws:ssm:{region}:{owner}:document/{document}", {})]
        ec2 = Ec2(account, region)
        for instance_id in body.get("InstanceIds", []):
            tags = ec2.tags(instance_id)
            requests.append(
                Request("ssm:SendCommand", ec2.arn("instance", instance_id), existing(tags, "ssm:resourceTag"))
            )
        if body.get("Targets"):
            raise NotModelled("ssm:SendCommand with Targets")
        return requests
    raise NotModelled(f"ssm:{action}")


# --- DynamoDB, SNS, SQS ------------------------------------------------------------------


def dynamodb_requests(action: str, body: dict[str, Any], account: str, region: str) -> list[Request]:
    def table(name: str, index: str | None = None) -> str:
        arn = f"arn:aws:dynamodb:{region}:{account}:table/{name}"
        return f"{arn}/index/{index}" if index else arn

    if action in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "DescribeTable"):
        return [Request(f"dynamodb:{action}", table(body["TableName"]), {})]
    if action in ("Query", "Scan"):
        return [Request(f"dynamodb:{action}", table(body["TableName"], body.get("IndexName")), {})]
    if action == "TransactWriteItems":
        # No action of its own: each item is authorized as its operation
        # (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
        kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
        requests = []
        for item in body.get("TransactItems", []):
            for kind, operation in kinds.items():
                if kind in item:
                    requests.append(Request(f"dynamodb:{operation}", table(item[kind]["TableName"]), {}))
        return requests
    if action == "TransactGetItems":
        return [Request("dynamodb:GetItem", table(item["Get"]["TableName"]), {}) for item in body.get("TransactItems", [])]
    if action in ("BatchGetItem", "BatchWriteItem"):
        return [Request(f"dynamodb:{action}", table(name), {}) for name in body.get("RequestItems", {})]
    raise NotModelled(f"dynamodb:{action}")


def sns_requests(action: str, params: dict[str, str], account: str, region: str) -> list[Request]:
    if action == "Publish":
        return [Request("sns:Publish", params.get("TopicArn") or params.get("TargetArn", ""), {})]
    raise NotModelled(f"sns:{action}")


SQS_ACTIONS = {
    "SendMessage": "SendMessage",
    "SendMessageBatch": "SendMessage",
    "ReceiveMessage": "ReceiveMessage",
    "DeleteMessage": "DeleteMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibility": "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
    "GetQueueAttributes": "GetQueueAttributes",
}


def sqs_requests(action: str, body: dict[str, Any], account: str, region: str) -> list[Request]:
    if action not in SQS_ACTIONS:
        raise NotModelled(f"sqs:{action}")
    # Queue URL: http(s)://host/ACCOUNT/NAME
    parts = unquote(body.get("QueueUrl", "")).rstrip("/").split("/")
    owner, name = (parts[-2], parts[-1]) if len(parts) >= 2 else (account, "")
    return [Request(f"sqs:{SQS_ACTIONS[action]}", f"arn:aws:sqs:{region}:{owner}:{name}", {})]


# --- STS: assuming a role, in this account or another ----------------------------------------
#
# https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_manage-assume.html : the caller's own
# policies must allow sts:AssumeRole on the role, and the role's trust policy must allow the
# caller (both, across accounts); ExternalId is the sts:ExternalId condition key
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_third-party.html).
# A role that does not exist is refused the same way ("not authorized to perform sts:AssumeRole").
# GetCallerIdentity needs no permission. Not modelled: session policies, session tags, source
# identity, and the session's expiry (the credentials work until the emulator resets).

NOTHING_TRUSTED = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}]}


def role_named(arn: str):
    from moto.iam.models import iam_backends

    parts = arn.split(":")
    if len(parts) < 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        return None
    try:
        return iam_backends[parts[4]]["global"].get_role_by_arn(arn)
    except Exception:  # moto's IAMNotFoundException
        return None


def sts_requests(action: str, params: dict[str, str], account: str, region: str) -> list[Request]:
    if action == "GetCallerIdentity":
        return []
    if action != "AssumeRole":
        raise NotModelled(f"sts:{action}")
    arn = params.get("RoleArn", "")
    role = role_named(arn)
    if role is None:
        trust = NOTHING_TRUSTED
    else:
        document = role.assume_role_policy_document
        trust = json.loads(document) if isinstance(document, str) else document
    context: dict[str, Any] = {"sts:RoleSessionName": params.get("RoleSessionName", "")}
    if params.get("ExternalId"):
        context["sts:ExternalId"] = params["ExternalId"]
    owner = arn.split(":")[4] if arn.count(":") >= 5 else account
    return [Request("sts:AssumeRole", arn, context, resource_account=owner, resource_policy=trust)]


def role_policies(role) -> list[dict[str, Any]]:
    """A role's inline and attached managed policies, as the evaluator takes them."""
    policies = [{"name": name, "policy": json.loads(document) if isinstance(document, str) else document} for name, document in role.policies.items()]
    for arn, managed in role.managed_policies.items():
        version = next((v for v in managed.versions if v.is_default), None)
        if version is not None:
            document = version.document
            policies.append({"name": arn, "policy": json.loads(document) if isinstance(document, str) else document})
    return policies


def register_session(access_key_id: str, role_arn: str, session_name: str) -> Principal | None:
    """After a successful AssumeRole: the session's key acts in the role's account with its policies."""
    role = role_named(role_arn)
    if role is None or EVALUATOR is None:
        return None
    account = role_arn.split(":")[4]
    role_name = role_arn.rsplit("/", 1)[-1]
    session_arn = f"arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}"
    principal = Principal(access_key_id, session_arn, account, f"{role_name}/{session_name}", session=True, role_arn=role_arn)
    PRINCIPALS[access_key_id] = principal
    SESSION_POLICIES.pop(session_arn, None)
    refresh_session(principal)
    return principal


# The policies each role session was last registered with, as JSON.
SESSION_POLICIES: dict[str, str] = {}


def refresh_session(principal: Principal) -> None:
    """A role session acts with its role's *current* policies: a changed role policy applies to
    sessions already issued — how AWS revokes sessions, by adding a policy to the role (IAM User
    Guide, "Revoke IAM role temporary security credentials")."""
    if not principal.session or principal.role_arn is None or EVALUATOR is None:
        return
    role = role_named(principal.role_arn)
    policies = role_policies(role) if role is not None else []
    text = json.dumps(policies, sort_keys=True)
    if SESSION_POLICIES.get(principal.arn) != text:
        EVALUATOR.ask({"op": "register", "principal": principal.arn, "policies": policies})
        SESSION_POLICIES[principal.arn] = text


def kms_requests(action: str, body: dict[str, Any], account: str, region: str) -> list[Request]:
    """A KMS call on a key: the caller's policies and the key's own policy, which alone decides for
    another account's caller (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html)."""
    from . import kms

    if action in ("DescribeKey", "CreateGrant", "ListGrants"):
        found = kms.key_for(account, region, body.get("KeyId", ""))
        if found is None:
            return []  # KMS answers NotFoundException itself
        owner, key = found
        context: dict[str, Any] = {}
        if action == "CreateGrant":
            # https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html
            context = {"kms:GranteePrincipal": body.get("GranteePrincipal", ""), "kms:GrantOperations": list(body.get("Operations", []))}
        return [Request(f"kms:{action}", key.arn, context, resource_account=owner, resource_policy=json.loads(key.policy))]
    if action in ("CreateKey", "ListKeys", "ListAliases"):
        return [Request(f"kms:{action}", "*")]
    raise NotModelled(f"kms:{action}")


QUERY_BUILDERS: dict[str, Callable[[str, dict[str, str], str, str], list[Request]]] = {
    "ec2": ec2_requests,
    "sns": sns_requests,
    "sts": sts_requests,
}
JSON_BUILDERS: dict[str, Callable[[str, dict[str, Any], str, str], list[Request]]] = {
    "ssm": ssm_requests,
    "dynamodb": dynamodb_requests,
    "sqs": sqs_requests,
    "kms": kms_requests,
}


def requests_for(service: str, action: str, raw_body: bytes, account: str, region: str) -> tuple[list[Request], str | None]:
    """The authorizations a request implies, and the launch template it uses (for the message)."""
    text = raw_body.decode("utf-8", "replace")
    if service in JSON_BUILDERS:
        body = json.loads(text or "{}")
        return JSON_BUILDERS[service](action, body, account, region), None
    params = {key: values[0] for key, values in parse_qs(text, keep_blank_values=True).items()}
    if service == "autoscaling":
        return autoscaling_requests(action, params, account, region)
    if service in QUERY_BUILDERS:
        return QUERY_BUILDERS[service](action, params, account, region), None
    raise NotModelled(f"{service}:{action}")


def denials(account: str) -> list[dict[str, Any]]:
    return list(DENIALS.get(account, []))


def grants(account: str) -> list[dict[str, Any]]:
    return [
        {"label": label, "action": action, "statement": statement, "count": count}
        for (label, action, statement), count in sorted(GRANTS.get(account, Counter()).items())
    ]


def clear_log(account: str) -> None:
    DENIALS.pop(account, None)
    GRANTS.pop(account, None)


