"""EC2: timed instance and image states, CreateImage fixes, idempotent RunInstances.

Instance states and their codes follow
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_InstanceState.html ;
the state-change events follow
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-instance-state-changes.html ;
AMI State Change events follow
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitor-ami-events.html .
"""

from __future__ import annotations

import copy
import heapq
import itertools
import weakref

import re
import uuid
from dataclasses import dataclass
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.models.amis import Ami, AmiBackend
from moto.ec2.models.instances import Instance, InstanceBackend, InstanceState
from moto.ec2.exceptions import EC2ClientError, InvalidLaunchTemplateIdNotFound, InvalidSnapshotInUse
from moto.ec2.models.elastic_block_store import EBSBackend
from moto.ec2.models.launch_templates import LaunchTemplate, LaunchTemplateBackend
from moto.ec2.responses.launch_templates import LaunchTemplates
from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, Base64EncodedString, get_prefix, parse_user_data
from moto.ec2.responses.amis import AmisResponse
from moto.ec2.responses.instances import InstanceResponse

from moto.ec2.models import ec2_backends

from . import core, kms

# moto's RunInstances handler passes this when the request carried no ClientToken.
MOTO_DEFAULT_CLIENT_TOKEN = "ABCDE"


@dataclass
class InstanceExtra:
    # When it last became running: the SSM agent comes online a little later.
    running_since: float | None = None
    # How many times CreateImage rebooted it.
    reboots: int = 0


# What the extension knows about moto's EC2 objects, beside them (core.SideTable).
INSTANCES: core.SideTable[Instance, InstanceExtra] = core.SideTable(InstanceExtra)
# Per backend: (action, ClientToken) -> (request fingerprint, answer).
TOKENS: core.SideTable[Any, dict[tuple[str, str], tuple[str, Any]]] = core.SideTable(dict)
# RunInstances reservations made with a ClientToken: the fingerprint of their request.
FINGERPRINTS: core.SideTable[Any, str] = core.SideTable(str)
# Images made by RegisterImage: their block device mappings (moto knows only its own snapshot).
MAPPINGS: core.SideTable[Ami, list[dict[str, Any]]] = core.SideTable(list)
# Launch template versions DeleteLaunchTemplateVersions deleted (moto keeps them in its list).
DELETED_VERSIONS: core.SideTable[Any, bool] = core.SideTable(bool)

def request_fingerprint(response) -> str:
    """The request's parameters but its token: what a retry with the same ClientToken must repeat."""
    ignored = {"ClientToken", "Action", "Version"}
    return repr(sorted((key, value) for key, value in response.querystring.items() if key not in ignored))


def idempotent(response, action: str, make):
    """Runs `make()` once per ClientToken of `action` (per account and region) and answers a
    retry with the first answer; a reused token with other parameters is refused.

    https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html : "If you retry a
    request with the same client token but change one or more of the other parameters, Amazon EC2
    returns an IdempotentParameterMismatch error."
    """
    token = response._get_param("ClientToken")
    if not token:
        return make()
    tokens = TOKENS.of(response.ec2_backend)
    fingerprint = request_fingerprint(response)
    known = tokens.get((action, token))
    if known is not None:
        if known[0] != fingerprint:
            raise EC2ClientError(
                "IdempotentParameterMismatch",
                f"The client token {token} was already used with different parameters.",
            )
        return known[1]
    answer = make()
    tokens[(action, token)] = (fingerprint, answer)
    return answer


# --- terminated instances, forgotten after an hour ------------------------------------------
#
# "Terminated instances remain visible for approximately one hour" (then DescribeInstances no
# longer lists them, and asking for one by id is InvalidInstanceID.NotFound):
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-lifecycle.html . moto keeps
# them forever, and every call that scans instances slows down with them.

VISIBLE_AFTER_TERMINATION = 3600
_FORGET: list[tuple[float, int, weakref.ref[Instance]]] = []
_SEQUENCE = itertools.count()
# Every instance by id (weakly), so a lookup by id is one step, not a scan of every reservation.
_BY_ID: weakref.WeakValueDictionary[str, Instance] = weakref.WeakValueDictionary()


def forget_later(instance: Instance) -> None:
    due = core.time.monotonic() + core.settings(instance.ec2_backend.account_id).scaled(VISIBLE_AFTER_TERMINATION)
    heapq.heappush(_FORGET, (due, next(_SEQUENCE), weakref.ref(instance)))


