"""Encryption where sharing an image meets KMS: what AWS refuses and moto lets through.

- The AWS managed key ``aws/ebs`` is AWS managed (``KeyManager: AWS``), and "snapshots encrypted
  with your default KMS key cannot be shared with other accounts"
  (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifySnapshotAttribute.html).
- An image's snapshots are encrypted with its source volume's key; a copy with the key CopyImage
  names, else the destination region's default key
  (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopyImage.html).
- A key ARN of another account reaches that account's key, allowed by the key policy and the
  caller's own policies (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html,
  evaluated in iam.kms_requests); CreateGrant with a name a grant already has returns that grant
  (https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateGrant.html, "Name").
- An instance launches from another account's image only if the image is shared with the
  launching account, and, when Auto Scaling launches it from encrypted snapshots, only if the
  launching account's Auto Scaling service-linked role has a grant on a customer managed key
  (https://docs.aws.amazon.com/autoscaling/ec2/userguide/key-policy-requirements-EBS-encryption.html):
  otherwise the launch fails ("Client.InternalError: Client error on launch").
"""

from __future__ import annotations

from typing import Any

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import ec2_backends
from moto.ec2.models.elastic_block_store import EBSBackend
from moto.ec2.responses.elastic_block_store import ElasticBlockStore
from moto.kms.models import KmsBackend, kms_backends
from moto.kms.responses import KmsResponse

AWS_EBS_ALIAS = "alias/aws/ebs"
AUTO_SCALING_ROLE = "role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
LAUNCH_OPERATIONS = {"Decrypt", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo", "CreateGrant"}


class LaunchRefused(EC2ClientError):
    """RunInstances of an image the account may not use (not shared, or its key unusable)."""


def key_home(account: str, region: str, key_id: str) -> tuple[str, str]:
    """(account, region) a key lives in, as the caller in `account` and `region` names it (a key ARN names its own)."""
    parts = key_id.split(":") if key_id.startswith("arn:") else []
    if len(parts) >= 6:
        return parts[4] or account, parts[3] or region
    return account, region


def key_for(account: str, region: str, key_id: str) -> tuple[str, Any] | None:
    """(owner account, key) for a key id, alias or ARN as the caller in `account` names it."""
    owner, region = key_home(account, region, key_id)
    try:
        return owner, kms_backends[owner][region].describe_key(key_id)
    except Exception:  # moto's NotFoundException, or an alias that names nothing
        return None


def is_aws_managed(key) -> bool:
    return getattr(key, "key_manager", "CUSTOMER") == "AWS"


def _other_backend(response: KmsResponse) -> KmsBackend | None:
    owner, region = key_home(response.current_account, response.region, response._get_param("KeyId") or "")
    return kms_backends[owner][region] if owner != response.current_account else None


def image_owner(account: str, region: str, image_id: str):
    """(owner account, image) of an image in another account's `region`, or None."""
    for owner in list(ec2_backends.keys()):
        if owner == account:
            continue
        backend = dict.get(ec2_backends[owner], region)
        if backend is not None and image_id in backend.amis:
            return owner, backend.amis[image_id], backend
    return None


def launch_refusal(account: str, region: str, image_id: str | None, by_autoscaling: bool) -> str | None:
    """Why `account` cannot launch `image_id` (another account's), or None when it can."""
    if not image_id or image_id in ec2_backends[account][region].amis:
        return None
    found = image_owner(account, region, image_id)
    if found is None:
        return None  # moto's own images and made-up ids keep moto's behaviour
    owner, image, backend = found
    permitted = any(p.get("UserId") == account or p.get("Group") == "all" for p in image.launch_permissions)
    if not permitted:
        return f"The image id '[{image_id}]' does not exist"
    for mapping in image.block_device_mappings:
        snapshot_id = mapping.get("Ebs", {}).get("SnapshotId")
        snapshot = backend.snapshots.get(snapshot_id) if snapshot_id else None
        if snapshot is None or not snapshot.encrypted or not snapshot.kms_key_id:
            continue
        found_key = key_for(owner, region, snapshot.kms_key_id)
        if found_key is None or is_aws_managed(found_key[1]):
            return "Client.InternalError: Client error on launch"
        if by_autoscaling:
            grantee = f"arn:aws:iam::{account}:{AUTO_SCALING_ROLE}"
            if not any(
                grant.grantee_principal == grantee and LAUNCH_OPERATIONS <= set(grant.operations or [])
                for grant in found_key[1].grants.values()
            ):
                return "Client.InternalError: Client error on launch"
    return None


def install() -> None:
    # --- aws/ebs is AWS managed ---
    original_default_key = EBSBackend._create_default_encryption_key

    def create_default_encryption_key(self) -> str:
        arn = original_default_key(self)
        kms_backends[self.account_id][self.region_name].describe_key(AWS_EBS_ALIAS).key_manager = "AWS"
        return arn

    EBSBackend._create_default_encryption_key = create_default_encryption_key

    # --- snapshots shared only when their key can be ---
    original_modify = ElasticBlockStore.modify_snapshot_attribute

    def modify_snapshot_attribute(self):
        if self._get_param("OperationType") == "add" and self._get_param("UserIds", []):
            snapshot = self.ec2_backend.get_snapshot(self._get_param("SnapshotId"))
            found = key_for(self.current_account, self.region, snapshot.kms_key_id or "") if snapshot.encrypted else None
            if found is not None and is_aws_managed(found[1]):
                raise EC2ClientError(
                    "InvalidParameter",
                    "Snapshots encrypted with the AWS Managed CMK can't be shared. Specify another snapshot.",
                )
        return original_modify(self)

    ElasticBlockStore.modify_snapshot_attribute = modify_snapshot_attribute

    # --- another account's key, by ARN ---
    original_backend = KmsResponse.kms_backend

    def kms_backend(self) -> KmsBackend:
        return _other_backend(self) or original_backend.fget(self)

    KmsResponse.kms_backend = property(kms_backend)

    # --- CreateGrant is idempotent by name ---
    original_create_grant = KmsBackend.create_grant

    def create_grant(self, key_id, grantee_principal, operations, name, constraints, retiring_principal):
        key = self.describe_key(key_id)
        if name:
            for grant in key.grants.values():
                if grant.name == name and grant.grantee_principal == grantee_principal and sorted(grant.operations) == sorted(operations):
                    return grant.id, grant.token
        return original_create_grant(self, key_id, grantee_principal, operations, name, constraints, retiring_principal)

    KmsBackend.create_grant = create_grant
