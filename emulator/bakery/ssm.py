"""SSM: command outcomes chosen by rule, timed command states, and agent ping status.

Command and invocation statuses follow
https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html ;
GetCommandInvocation's output limit (24,000 characters) follows
https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html ;
the status-change events follow
https://docs.aws.amazon.com/systems-manager/latest/userguide/monitoring-systems-manager-event-examples.html ;
DescribeInstanceInformation follows
https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeInstanceInformation.html .
"""

from __future__ import annotations

import re
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.models import ec2_backends
from moto.ssm.exceptions import SSMException
from moto.ssm.models import Command
from moto.ssm.responses import SimpleSystemManagerResponse

from . import core, ec2

OUTPUT_LIMIT = 24_000
DEFAULT_EXIT = {"Success": 0, "Failed": 1, "TimedOut": -1, "Cancelled": -1}
STATUS_DETAILS = {"TimedOut": "ExecutionTimedOut"}


def command_text(command: Command) -> str:
    return "\n".join(command.parameters.get("commands", []))


def outcome_for(command: Command, instance_id: str) -> dict[str, Any]:
    """The first matching rule of the account decides; by default a command succeeds."""
    text = command_text(command)
    for rule in core.settings(command.account_id).ssm_rules:
        if "commandPattern" in rule and not re.search(rule["commandPattern"], text):
            continue
        if "instanceId" in rule and rule["instanceId"] != instance_id:
            continue
        if "documentName" in rule and rule["documentName"] != command.document_name:
            continue
        return rule
    return {"status": "Success"}


def _emit_command(command: Command) -> None:
    core.emit(
        command.account_id,
        command.backend_region,
        "aws.ssm",
        "EC2 Command Status-change Notification",
        [f"arn:aws:ec2:{command.backend_region}:{command.account_id}:instance/{i}" for i in command.instance_ids],
        {
            "command-id": command.command_id,
            "document-name": command.document_name,
            "expire-after": core.iso(command.expires_after),
            "parameters": {"commands": command.parameters.get("commands", [])},
            "requested-date-time": core.iso(command.requested_date_time),
            "status": command.status,
        },
    )


def _emit_invocation(command: Command, invocation: dict[str, Any]) -> None:
    core.emit(
        command.account_id,
        command.backend_region,
        "aws.ssm",
        "EC2 Command Invocation Status-change Notification",
        [f"arn:aws:ec2:{command.backend_region}:{command.account_id}:instance/{invocation['InstanceId']}"],
        {
            "command-id": command.command_id,
            "document-name": command.document_name,
            "instance-id": invocation["InstanceId"],
            "requested-date-time": core.iso(command.requested_date_time),
            "status": invocation["Status"],
        },
    )


def _set_command_status(command: Command, status: str) -> None:
    if command.status != status:
        command.status = status
        command.status_details = status
        _emit_command(command)


def _set_invocation(command: Command, invocation: dict[str, Any], status: str, **fields: Any) -> None:
    invocation["Status"] = status
    invocation["StatusDetails"] = STATUS_DETAILS.get(status, status)
    invocation.update(fields)
    _emit_invocation(command, invocation)


def _aggregate(command: Command) -> None:
    statuses = [invocation["Status"] for invocation in command.invocations]
    if any(status in ("Pending", "InProgress") for status in statuses):
        _set_command_status(command, "InProgress")
        return
    command.completed_count = len(statuses)
    command.error_count = sum(1 for status in statuses if status != "Success")
    for final in ("Failed", "TimedOut", "Cancelled"):
        if final in statuses:
            _set_command_status(command, final)
            return
    _set_command_status(command, "Success")


# When each command's invocations become visible to GetCommandInvocation (core.SideTable).
VISIBLE_AT: core.SideTable[Command, float] = core.SideTable(float)


def start(command: Command) -> None:
    account = core.settings(command.account_id)
    command.status = "Pending"
    command.completed_count = 0
    # GetCommandInvocation often answers InvocationDoesNotExist right after SendCommand: the
    # invocation becomes visible a little later (GetCommandInvocation API reference, Errors).
    VISIBLE_AT.put(command, core.time.monotonic() + account.delay("ssm.invocation.visible"))
    _emit_command(command)
    for invocation in command.invocations:
        rule = outcome_for(command, invocation["InstanceId"])
        final = rule.get("status", "Success")
        _set_invocation(command, invocation, "Pending", ResponseCode=-1, StandardOutputContent="", StandardErrorContent="")

        def begin(invocation=invocation, rule=rule, final=final) -> None:
            if invocation["Status"] != "Pending":
                return
            _set_invocation(command, invocation, "InProgress", ExecutionStartDateTime=core.iso())
            _aggregate(command)
            seconds = rule.get("seconds", account.delay("ssm.command.in-progress"))
            core.SCHEDULER.after(seconds, lambda: finish(invocation, rule, final))

        def finish(invocation, rule, final) -> None:
            if invocation["Status"] != "InProgress":
                return
            _set_invocation(
                command,
                invocation,
                final,
                ResponseCode=int(rule.get("exitCode", DEFAULT_EXIT.get(final, 1))),
                StandardOutputContent=str(rule.get("stdout", ""))[:OUTPUT_LIMIT],
                StandardErrorContent=str(rule.get("stderr", ""))[:OUTPUT_LIMIT],
                ExecutionEndDateTime=core.iso(),
            )
            _aggregate(command)

        core.SCHEDULER.after(account.delay("ssm.command.pending"), begin)
    core.SCHEDULER.run_due()