def forget_terminated() -> None:
    """Drops the instances terminated longer ago than AWS keeps showing them (periodic)."""
    now = core.time.monotonic()
    due: dict[int, tuple[Any, set[str]]] = {}
    while _FORGET and _FORGET[0][0] <= now:
        _, _, ref = heapq.heappop(_FORGET)
        instance = ref()
        if instance is None or instance._state.name != "terminated":
            continue
        backend = instance.ec2_backend
        due.setdefault(id(backend), (backend, set()))[1].add(instance.id)
    for backend, ids in due.values():
        for reservation_id, reservation in list(backend.reservations.items()):
            kept = [i for i in reservation.instances if i.id not in ids]
            if len(kept) != len(reservation.instances):
                reservation.instances = kept
                if not kept:
                    del backend.reservations[reservation_id]
        for instance_id in ids:
            backend.tags.pop(instance_id, None)
            backend.iam_instance_profile_associations.pop(instance_id, None)
            _BY_ID.pop(instance_id, None)


def reset_forgetting() -> None:
    _FORGET.clear()


STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}


def _account(instance: Instance) -> str:
    return instance.ec2_backend.account_id


def _region(instance: Instance) -> str:
    return instance.ec2_backend.region_name


def set_state(instance: Instance, name: str) -> None:
    instance._state.name = name
    instance._state.code = STATE_CODES[name]
    if name == "running":
        INSTANCES.of(instance).running_since = core.time.monotonic()
    if name == "terminated":
        forget_later(instance)
    core.emit(
        _account(instance),
        _region(instance),
        "aws.ec2",
        "EC2 Instance State-change Notification",
        [f"arn:aws:ec2:{_region(instance)}:{_account(instance)}:instance/{instance.id}"],
        {"instance-id": instance.id, "state": name},
    )


def _image_arn(ami) -> str:
    return f"arn:aws:ec2:{ami.ec2_backend.region_name}::image/{ami.id}"


def _emit_image(ami, state: str, error: str = "") -> None:
    core.emit(
        ami.ec2_backend.account_id,
        ami.ec2_backend.region_name,
        "aws.ec2",
        "EC2 AMI State Change",
        [_image_arn(ami)],
        {"RequestId": str(uuid.uuid4()), "ImageId": ami.id, "State": state, "ErrorMessage": error},
    )


def start_image_transition(ami) -> None:
    """A new image is pending until the account's delay passes, then available or failed by rule."""
    account = core.settings(ami.ec2_backend.account_id)
    rule = next(
        (rule for rule in account.image_rules if re.search(rule.get("namePattern", ".*"), ami.name or "")),
        None,
    )
    final = (rule or {}).get("state", "available")
    reason = (rule or {}).get("reason", "Image creation failed (emulated).") if final == "failed" else ""

    def finish() -> None:
        if ami.id not in ami.ec2_backend.amis:
            return  # deregistered while pending
        ami.state = final
        if final == "failed":
            ami.state_reason = {"Code": "Server.InternalError", "Message": reason}
        _emit_image(ami, final, reason)

    ami.state = "pending"
    core.SCHEDULER.after(account.delay("ec2.image.pending"), finish)
    if account.delay("ec2.image.pending") <= 0:
        core.SCHEDULER.run_due()


def transition(instance: Instance, via: str, to: str, delay_name: str, finish=None) -> None:
    """Moves an instance into `via` now and into `to` once the account's delay has passed."""
    delay = core.settings(_account(instance)).delay(delay_name)

    def complete() -> None:
        if instance._state.name == via:
            if finish is not None:
                finish()
            set_state(instance, to)

    set_state(instance, via)
    core.SCHEDULER.after(delay, complete)
    if delay <= 0:
        core.SCHEDULER.run_due()


