"""What every part of the Auto Scaling extension shares: its constants, errors and events."""

from __future__ import annotations

from typing import Any

from moto.autoscaling.exceptions import AutoscalingClientError
from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup

from .. import core

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
# States that count toward the group's desired capacity (pending instances do; AWS never
# launches a second instance for one still waiting on its hook).
COUNTED = ("Pending", "Pending:Wait", "Pending:Proceed", "InService")


class Fault(AutoscalingClientError):
    def __init__(self, code: str, message: str):
        super().__init__(code, message)


def validation(message: str) -> Fault:
    return Fault("ValidationError", message)


def backend_of(group: FakeAutoScalingGroup) -> AutoScalingBackend:
    return group.autoscaling_backend


def emit(group: FakeAutoScalingGroup, detail_type: str, detail: dict[str, Any]) -> None:
    core.emit(group.account_id, group.region, "aws.autoscaling", detail_type, [group.arn], detail)


def scaled(group: FakeAutoScalingGroup, seconds: float) -> float:
    return core.settings(group.account_id).scaled(seconds)