def install() -> None:
    def instance_ids_from_targets(self):
        # moto turns an empty Targets list into an empty EC2 filter, which matches every
        # instance of the account: a command for one builder ran on the whole fleet.
        return [] if not self.targets else original_targets(self)

    original_targets = Command._get_instance_ids_from_targets
    Command._get_instance_ids_from_targets = instance_ids_from_targets

    original_init = Command.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        start(self)

    Command.__init__ = init

    def describe_instance_information(self):
        wanted: set[str] = set()
        for item in self._get_param("InstanceInformationFilterList", []) or []:
            if item.get("key") == "InstanceIds":
                wanted.update(item.get("valueSet", []))
        for item in self._get_param("Filters", []) or []:
            if item.get("Key") == "InstanceIds":
                wanted.update(item.get("Values", []))
        return ActionResult({"InstanceInformationList": agent_information(self.current_account, self.region, wanted)})

    SimpleSystemManagerResponse.describe_instance_information = describe_instance_information

    original_get_invocation = Command.get_invocation

    def get_invocation(self, instance_id, plugin_name):
        if core.time.monotonic() < (VISIBLE_AT.get(self) or 0.0):
            raise SSMException(
                "InvocationDoesNotExist",
                "An error occurred (InvocationDoesNotExist) when calling the GetCommandInvocation operation",
            )
        return original_get_invocation(self, instance_id, plugin_name)

    Command.get_invocation = get_invocation

    def list_command_invocations(self):
        # https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListCommandInvocations.html
        command_id = self._get_param("CommandId")
        instance_id = self._get_param("InstanceId")
        details = self._get_param("Details", False)
        commands = self.ssm_backend.list_commands(command_id, instance_id)
        listed = []
        for command in commands:
            for invocation in command.invocations:
                if instance_id and invocation["InstanceId"] != instance_id:
                    continue
                item = {
                    "CommandId": command.command_id,
                    "InstanceId": invocation["InstanceId"],
                    "Comment": command.comment,
                    "DocumentName": command.document_name,
                    "RequestedDateTime": command.requested_date_time,
                    "Status": invocation["Status"],
                    "StatusDetails": invocation["StatusDetails"],
                }
                if details:
                    item["CommandPlugins"] = [
                        {
                            "Name": invocation["PluginName"],
                            "Status": invocation["Status"],
                            "StatusDetails": invocation["StatusDetails"],
                            "ResponseCode": invocation["ResponseCode"],
                            "Output": invocation["StandardOutputContent"],
                        }
                    ]
                listed.append(item)
        return ActionResult({"CommandInvocations": listed})

    SimpleSystemManagerResponse.list_command_invocations = list_command_invocations


def agent_information(account_id: str, region: str, wanted: set[str]) -> list[dict[str, Any]]:
    """Instances with an instance profile run the SSM agent: Online once running for the agent delay."""
    backend = ec2_backends[account_id][region]
    agent_delay = core.settings(account_id).delay("ssm.agent.online")
    listed = []
    for instance in backend.all_instances():
        if wanted and instance.id not in wanted:
            continue
        if instance.id not in backend.iam_instance_profile_associations:
            continue
        extra = ec2.INSTANCES.get(instance)
        running_since = extra.running_since if extra else None
        if instance._state.name == "running" and running_since is not None:
            if core.time.monotonic() - running_since < agent_delay:
                continue
            ping = "Online"
        elif instance._state.name in ("stopping", "stopped"):
            ping = "ConnectionLost"
        else:
            continue
        listed.append(
            {
                "InstanceId": instance.id,
                "PingStatus": ping,
                "LastPingDateTime": core.utcnow(),
                "AgentVersion": "3.3.1142.0",
                "IsLatestVersion": True,
                "PlatformType": "Linux",
                "PlatformName": "Amazon Linux",
                "PlatformVersion": "2023",
                "ResourceType": "EC2Instance",
                "IPAddress": instance.private_ip,
                "ComputerName": instance.private_dns_name,
            }
        )
    return listed