def install() -> None:
    # A resource's tags, by one lookup. moto answers them with DescribeTags filtered on the
    # resource id, which scans every tag of the region: a tag-filtered DescribeInstances (the
    # reconciler's every pass) grew with the square of the instances ever launched. Same answer.
    def get_tags(self) -> list[dict[str, str]]:
        if not self.id:
            return []
        kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(self.id), "")
        found = self.ec2_backend.tags.get(self.id) or {}
        return [{"resource_id": self.id, "key": key, "value": value, "resource_type": kind} for key, value in found.items()]

    TaggedEC2Resource.get_tags = get_tags

    # An instance by id: from the index when it is this backend's and still listed, else moto's
    # scan (which raises InvalidInstanceID.NotFound as AWS does).
    original_get_instance = InstanceBackend.get_instance
    original_get_instance_by_id = InstanceBackend.get_instance_by_id

    def indexed(backend, instance_id: str) -> Instance | None:
        found = _BY_ID.get(instance_id)
        return found if found is not None and found.ec2_backend is backend else None

    def get_instance(self, instance_id):
        return indexed(self, instance_id) or original_get_instance(self, instance_id)

    def get_instance_by_id(self, instance_id):
        return indexed(self, instance_id) or original_get_instance_by_id(self, instance_id)

    InstanceBackend.get_instance = get_instance
    InstanceBackend.get_instance_by_id = get_instance_by_id
    core.PERIODIC.append(forget_terminated)

    original_init = Instance.__init__

    def init(self, ec2_backend, image_id, user_data, security_groups, **kwargs):
        original_init(self, ec2_backend, image_id, user_data, security_groups, **kwargs)
        _BY_ID[self.id] = self
        self._state = InstanceState("pending", 0)
        transition(self, "pending", "running", "ec2.instance.pending")

    Instance.__init__ = init

    original_stop = Instance.stop

    def stop(self):
        previous = InstanceState(self._state.name, self._state.code)
        if self._state.name in ("pending", "running"):
            transition(self, "stopping", "stopped", "ec2.instance.stopping", lambda: original_stop(self))
        return previous

    Instance.stop = stop

    original_start = Instance.start

    def start(self):
        previous = InstanceState(self._state.name, self._state.code)
        if self._state.name == "stopped":
            original_start(self)
            transition(self, "pending", "running", "ec2.instance.pending")
        return previous

    Instance.start = start

    original_terminate = Instance.terminate

    def terminate(self):
        previous = InstanceState(self._state.name, self._state.code)
        if self._state.name not in ("shutting-down", "terminated"):
            transition(self, "shutting-down", "terminated", "ec2.instance.shutting-down", lambda: original_terminate(self))
        return previous

    Instance.terminate = terminate

    # --- launch templates ---

    original_create_version = LaunchTemplate.create_version

    def create_version(self, data, description):
        # CreateLaunchTemplateVersion stores UserData as a plain string, which moto's own
        # LaunchTemplateVersion.user_data asserts against: every launch from it answered 500.
        user_data = data.get("UserData")
        if user_data is not None and not isinstance(user_data, Base64EncodedString):
            data = {**data, "UserData": parse_user_data(user_data)}
        return original_create_version(self, data, description)

    LaunchTemplate.create_version = create_version

    # CreateLaunchTemplateVersion ignores SourceVersion in moto: the new version held only the
    # parameters of the call, so a rollout's version (ImageId alone) launched instances with no
    # instance profile, security group or user data. AWS: the new version "inherits the same
    # launch parameters as the source version, except for parameters that you specify".
    # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateLaunchTemplateVersion.html
    original_create_version_response = LaunchTemplates.create_launch_template_version

    def create_launch_template_version_response(self):
        # CreateLaunchTemplateVersion takes a ClientToken too (API reference): a retry gets the
        # version the first call made, not a second one.
        return idempotent(self, "CreateLaunchTemplateVersion", lambda: create_version(self))

    def create_version(self):
        source = self._get_param("SourceVersion")
        if not source:
            return original_create_version_response(self)
        template_id = self._get_param("LaunchTemplateId")
        name = self._get_param("LaunchTemplateName")
        template = (
            self.ec2_backend.get_launch_template(template_id)
            if template_id
            else self.ec2_backend.get_launch_template_by_name(name)
        )
        inherited = copy.deepcopy(template.get_version(source).data)
        given = self._get_param("LaunchTemplateData", {})
        original_param = self._get_param

        def merged_param(key, default=None):
            if key == "LaunchTemplateData":
                return {**inherited, **given}
            return original_param(key, default)

        self._get_param = merged_param
        try:
            return original_create_version_response(self)
        finally:
            del self._get_param

    LaunchTemplates.create_launch_template_version = create_launch_template_version_response

    # DeleteLaunchTemplateVersions is missing from moto. moto numbers versions by list position,
    # so a deleted version stays in the list, marked, and disappears from every answer.
    # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteLaunchTemplateVersions.html

    original_get_version = LaunchTemplate.get_version

    def get_version(self, num):
        version = original_get_version(self, num)
        if DELETED_VERSIONS.get(version):
            raise EC2ClientError("InvalidLaunchTemplateId.VersionNotFound", f"Could not find launch template version {num}.")
        return version

    LaunchTemplate.get_version = get_version

    original_describe_versions = LaunchTemplateBackend.describe_launch_template_versions

    def describe_launch_template_versions(self, *args, **kwargs):
        found = original_describe_versions(self, *args, **kwargs)
        return [(template, version) for template, version in found if not DELETED_VERSIONS.get(version)]

    LaunchTemplateBackend.describe_launch_template_versions = describe_launch_template_versions

    # DescribeLaunchTemplates with an explicit id that does not exist fails with
    # InvalidLaunchTemplateId.NotFound (moto answered an empty list; it already refuses a missing
    # name). https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeLaunchTemplates.html
    original_describe_templates = LaunchTemplateBackend.describe_launch_templates

    def describe_launch_templates(self, template_names=None, template_ids=None, filters=None):
        for template_id in template_ids or []:
            if template_id not in self.launch_templates:
                raise InvalidLaunchTemplateIdNotFound(template_id)
        return original_describe_templates(self, template_names, template_ids, filters)

    LaunchTemplateBackend.describe_launch_templates = describe_launch_templates

    def delete_launch_template_versions_response(self):
        template_id = self._get_param("LaunchTemplateId")
        name = self._get_param("LaunchTemplateName")
        numbers = self._get_param("Versions", [])
        self.error_on_dryrun()
        if template_id:
            template = self.ec2_backend.get_launch_template(template_id)
        else:
            template = self.ec2_backend.get_launch_template_by_name(name)
        done, refused = [], []
        for raw in numbers:
            identity = {"LaunchTemplateId": template.id, "LaunchTemplateName": template.name}
            number = int(raw) if str(raw).isdigit() else None
            version = template.versions[number - 1] if number and number <= len(template.versions) else None
            if version is None or DELETED_VERSIONS.get(version):
                error = {"Code": "launchTemplateVersionDoesNotExist", "Message": f"Version {raw} does not exist."}
            elif number == template.default_version_number:
                error = {"Code": "launchTemplateVersionIsDefault", "Message": "Cannot delete the default version."}
            else:
                DELETED_VERSIONS.put(version, True)
                done.append({**identity, "VersionNumber": number})
                continue
            refused.append({**identity, "VersionNumber": number or 0, "ResponseError": error})
        return ActionResult(
            {
                "SuccessfullyDeletedLaunchTemplateVersions": done,
                "UnsuccessfullyDeletedLaunchTemplateVersions": refused,
            }
        )

    LaunchTemplates.delete_launch_template_versions = delete_launch_template_versions_response

    # --- RunInstances: launch-template data moto ignores, and ClientToken idempotency ---

    original_run = InstanceBackend.run_instances

    def run_instances(self, image_id, count, user_data, security_group_names, **kwargs):
        template_data: dict[str, Any] = {}
        if kwargs.get("launch_template"):
            template_data = self._get_template_from_args(kwargs["launch_template"]).data
            # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RequestLaunchTemplateData.html
            if not kwargs.get("metadata_options") and template_data.get("MetadataOptions"):
                kwargs["metadata_options"] = template_data["MetadataOptions"]
            if not image_id and template_data.get("ImageId"):
                image_id = template_data["ImageId"]
        # Auto Scaling launches through its service-linked role, which needs its own grant on a key.
        by_autoscaling = kwargs.pop("by_autoscaling", False)
        refused = kms.launch_refusal(self.account_id, self.region_name, image_id, by_autoscaling)
        if refused is not None:
            if refused.startswith("Client."):
                raise kms.LaunchRefused("Client.InternalError", refused)
            raise EC2ClientError("InvalidAMIID.NotFound", refused)
        reservation = original_run(self, image_id, count, user_data, security_group_names, **kwargs)
        profile = template_data.get("IamInstanceProfile") or {}
        if profile and not (kwargs.get("iam_instance_profile_name") or kwargs.get("iam_instance_profile_arn")):
            for instance in reservation.instances:
                self.associate_iam_instance_profile(
                    instance_id=instance.id,
                    iam_instance_profile_name=profile.get("Name"),
                    iam_instance_profile_arn=profile.get("Arn"),
                )
        return reservation

    InstanceBackend.run_instances = run_instances

    original_run_response = InstanceResponse.run_instances

    def run_instances_response(self):
        # https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html :
        # a retried RunInstances with the same ClientToken returns the original instances.
        # Tokens outlive the instances: terminated ones stay in moto's reservations.
        token = self._get_param("ClientToken")
        fingerprint = request_fingerprint(self)
        if token and token != MOTO_DEFAULT_CLIENT_TOKEN:
            for reservation in self.ec2_backend.reservations.values():
                if reservation.instances and all(i.client_token == token for i in reservation.instances):
                    if FINGERPRINTS.get(reservation) not in (None, fingerprint):
                        raise EC2ClientError(
                            "IdempotentParameterMismatch",
                            f"The client token {token} was already used with different parameters.",
                        )
                    return ActionResult(reservation)
        answer = original_run_response(self)
        for reservation in self.ec2_backend.reservations.values():
            if token and any(i.client_token == token for i in reservation.instances):
                FINGERPRINTS.put(reservation, fingerprint)
        return answer

    InstanceResponse.run_instances = run_instances_response

    # --- images ---

    def create_image_response(self):
        # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateImage.html
        name = self._get_param("Name")
        description = self._get_param("Description", "")
        instance_id = self._get_param("InstanceId")
        specifications = self._get_param("TagSpecifications", [])
        no_reboot = self._get_bool_param("NoReboot", False)
        self.error_on_dryrun()

        image_specs = [spec for spec in specifications if spec["ResourceType"] != "snapshot"]
        snapshot_tags = [tag for spec in specifications if spec["ResourceType"] == "snapshot" for tag in spec["Tags"]]
        instance = self.ec2_backend.get_instance(instance_id)
        image = self.ec2_backend.create_image(instance_id, name, description, tag_specifications=image_specs)
        for tag in snapshot_tags:
            image.ebs_snapshot.add_tag(tag["Key"], tag["Value"])
        # The image's snapshot is of the instance's volume: encrypted as it is, with its key.
        for _, device in instance.get_block_device_mapping:
            volume = self.ec2_backend.volumes.get(device.volume_id)
            if volume is not None and volume.encrypted:
                image.ebs_snapshot.encrypted = True
                image.ebs_snapshot.kms_key_id = volume.kms_key_id
                break
        # "By default, Amazon EC2 shuts down and reboots the instance before creating the AMI."
        if not no_reboot and instance._state.name == "running":
            INSTANCES.of(instance).reboots += 1
            instance.reboot()
        start_image_transition(image)
        return ActionResult({"ImageId": image.id})

    AmisResponse.create_image = create_image_response

    def copy_image_response(self):
        # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopyImage.html : moto drops
        # TagSpecifications ("image" tags the new AMI, "snapshot" its snapshots) and ClientToken.
        return idempotent(self, "CopyImage", lambda: copy_image_once(self))

    def copy_image_once(self):
        specifications = self._get_param("TagSpecifications", [])
        self.error_on_dryrun()
        source_id, source_region = self._get_param("SourceImageId"), self._get_param("SourceRegion")
        image = self.ec2_backend.copy_image(source_id, source_region, self._get_param("Name"), self._get_param("Description"))
        # "Encrypted ... KmsKeyId: the identifier of the KMS key to use when creating encrypted
        # volumes. If you omit this parameter, the default KMS key for Amazon EBS is used."
        source = ec2_backends[self.current_account][source_region].amis.get(source_id)
        source_snapshot = getattr(source, "ebs_snapshot", None)
        if self._get_bool_param("Encrypted", False) or (source_snapshot is not None and source_snapshot.encrypted):
            key = self._get_param("KmsKeyId") or self.ec2_backend.default_kms_key_id or self.ec2_backend._create_default_encryption_key()
            for snapshot_id in snapshot_ids(image):
                snapshot = self.ec2_backend.get_snapshot(snapshot_id)
                snapshot.encrypted, snapshot.kms_key_id = True, key
        for spec in specifications:
            for tag in spec.get("Tags", []):
                if spec["ResourceType"] == "image":
                    self.ec2_backend.create_tags([image.id], {tag["Key"]: tag["Value"]})
                elif spec["ResourceType"] == "snapshot":
                    for snapshot_id in snapshot_ids(image):
                        self.ec2_backend.get_snapshot(snapshot_id).add_tag(tag["Key"], tag["Value"])
        return ActionResult({"ImageId": image.id})

    AmisResponse.copy_image = copy_image_response

    original_copy = AmiBackend.copy_image

    def copy_image(self, source_image_id, source_region, name=None, description=None):
        image = original_copy(self, source_image_id, source_region, name, description)
        start_image_transition(image)
        return image

    AmiBackend.copy_image = copy_image

    original_deregister = AmiBackend.deregister_image

    def deregister_image(self, ami_id):
        ami = self.amis.get(ami_id)
        result = original_deregister(self, ami_id)
        if ami is not None:
            _emit_image(ami, "deregistered")
        return result

    AmiBackend.deregister_image = deregister_image

    # --- images with several snapshots, and snapshots several images share ---
    # moto's RegisterImage ignores BlockDeviceMappings and gives every image one snapshot of
    # its own; DescribeImages knows no block-device-mapping.* filter; DeleteSnapshot checks only
    # the image that created the snapshot. AWS: an image maps any snapshots, a snapshot any
    # number of images, and a snapshot an image uses cannot be deleted.
    # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RegisterImage.html

    original_mappings = Ami.block_device_mappings

    def block_device_mappings(self):
        custom = MAPPINGS.get(self)
        return custom if custom is not None else original_mappings.fget(self)

    Ami.block_device_mappings = property(block_device_mappings)

    def snapshot_ids(ami) -> list[str]:
        return [m["Ebs"]["SnapshotId"] for m in ami.block_device_mappings if m.get("Ebs", {}).get("SnapshotId")]

    original_filter = Ami.get_filter_value

    def get_filter_value(self, filter_name, method_name=None):
        if filter_name == "block-device-mapping.snapshot-id":
            return snapshot_ids(self)
        if filter_name == "block-device-mapping.device-name":
            return [m["DeviceName"] for m in self.block_device_mappings]
        return original_filter(self, filter_name, method_name)

    Ami.get_filter_value = get_filter_value

    def register_image_response(self):
        name = self._get_param("Name")
        description = self._get_param("Description", "")
        mappings = self._get_param("BlockDeviceMappings", [])
        root = self._get_param("RootDeviceName")
        specifications = self._get_param("TagSpecifications", [])
        self.error_on_dryrun()
        image = self.ec2_backend.register_image(name, description)
        if mappings:
            for mapping in mappings:
                snapshot_id = (mapping.get("Ebs") or {}).get("SnapshotId")
                if snapshot_id:
                    self.ec2_backend.get_snapshot(snapshot_id)  # InvalidSnapshot.NotFound
            # The snapshot moto made for the image is not one of its mappings: drop it.
            self.ec2_backend.snapshots.pop(image.ebs_snapshot.id, None)
            MAPPINGS.put(image, [
                {
                    "DeviceName": mapping["DeviceName"],
                    "Ebs": {
                        "SnapshotId": mapping["Ebs"]["SnapshotId"],
                        "VolumeSize": int(mapping["Ebs"].get("VolumeSize") or 8),
                        "DeleteOnTermination": True,
                        "VolumeType": mapping["Ebs"].get("VolumeType", "gp3"),
                    },
                }
                for mapping in mappings
                if (mapping.get("Ebs") or {}).get("SnapshotId")
            ],
            )
            if root:
                image.root_device_name = root
        for spec in specifications:
            if spec.get("ResourceType") == "image":
                for tag in spec.get("Tags", []):
                    image.add_tag(tag["Key"], tag["Value"])
        return ActionResult({"ImageId": image.id})

    AmisResponse.register_image = register_image_response

    original_delete_snapshot = EBSBackend.delete_snapshot

    def delete_snapshot(self, snapshot_id):
        for ami in self.amis.values():
            if snapshot_id in snapshot_ids(ami):
                raise InvalidSnapshotInUse(snapshot_id, ami.id)
        return original_delete_snapshot(self, snapshot_id)

    EBSBackend.delete_snapshot = delete_snapshot


def reboots(account_id: str) -> dict[str, int]:
    """Instances CreateImage rebooted, by id (AWS shows this only as a reboot of the guest)."""
    from moto.ec2.models import ec2_backends

    counts: dict[str, int] = {}
    for backend in ec2_backends[account_id].values():
        for instance in backend.all_instances():
            extra = INSTANCES.get(instance)
            if extra is not None and extra.reboots:
                counts[instance.id] = extra.reboots
    return counts
