"""Instance Refresh: batches, warm-up, checkpoints, bake time, alarms and rollback.

Follows https://docs.aws.amazon.com/autoscaling/ec2/userguide/instance-refresh-overview.html (batches by
MinHealthyPercentage / MaxHealthyPercentage, SkipMatching, warm-up, checkpoints, auto rollback), the
StartInstanceRefresh, DescribeInstanceRefreshes, CancelInstanceRefresh and RollbackInstanceRefresh API
reference pages, and its events:
https://docs.aws.amazon.com/autoscaling/ec2/userguide/instance-refresh-eventbridge-events.html . It
replaces instances through the group (``groups``), never on its own.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup, InstanceState
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult

from .. import core
from . import tables
from .common import COUNTED, Fault, backend_of, emit, scaled, validation
from .groups import begin_termination, converge, current_version_number, default_warmup, launched_version

ACTIVE_REFRESH = ("Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking")


@dataclass
class Refresh:
    id: str
    group: FakeAutoScalingGroup
    preferences: dict[str, Any]
    desired_configuration: dict[str, Any] | None
    target_version: int
    previous_version: int | None
    previous_launch_template: dict[str, Any]
    initial_ids: set[str]
    status: str = "Pending"
    status_reason: str = ""
    start_time: Any = field(default_factory=core.utcnow)
    end_time: Any = None
    total: int = 0
    replaced: int = 0
    batch_new: list[str] = field(default_factory=list)
    batch_old: list[str] = field(default_factory=list)
    checkpoints: list[int] = field(default_factory=list)
    checkpoint_until: float = 0.0
    rollback: dict[str, Any] | None = None
    bake_until: float | None = None
    blocked_since: float | None = None

    @property
    def percentage(self) -> int:
        if self.rollback is not None:
            # "PercentageComplete does not include instances that are replaced during a rollback.
            # This value gradually goes back down to zero during a rollback." (InstanceRefresh)
            start = self.rollback["PercentageCompleteOnRollback"]
            if self.status == "RollbackSuccessful":
                return 0
            if self.total == 0:
                return start
            return max(0, int(start * (1 - self.replaced / self.total)))
        if self.total == 0:
            return 100 if self.status == "Successful" else 0
        return min(100, int(100 * self.replaced / self.total))

    def describe(self) -> dict[str, Any]:
        remaining = max(0, self.total - self.replaced)
        described: dict[str, Any] = {
            "InstanceRefreshId": self.id,
            "AutoScalingGroupName": self.group.name,
            "Status": self.status,
            "StatusReason": self.status_reason,
            "StartTime": self.start_time,
            "PercentageComplete": self.percentage,
            "InstancesToUpdate": remaining,
            "ProgressDetails": {
                "LivePoolProgress": {"PercentageComplete": self.percentage, "InstancesToUpdate": remaining}
            },
            "Preferences": self.preferences,
            "Strategy": "Rolling",
        }
        if self.end_time:
            described["EndTime"] = self.end_time
        if self.desired_configuration:
            described["DesiredConfiguration"] = self.desired_configuration
        if self.rollback:
            described["RollbackDetails"] = self.rollback
        return described


# Every refresh, newest first, by (account, region, group name).
REFRESHES: dict[tuple[str, str, str], list[Refresh]] = {}


def refreshes_of(group: FakeAutoScalingGroup) -> list[Refresh]:
    return REFRESHES.setdefault((group.account_id, group.region, group.name), [])


def active_refresh(group: FakeAutoScalingGroup) -> Refresh | None:
    return next((refresh for refresh in refreshes_of(group) if refresh.status in ACTIVE_REFRESH), None)


def needs_replacement(refresh: Refresh, state: InstanceState) -> bool:
    if refresh.status == "RollbackInProgress":
        return launched_version(state) != refresh.previous_version
    if refresh.preferences.get("SkipMatching"):
        return launched_version(state) != refresh.target_version
    return state.instance.id in refresh.initial_ids


def finish_refresh(refresh: Refresh, status: str, reason: str) -> None:
    group = refresh.group
    refresh.status = status
    refresh.status_reason = reason
    refresh.end_time = core.utcnow()
    extra = tables.group_extra(group)
    extra.launch_version, extra.extra = None, 0
    detail = {"InstanceRefreshId": refresh.id, "AutoScalingGroupName": group.name}
    detail_type = {
        "Successful": "EC2 Auto Scaling Instance Refresh Succeeded",
        "Failed": "EC2 Auto Scaling Instance Refresh Failed",
        "Cancelled": "EC2 Auto Scaling Instance Refresh Cancelled",
        "RollbackSuccessful": "EC2 Auto Scaling Instance Refresh Rollback Succeeded",
        "RollbackFailed": "EC2 Auto Scaling Instance Refresh Rollback Failed",
    }[status]
    emit(group, detail_type, detail)


def start_rollback(refresh: Refresh, reason: str) -> None:
    group = refresh.group
    refresh.rollback = {
        "RollbackReason": reason,
        "RollbackStartTime": core.utcnow(),
        "PercentageCompleteOnRollback": refresh.percentage,
        "InstancesToUpdateOnRollback": max(0, refresh.total - refresh.replaced),
    }
    refresh.status = "RollbackInProgress"
    refresh.status_reason = reason
    refresh.batch_new, refresh.batch_old = [], []
    refresh.checkpoints, refresh.checkpoint_until = [], 0.0
    extra = tables.group_extra(group)
    extra.extra, extra.launch_version = 0, refresh.previous_version
    refresh.replaced = 0
    refresh.total = sum(
        1 for state in group.instance_states if state.lifecycle_state in COUNTED and needs_replacement(refresh, state)
    )
    emit(group, "EC2 Auto Scaling Instance Refresh Rollback Started", {"InstanceRefreshId": refresh.id, "AutoScalingGroupName": group.name})


def fail_refresh(refresh: Refresh, reason: str) -> None:
    if refresh.status == "RollbackInProgress":
        finish_refresh(refresh, "RollbackFailed", reason)
    elif refresh.preferences.get("AutoRollback") and refresh.previous_version is not None:
        start_rollback(refresh, reason)
    else:
        finish_refresh(refresh, "Failed", reason)


def alarm_in_alarm(refresh: Refresh) -> str | None:
    names = (refresh.preferences.get("AlarmSpecification") or {}).get("Alarms") or []
    if not names:
        return None
    from moto.cloudwatch.models import cloudwatch_backends

    alarms = cloudwatch_backends[refresh.group.account_id][refresh.group.region].alarms
    for name in names:
        alarm = alarms.get(name)
        if alarm is not None and alarm.state_value == "ALARM":
            return name
    return None


WAIT_LIMIT_SECONDS = 3600


def replaceable(refresh: Refresh) -> tuple[list[InstanceState], list[str]]:
    """The instances this batch may replace, and why others that need it must be waited for."""
    group = refresh.group
    prefs = refresh.preferences
    remaining: list[InstanceState] = []
    blocked: list[str] = []
    for state in group.instance_states:
        if not needs_replacement(refresh, state):
            continue
        if state.lifecycle_state == "Standby":
            if prefs.get("StandbyInstances") == "Terminate":
                begin_termination(group, state)
            elif prefs.get("StandbyInstances") == "Wait":
                blocked.append("in Standby")
        elif state.lifecycle_state in COUNTED:
            if state.protected_from_scale_in and prefs.get("ScaleInProtectedInstances") != "Refresh":
                if prefs.get("ScaleInProtectedInstances") == "Wait":
                    blocked.append("protected from scale in")
            else:
                remaining.append(state)
    return remaining, blocked


def step_refresh(refresh: Refresh) -> None:
    group = refresh.group
    if group.name not in backend_of(group).autoscaling_groups:
        finish_refresh(refresh, "Failed", "The Auto Scaling group was deleted.")
        return
    if refresh.status == "Pending":
        refresh.status = "InProgress"
        tables.group_extra(group).launch_version = refresh.target_version
        emit(group, "EC2 Auto Scaling Instance Refresh Started", {"InstanceRefreshId": refresh.id, "AutoScalingGroupName": group.name})
    if refresh.status == "Cancelling":
        finish_refresh(refresh, "Cancelled", "Instance refresh was cancelled.")
        return
    if time.monotonic() < refresh.checkpoint_until:
        return
    if refresh.status == "Baking":
        # "Baking - Waiting the specified bake time after an instance refresh has finished updating
        # instances" (InstanceRefresh.Status); its alarms still fail (and roll back) the refresh.
        alarm = alarm_in_alarm(refresh)
        if alarm:
            refresh.status = "InProgress"
            fail_refresh(refresh, f"The alarm {alarm} is in ALARM state.")
        elif time.monotonic() >= (refresh.bake_until or 0.0):
            finish_refresh(refresh, "Successful", "")
        return
    # Alarms guard the forward refresh; a rollback is not stopped by the alarm that caused it.
    alarm = alarm_in_alarm(refresh) if refresh.status == "InProgress" else None
    if alarm:
        fail_refresh(refresh, f"The alarm {alarm} is in ALARM state.")
        return

    states = {state.instance.id: state for state in group.instance_states}
    if refresh.batch_new:
        for instance_id in refresh.batch_new:
            state = states.get(instance_id)
            if state is None or tables.member_extra(state).abandoned:
                fail_refresh(refresh, f"Instance {instance_id} failed to launch: its lifecycle action was abandoned.")
                return
        if any(states[instance_id].lifecycle_state != "InService" for instance_id in refresh.batch_new):
            return
        warmup = scaled(group, refresh.preferences["InstanceWarmup"])
        if any(time.monotonic() - tables.member_extra(states[i]).in_service_at < warmup for i in refresh.batch_new):
            return
        for old_id in refresh.batch_old:
            if old_id in states and states[old_id].lifecycle_state in COUNTED:
                begin_termination(group, states[old_id])
        tables.group_extra(group).extra = 0
        refresh.replaced += len(refresh.batch_new)
        refresh.batch_new, refresh.batch_old = [], []
        if refresh.checkpoints and refresh.percentage >= refresh.checkpoints[0]:
            reached = refresh.checkpoints.pop(0)
            if not refresh.checkpoints and reached < 100:
                # "To replace all instances ... the last number in the array must be 100": a last
                # checkpoint below 100 ends the refresh there, Successful, with the rest untouched
                # (https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-adding-checkpoints-instance-refresh.html).
                if refresh.desired_configuration:
                    group._set_launch_configuration(None, refresh.desired_configuration["LaunchTemplate"], group.mixed_instances_policy)
                finish_refresh(refresh, "Successful", f"The instance refresh ended at its last checkpoint, {reached}%.")
                return
            delay = refresh.preferences.get("CheckpointDelay", 3600)
            refresh.checkpoint_until = time.monotonic() + scaled(group, delay)
            refresh.status_reason = f"Waiting for checkpoint {reached}% ({delay} s)."
            emit(
                group,
                "EC2 Auto Scaling Instance Refresh Checkpoint Reached",
                {
                    "InstanceRefreshId": refresh.id,
                    "AutoScalingGroupName": group.name,
                    "CheckpointPercentage": str(reached),
                    "CheckpointDelay": str(delay),
                },
            )
        return

    if any(state.lifecycle_state.startswith("Terminating") for state in group.instance_states):
        return  # wait for the previous batch's old instances to go
    remaining, blocked = replaceable(refresh)
    if not remaining and blocked:
        # "Wait": the refresh waits for protected or Standby instances, up to an hour, then fails
        # (RefreshPreferences ScaleInProtectedInstances / StandbyInstances; instance refresh
        # user guide, "Instances that are protected from scale in" and "Standby").
        refresh.blocked_since = refresh.blocked_since or time.monotonic()
        refresh.status_reason = f"Waiting for {len(blocked)} instance(s) {' and '.join(sorted(set(blocked)))}."
        if time.monotonic() - refresh.blocked_since > scaled(group, WAIT_LIMIT_SECONDS):
            fail_refresh(refresh, f"Timed out after {WAIT_LIMIT_SECONDS} s {refresh.status_reason[:-1].lower()}.")
        return
    refresh.blocked_since = None
    if not remaining:
        if refresh.status == "RollbackInProgress":
            group._set_launch_configuration(None, refresh.previous_launch_template, group.mixed_instances_policy)
            finish_refresh(refresh, "RollbackSuccessful", refresh.status_reason)
        else:
            if refresh.desired_configuration:
                spec = refresh.desired_configuration["LaunchTemplate"]
                group._set_launch_configuration(None, spec, group.mixed_instances_policy)
            bake = int(refresh.preferences.get("BakeTime") or 0)
            if bake > 0:
                refresh.status = "Baking"
                refresh.status_reason = f"Waiting the bake time ({bake} s)."
                refresh.bake_until = time.monotonic() + scaled(group, bake)
                return
            finish_refresh(refresh, "Successful", "")
        return

    capacity = max(1, group.desired_capacity or 0)
    min_healthy = refresh.preferences["MinHealthyPercentage"]
    max_healthy = refresh.preferences.get("MaxHealthyPercentage", 100)
    before = set(states)
    if max_healthy > 100:
        # Launch before terminate: add up to (max - 100)% of capacity, then remove as many old ones.
        size = min(len(remaining), max(1, math.floor(capacity * (max_healthy - 100) / 100)))
        refresh.batch_old = [state.instance.id for state in remaining[:size]]
        tables.group_extra(group).extra = size
        converge(group)
    else:
        # Terminate then launch: keep at least MinHealthyPercentage of capacity in service.
        size = min(len(remaining), max(1, capacity - math.ceil(capacity * min_healthy / 100)))
        for state in remaining[:size]:
            begin_termination(group, state)
        converge(group)
    refresh.batch_new = [state.instance.id for state in group.instance_states if state.instance.id not in before]
    failure = tables.group_extra(group).launch_failure
    if not refresh.batch_new and failure:
        fail_refresh(refresh, f"An instance failed to launch: {failure}")
        return
    if not refresh.batch_new:
        refresh.replaced += size  # nothing to launch (scaled in meanwhile)


def resolve_template_version(group: FakeAutoScalingGroup, spec: dict[str, Any]) -> tuple[Any, int]:
    backend = group.ec2_backend
    if spec.get("LaunchTemplateId"):
        template = backend.get_launch_template(spec["LaunchTemplateId"])
    elif spec.get("LaunchTemplateName"):
        template = backend.get_launch_template_by_name(spec["LaunchTemplateName"])
    else:
        raise validation("Valid requests must contain either LaunchTemplateId or LaunchTemplateName")
    version = template.get_version(spec.get("Version") or "$Default")
    return template, int(version.number)


def group_uses_alias(group: FakeAutoScalingGroup, spec: dict[str, Any] | None = None) -> bool:
    version = (spec or {}).get("Version") if spec else (group.provided_launch_template_version or "$Default")
    return version in (None, "$Latest", "$Default")


def start_instance_refresh(backend: AutoScalingBackend, group_name: str, desired: dict[str, Any] | None, preferences: dict[str, Any]) -> Refresh:
    group = backend.autoscaling_groups.get(group_name)
    if group is None:
        raise validation(f"AutoScalingGroup name not found - AutoScalingGroup {group_name} not found")
    if active_refresh(group):
        raise Fault(
            "InstanceRefreshInProgressFault",
            "An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.",
        )
    if not group.ec2_launch_template:
        raise validation("Instance refresh in this emulator needs a group that uses a launch template.")
    prefs = dict(preferences or {})
    prefs.setdefault("MinHealthyPercentage", 90)
    prefs.setdefault("MaxHealthyPercentage", 100)
    # RefreshPreferences.InstanceWarmup: "the default is to use the value for the default instance
    # warmup defined for the group or, if not defined, the health check grace period" (API default 0).
    prefs.setdefault("InstanceWarmup", default_warmup(group))
    prefs.setdefault("SkipMatching", False)
    prefs.setdefault("AutoRollback", False)
    # RefreshPreferences: both default to Wait (the refresh waits for such instances, then fails).
    prefs.setdefault("ScaleInProtectedInstances", "Wait")
    prefs.setdefault("StandbyInstances", "Wait")
    if prefs["ScaleInProtectedInstances"] not in ("Refresh", "Ignore", "Wait"):
        raise validation("ScaleInProtectedInstances must be Refresh, Ignore or Wait.")
    if prefs["StandbyInstances"] not in ("Terminate", "Ignore", "Wait"):
        raise validation("StandbyInstances must be Terminate, Ignore or Wait.")
    minimum, maximum = prefs["MinHealthyPercentage"], prefs["MaxHealthyPercentage"]
    if not 0 <= minimum <= 100:
        raise validation("MinHealthyPercentage must be between 0 and 100.")
    if not 100 <= maximum <= 200 or maximum - minimum > 100:
        raise validation("MaxHealthyPercentage must be between 100 and 200, and at most 100 above MinHealthyPercentage.")
    checkpoints = [int(value) for value in prefs.get("CheckpointPercentages") or []]
    if checkpoints and (checkpoints != sorted(set(checkpoints)) or not all(1 <= value <= 100 for value in checkpoints)):
        raise validation("CheckpointPercentages must be increasing values from 1 to 100.")
    # RefreshPreferences.CheckpointDelay: "if you specify a value for it, you must also specify a
    # value for CheckpointPercentages" (API reference, RefreshPreferences).
    if prefs.get("CheckpointDelay") is not None and not checkpoints:
        raise validation("CheckpointDelay requires CheckpointPercentages.")

    previous_template = {
        "LaunchTemplateId": group.ec2_launch_template.id,
        "Version": group.provided_launch_template_version or "$Default",
    }
    # "The rollback option is not available if the Auto Scaling group is configured to use the
    # $Latest or $Default launch template version" (instance-refresh-rollback.html).
    if prefs["AutoRollback"] and group_uses_alias(group):
        raise validation("AutoRollback is not supported: the Auto Scaling group uses the launch template's $Latest or $Default version.")
    if desired and desired.get("LaunchTemplate"):
        spec = desired["LaunchTemplate"]
        if prefs["AutoRollback"] and spec.get("Version") in (None, "$Latest", "$Default"):
            raise validation("AutoRollback requires an explicit launch template version in DesiredConfiguration, not $Latest or $Default.")
        _, target = resolve_template_version(group, spec)
        previous = current_version_number(group)
    else:
        if prefs["AutoRollback"]:
            raise validation("AutoRollback requires a DesiredConfiguration.")
        target = current_version_number(group)
        previous = None
    refresh = Refresh(
        id=str(uuid.uuid4()),
        group=group,
        preferences=prefs,
        desired_configuration=desired or None,
        target_version=target,
        previous_version=previous,
        previous_launch_template=previous_template,
        initial_ids={state.instance.id for state in group.instance_states if state.lifecycle_state in COUNTED},
        checkpoints=checkpoints,
    )
    refresh.total = sum(
        1 for state in group.instance_states if state.lifecycle_state in COUNTED and needs_replacement(refresh, state)
    )
    refreshes_of(group).insert(0, refresh)
    return refresh


# --- install ------------------------------------------------------------------------------


# --- the API -------------------------------------------------------------------------------


def start_instance_refresh_response(self) -> ActionResult:
    refresh = start_instance_refresh(
        self.autoscaling_backend,
        self._get_param("AutoScalingGroupName"),
        self._get_param("DesiredConfiguration"),
        self._get_param("Preferences") or {},
    )
    return ActionResult({"InstanceRefreshId": refresh.id})



def describe_instance_refreshes(self):
    group = self.autoscaling_backend.autoscaling_groups.get(self._get_param("AutoScalingGroupName"))
    refreshes = refreshes_of(group) if group else []
    wanted = self._get_param("InstanceRefreshIds") or []
    if wanted:
        refreshes = [refresh for refresh in refreshes if refresh.id in wanted]
    limit = self._get_int_param("MaxRecords") or 50
    start = int(self._get_param("NextToken") or 0)
    page = refreshes[start : start + limit]
    result: dict[str, Any] = {"InstanceRefreshes": [refresh.describe() for refresh in page]}
    if start + limit < len(refreshes):
        result["NextToken"] = str(start + limit)
    return ActionResult(result)



def cancel_instance_refresh(self):
    group = self.autoscaling_backend.autoscaling_groups.get(self._get_param("AutoScalingGroupName"))
    refresh = active_refresh(group) if group else None
    if refresh is None or refresh.status == "Cancelling":
        raise Fault(
            "ActiveInstanceRefreshNotFoundFault",
            "No in progress or pending Instance Refresh found for Auto Scaling group "
            f"{self._get_param('AutoScalingGroupName')}",
        )
    refresh.status = "Cancelling"
    return ActionResult({"InstanceRefreshId": refresh.id})



def rollback_instance_refresh(self):
    group = self.autoscaling_backend.autoscaling_groups.get(self._get_param("AutoScalingGroupName"))
    refresh = active_refresh(group) if group else None
    if refresh is None or refresh.status not in ("Pending", "InProgress"):
        raise Fault(
            "ActiveInstanceRefreshNotFoundFault",
            "No in progress or pending Instance Refresh found for Auto Scaling group "
            f"{self._get_param('AutoScalingGroupName')}",
        )
    if refresh.previous_version is None or group_uses_alias(group, refresh.previous_launch_template):
        raise Fault(
            "IrreversibleInstanceRefreshFault",
            "The instance refresh has no desired configuration, or the group uses $Latest or $Default.",
        )
    start_rollback(refresh, "Rollback requested by the user.")
    return ActionResult({"InstanceRefreshId": refresh.id})


# CreateAutoScalingGroup: HealthCheckGracePeriod "Default: 0 seconds" (moto uses 300), and
# DefaultInstanceWarmup, which moto drops; both set a refresh's default warm-up.
original_create_group = AutoScalingResponse.create_auto_scaling_group
original_update_group = AutoScalingResponse.update_auto_scaling_group


def install() -> None:
    AutoScalingResponse.start_instance_refresh = start_instance_refresh_response
    AutoScalingResponse.describe_instance_refreshes = describe_instance_refreshes
    AutoScalingResponse.cancel_instance_refresh = cancel_instance_refresh
    AutoScalingResponse.rollback_instance_refresh = rollback_instance_refresh


def reset() -> None:
    REFRESHES.clear()
