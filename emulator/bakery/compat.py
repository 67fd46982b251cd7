"""Checks, before patching, that every moto internal the extension touches exists.

The extension is written against moto 5.2.1 (pinned by the launcher); if moto's internals
move, this fails at start with the list of what is missing rather than half-way through a test.
"""

from __future__ import annotations

import importlib

REQUIRED = {
    "moto.core.responses": ["ActionResult", "EmptyResult", "BaseResponse", "method_names_from_class"],
    "moto.core.exceptions": ["ServiceException"],
    "moto.ssm.exceptions": ["SSMException"],
    "moto.ec2.models": ["ec2_backends"],
    "moto.ec2.models.instances": ["Instance", "InstanceBackend", "InstanceState"],
    "moto.ec2.models.instances.Instance": ["__init__", "start", "stop", "terminate", "reboot"],
    "moto.ec2.models.instances.InstanceBackend": [
        "run_instances",
        "_get_template_from_args",
        "all_instances",
        "get_instance",
        "get_instance_by_id",
    ],
    "moto.ec2.models.amis.AmiBackend": ["create_image", "copy_image", "deregister_image"],
    "moto.ec2.responses.instances.InstanceResponse": ["run_instances"],
    "moto.ec2.models.launch_templates.LaunchTemplate": ["create_version", "get_version"],
    "moto.ec2.models.launch_templates.LaunchTemplateBackend": [
        "describe_launch_templates",
        "describe_launch_template_versions",
        "get_launch_template",
        "get_launch_template_by_name",
    ],
    "moto.ec2.responses.launch_templates.LaunchTemplates": [
        "describe_launch_template_versions",
        "create_launch_template_version",
    ],
    "moto.ec2.exceptions": ["EC2ClientError", "InvalidLaunchTemplateIdNotFound", "InvalidSnapshotInUse"],
    "moto.ec2.models.amis.Ami": ["block_device_mappings", "get_filter_value"],
    "moto.ec2.models.elastic_block_store.EBSBackend": ["delete_snapshot", "get_snapshot", "_create_default_encryption_key"],
    "moto.ec2.responses.elastic_block_store.ElasticBlockStore": ["modify_snapshot_attribute"],
    "moto.kms.models": ["kms_backends"],
    "moto.kms.models.KmsBackend": ["create_grant", "describe_key"],
    "moto.kms.responses.KmsResponse": ["kms_backend"],
    "moto.ec2.responses.amis.AmisResponse": ["register_image", "create_image", "copy_image"],
    "moto.ec2.utils": ["Base64EncodedString", "parse_user_data", "EC2_PREFIX_TO_RESOURCE", "get_prefix"],
    "moto.ec2.models.core.TaggedEC2Resource": ["get_tags"],
    "moto.ssm.models": ["Command"],
    "moto.ssm.models.Command": ["__init__", "invocation_response", "_get_instance_ids_from_targets", "get_invocation"],
    "moto.ssm.responses": ["SimpleSystemManagerResponse"],
    "moto.autoscaling.models": [
        "ASG_NAME_TAG",
        "AutoScalingBackend",
        "FakeAutoScalingGroup",
        "InstanceState",
        "LifecycleHook",
        "TerminateInstanceActivity",
        "autoscaling_backends",
    ],
    "moto.autoscaling.models.FakeAutoScalingGroup": [
        "set_desired_capacity",
        "active_instances",
        "_set_launch_configuration",
        "get_propagated_tags",
    ],
    "moto.autoscaling.models.AutoScalingBackend": [
        "terminate_instance",
        "update_attached_elbs",
        "update_attached_target_groups",
    ],
    "moto.autoscaling.responses.AutoScalingResponse": [
        "put_lifecycle_hook",
        "create_auto_scaling_group",
        "update_auto_scaling_group",
    ],
    "moto.autoscaling.exceptions": ["AutoscalingClientError"],
    "moto.sns.models": ["sns_backends"],
    "moto.sqs.models": ["sqs_backends"],
    "moto.cloudwatch.models": ["cloudwatch_backends"],
    "moto.moto_server.werkzeug_app": ["DomainDispatcherApplication", "create_backend_app"],
    "moto.backends": ["list_of_moto_modules"],
    "moto.dynamodb.models.DynamoDBBackend": ["transact_write_items", "get_table", "get_item", "put_item", "delete_item", "update_item"],
    "moto.dynamodb.exceptions": [
        "ConditionalCheckFailed",
        "MockValidationException",
        "MultipleTransactionsException",
        "TooManyTransactionsException",
        "TransactionCanceledException",
        "TransactWriteSingleOpException",
    ],
    "moto.sqs.models.Queue": [
        "attributes",
        "BASE_ATTRIBUTES",
        "FIFO_ATTRIBUTES",
        "KMS_ATTRIBUTES",
        "messages",
        "approximate_number_of_messages",
        "approximate_number_of_messages_delayed",
        "approximate_number_of_messages_not_visible",
    ],
}


class MotoInternalsChanged(RuntimeError):
    pass


def _resolve(path: str):
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            target = getattr(target, attribute)
        return target
    raise ImportError(path)


def check() -> None:
    missing = []
    for path, names in REQUIRED.items():
        try:
            target = _resolve(path)
        except (ImportError, AttributeError):
            missing.append(path)
            continue
        missing.extend(f"{path}.{name}" for name in names if not hasattr(target, name))
    if missing:
        raise MotoInternalsChanged(
            "the emulator extension is written for moto 5.2.1 and cannot find: " + ", ".join(missing)
        )
