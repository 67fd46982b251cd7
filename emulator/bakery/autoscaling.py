"""Auto Scaling: lifecycle hooks that work, and Instance Refresh.

Lifecycle hooks follow https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks.html
(wait states, heartbeat and global timeouts, default result) and the notification format of
https://docs.aws.amazon.com/autoscaling/ec2/userguide/prepare-for-lifecycle-notifications.html ;
CompleteLifecycleAction and RecordLifecycleActionHeartbeat follow their API reference pages.
Instance Refresh follows https://docs.aws.amazon.com/autoscaling/ec2/userguide/instance-refresh-overview.html
(batches by MinHealthyPercentage / MaxHealthyPercentage, SkipMatching, warm-up, checkpoints,
auto rollback) and the StartInstanceRefresh, DescribeInstanceRefreshes, CancelInstanceRefresh
and RollbackInstanceRefresh API reference pages; its events follow
https://docs.aws.amazon.com/autoscaling/ec2/userguide/instance-refresh-eventbridge-events.html .
"""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from moto.autoscaling.exceptions import AutoscalingClientError
from moto.autoscaling.models import (
    ASG_NAME_TAG,
    AutoScalingBackend,
    FakeAutoScalingGroup,
    InstanceState,
    LifecycleHook,
    autoscaling_backends,
)
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult, EmptyResult

from . import core, iam

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
# States that count toward the group's desired capacity (pending instances do; AWS never
# launches a second instance for one still waiting on its hook).
COUNTED = ("Pending", "Pending:Wait", "Pending:Proceed", "InService")
ACTIVE_REFRESH = ("Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking")


class Fault(AutoscalingClientError):
    def __init__(self, code: str, message: str):
        super().__init__(code, message)


def validation(message: str) -> Fault:
    return Fault("ValidationError", message)


def backend_of(group: FakeAutoScalingGroup) -> AutoScalingBackend:
    return group.autoscaling_backend


def group_arn(group: FakeAutoScalingGroup) -> str:
    return group.arn


def emit(group: FakeAutoScalingGroup, detail_type: str, detail: dict[str, Any]) -> None:
    core.emit(group.account_id, group.region, "aws.autoscaling", detail_type, [group_arn(group)], detail)


def scaled(group: FakeAutoScalingGroup, seconds: float) -> float:
    return core.settings(group.account_id).scaled(seconds)


# --- lifecycle hooks ----------------------------------------------------------------------


@dataclass
class Action:
    token: str
    group: FakeAutoScalingGroup
    hook: LifecycleHook
    state: InstanceState
    transition: str
    deadline: float
    global_deadline: float
    result: str | None = None


ACTIONS: dict[str, Action] = {}


def hooks_for(group: FakeAutoScalingGroup, transition: str) -> list[LifecycleHook]:
    return [
        hook
        for hook in backend_of(group).lifecycle_hooks.values()
        if hook.auto_scaling_group_name == group.name and hook.lifecycle_transition == transition
    ]


def publish_denied(group: FakeAutoScalingGroup, target_arn: str, role_arn: str | None) -> str | None:
    """Why Auto Scaling could not publish to `target_arn` with the hook's role, or None.

    https://docs.aws.amazon.com/autoscaling/ec2/userguide/prepare-for-lifecycle-notifications.html :
    the role must allow sns:Publish (a topic) or sqs:SendMessage and sqs:GetQueueUrl (a queue).
    """
    if not role_arn:
        return "a lifecycle hook with a notification target needs a RoleARN"
    if ":sqs:" in target_arn:
        requests = [iam.Request(action, target_arn) for action in ("sqs:SendMessage", "sqs:GetQueueUrl")]
    else:
        requests = [iam.Request("sns:Publish", target_arn)]
    return iam.role_may(role_arn, group.account_id, requests)


def notify_target(
    group: FakeAutoScalingGroup, target_arn: str | None, message: dict[str, Any], subject: str, role_arn: str | None = None
) -> None:
    """Sends a hook notification to its SNS topic or SQS queue, as Auto Scaling does (with the hook's role)."""
    if not target_arn:
        return
    if publish_denied(group, target_arn, role_arn):
        return  # AWS cannot deliver it either; the action waits out its heartbeat timeout
    parts = target_arn.split(":")
    service, region, account, name = parts[2], parts[3], parts[4], parts[5]
    body = json.dumps(message)
    if service == "sns":
        from moto.sns.models import sns_backends

        sns_backends[account][region].publish(body, arn=target_arn, subject=subject)
    elif service == "sqs":
        from moto.sqs.models import sqs_backends

        sqs_backends[account][region].send_message(name, body)


def start_actions(group: FakeAutoScalingGroup, state: InstanceState, transition: str) -> bool:
    """Puts the instance in its wait state, one action per hook; False when there is no hook."""
    hooks = hooks_for(group, transition)
    if not hooks:
        return False
    launching = transition == LAUNCHING
    state.lifecycle_state = "Pending:Wait" if launching else "Terminating:Wait"
    now = time.monotonic()
    for hook in hooks:
        token = str(uuid.uuid4())
        global_timeout = min(100 * hook.heartbeat_timeout, 172800)
        ACTIONS[token] = Action(
            token=token,
            group=group,
            hook=hook,
            state=state,
            transition=transition,
            deadline=now + scaled(group, hook.heartbeat_timeout),
            global_deadline=now + scaled(group, global_timeout),
        )
        detail = {
            "Origin": "EC2" if launching else "AutoScalingGroup",
            "Destination": "AutoScalingGroup" if launching else "EC2",
            "LifecycleHookName": hook.name,
            "AccountId": group.account_id,
            "RequestId": str(uuid.uuid4()),
            "LifecycleTransition": transition,
            "AutoScalingGroupName": group.name,
            "Service": "AWS Auto Scaling",
            "Time": core.iso(),
            "EC2InstanceId": state.instance.id,
            "LifecycleActionToken": token,
        }
        if getattr(hook, "notification_metadata", None):
            detail["NotificationMetadata"] = hook.notification_metadata
        word = "LAUNCHING" if launching else "TERMINATING"
        notify_target(
            group,
            getattr(hook, "notification_target_arn", None),
            detail,
            f"Auto Scaling:  Lifecycle action '{word}' for instance {state.instance.id} in progress.",
            getattr(hook, "role_arn", None),
        )
        emit(
            group,
            "EC2 Instance-launch Lifecycle Action" if launching else "EC2 Instance-terminate Lifecycle Action",
            {key: detail[key] for key in detail if key not in ("AccountId", "RequestId", "Service", "Time")},
        )
    return True


def actions_of(state: InstanceState) -> list[Action]:
    return [action for action in ACTIONS.values() if action.state is state]


def resolve(state: InstanceState) -> None:
    """Moves an instance on once every hook of its transition has a result."""
    actions = actions_of(state)
    if not actions or any(action.result is None for action in actions):
        return
    group = actions[0].group
    transition = actions[0].transition
    abandoned = any(action.result == "ABANDON" for action in actions)
    for action in actions:
        ACTIONS.pop(action.token, None)
    if transition == LAUNCHING:
        if abandoned:
            # "If the instance is launching, ABANDON indicates that you do not want to keep the
            # instance; Amazon EC2 Auto Scaling terminates it" and then replaces it.
            state._bakery_abandoned = True
            finish_termination(group, state)
            converge(group)
        else:
            state.lifecycle_state = "Pending:Proceed"
            promote_ready(group)
    else:
        finish_termination(group, state)


def find_action(group_name: str, hook_name: str, token: str | None, instance_id: str | None) -> Action:
    for action in ACTIONS.values():
        if action.group.name != group_name or action.hook.name != hook_name or action.result is not None:
            continue
        if token and action.token == token:
            return action
        if not token and instance_id and action.state.instance.id == instance_id:
            return action
    if token:
        raise validation(f"No active Lifecycle Action found with token {token}")
    raise validation(f"No active Lifecycle Action found with instance ID {instance_id}")


def expire_actions() -> None:
    now = time.monotonic()
    for action in list(ACTIONS.values()):
        if action.result is None and now >= min(action.deadline, action.global_deadline):
            action.result = action.hook.default_result
            resolve(action.state)


# --- group convergence ----------------------------------------------------------------------


def launch(group: FakeAutoScalingGroup, count: int, version_number: int | None = None) -> list[InstanceState]:
    """Launches `count` instances from the group's template (or the given version), spread over its subnets."""
    template = group.ec2_launch_template
    version = template.get_version(str(version_number) if version_number else group.launch_template_version)
    subnets = [subnet for subnet in (group.vpc_zone_identifier or "").split(",") if subnet]
    tags = group.get_propagated_tags()
    tags[ASG_NAME_TAG] = group.name
    tags.update(version.instance_tags)
    launched = []
    for _ in range(count):
        subnet_id = None
        zone = None
        if subnets:
            used = {subnet: 0 for subnet in subnets}
            for state in group.instance_states:
                subnet = getattr(state.instance, "subnet_id", None)
                if subnet in used:
                    used[subnet] += 1
            subnet_id = min(subnets, key=lambda subnet: used[subnet])
            zone = group.ec2_backend.get_subnet(subnet_id).availability_zone
        else:
            zone = group.availability_zones[len(group.instance_states) % len(group.availability_zones)]
        reservation = group.ec2_backend.run_instances(
            version.image_id,
            1,
            version.user_data,
            version.security_groups,
            instance_type=version.instance_type,
            tags={"instance": dict(tags)},
            placement=zone,
            launch_template={"LaunchTemplateId": template.id, "Version": str(version.number)},
            is_instance_type_default=False,
            subnet_id=subnet_id,
        )
        instance = reservation.instances[0]
        instance.autoscaling_group = group
        instance._bakery_template = (template.id, template.name, int(version.number))
        state = InstanceState(instance, lifecycle_state="Pending", protected_from_scale_in=group.new_instances_protected_from_scale_in)
        group.instance_states.append(state)
        launched.append(state)
        start_actions(group, state, LAUNCHING)
    return launched


def launched_version(state: InstanceState) -> int | None:
    template = getattr(state.instance, "_bakery_template", None)
    return template[2] if template else None


def finish_termination(group: FakeAutoScalingGroup, state: InstanceState) -> None:
    state.lifecycle_state = "Terminating:Proceed"
    group.ec2_backend.terminate_instances([state.instance.id])
    if state in group.instance_states:
        group.instance_states.remove(state)
    state.lifecycle_state = "Terminated"
    refresh_target_groups(group)


def begin_termination(group: FakeAutoScalingGroup, state: InstanceState) -> None:
    if state.lifecycle_state.startswith("Terminating"):
        return
    for action in actions_of(state):  # a launch still waiting is cut short
        ACTIONS.pop(action.token, None)
    state.lifecycle_state = "Terminating"
    refresh_target_groups(group)  # deregistered before the terminate hooks run
    if not start_actions(group, state, TERMINATING):
        finish_termination(group, state)


def choose_victims(group: FakeAutoScalingGroup, counted: list[InstanceState], count: int) -> list[InstanceState]:
    """Default termination policy, simplified: pending first, then other configurations, then oldest."""
    current = current_version_number(group)
    candidates = [state for state in counted if not state.protected_from_scale_in]
    order = {id(state): index for index, state in enumerate(group.instance_states)}
    candidates.sort(
        key=lambda state: (
            0 if state.lifecycle_state != "InService" else 1,
            0 if launched_version(state) != current else 1,
            order[id(state)],
        )
    )
    return candidates[:count]


def current_version_number(group: FakeAutoScalingGroup) -> int | None:
    if not group.ec2_launch_template:
        return None
    return int(group.ec2_launch_template.get_version(group.launch_template_version).number)


def refresh_target_groups(group: FakeAutoScalingGroup) -> None:
    backend = backend_of(group)
    if group.name in backend.autoscaling_groups:
        backend.update_attached_elbs(group.name)
        backend.update_attached_target_groups(group.name)


def promote_ready(group: FakeAutoScalingGroup) -> None:
    """Pending (no hook, or hooks completed) becomes InService once EC2 reports the instance running."""
    changed = False
    for state in group.instance_states:
        if state.lifecycle_state in ("Pending", "Pending:Proceed") and not actions_of(state):
            if state.instance._state.name == "running":
                state.lifecycle_state = "InService"
                state.instance._bakery_in_service_at = time.monotonic()
                changed = True
    if changed:
        refresh_target_groups(group)


def converge(group: FakeAutoScalingGroup) -> None:
    if not group.ec2_launch_template or getattr(group, "_bakery_converging", False):
        return  # launch-configuration groups keep moto's own behaviour
    group._bakery_converging = True
    try:
        target = (group.desired_capacity or 0) + getattr(group, "_bakery_extra", 0)
        counted = [state for state in group.instance_states if state.lifecycle_state in COUNTED]
        delta = target - len(counted)
        if delta > 0:
            launch(group, delta, getattr(group, "_bakery_launch_version", None))
        elif delta < 0:
            for victim in choose_victims(group, counted, -delta):
                begin_termination(group, victim)
        promote_ready(group)
    finally:
        group._bakery_converging = False


# --- instance refresh ---------------------------------------------------------------------


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
    group._bakery_launch_version = None
    group._bakery_extra = 0
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
    group._bakery_extra = 0
    group._bakery_launch_version = refresh.previous_version
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
        group._bakery_launch_version = refresh.target_version
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
            if state is None or getattr(state, "_bakery_abandoned", False):
                fail_refresh(refresh, f"Instance {instance_id} failed to launch: its lifecycle action was abandoned.")
                return
        if any(states[instance_id].lifecycle_state != "InService" for instance_id in refresh.batch_new):
            return
        warmup = scaled(group, refresh.preferences["InstanceWarmup"])
        if any(time.monotonic() - states[i].instance._bakery_in_service_at < warmup for i in refresh.batch_new):
            return
        for old_id in refresh.batch_old:
            if old_id in states and states[old_id].lifecycle_state in COUNTED:
                begin_termination(group, states[old_id])
        group._bakery_extra = 0
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
        group._bakery_extra = size
        converge(group)
    else:
        # Terminate then launch: keep at least MinHealthyPercentage of capacity in service.
        size = min(len(remaining), max(1, capacity - math.ceil(capacity * min_healthy / 100)))
        for state in remaining[:size]:
            begin_termination(group, state)
        converge(group)
    refresh.batch_new = [state.instance.id for state in group.instance_states if state.instance.id not in before]
    if not refresh.batch_new:
        refresh.replaced += size  # nothing to launch (scaled in meanwhile)


def step_all() -> None:
    expire_actions()
    for account_id, regions in list(autoscaling_backends.items()):
        for region, backend in list(regions.items()):
            for group in list(backend.autoscaling_groups.values()):
                if not group.ec2_launch_template:
                    continue
                promote_ready(group)
                converge(group)
                refresh = active_refresh(group)
                if refresh:
                    step_refresh(refresh)


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


def default_warmup(group: FakeAutoScalingGroup) -> int:
    warmup = getattr(group, "_bakery_default_instance_warmup", None)
    if warmup is not None:
        return int(warmup)
    return int(getattr(group, "_bakery_grace_period", group.health_check_grace_period) or 0)


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


def install() -> None:
    original_set_desired = FakeAutoScalingGroup.set_desired_capacity

    def set_desired_capacity(self, new_capacity):
        if not self.ec2_launch_template:
            return original_set_desired(self, new_capacity)
        self.desired_capacity = self.min_size if new_capacity is None else new_capacity
        converge(self)
        refresh_target_groups(self)

    FakeAutoScalingGroup.set_desired_capacity = set_desired_capacity

    def active_instances(self):
        return [state for state in self.instance_states if state.lifecycle_state == "InService"]

    FakeAutoScalingGroup.active_instances = active_instances

    def launch_template(self):
        # Instances report the template version they were launched from, not the group's default.
        template = getattr(self.instance, "_bakery_template", None)
        if template is None:
            return None
        return {"LaunchTemplateId": template[0], "LaunchTemplateName": template[1], "Version": str(template[2])}

    InstanceState.launch_template = property(launch_template)

    original_update_target_groups = AutoScalingBackend.update_attached_target_groups

    def update_attached_target_groups(self, group_name):
        # Auto Scaling registers an instance with its target groups when it enters InService
        # (after launch hooks) and deregisters it before termination (before terminate hooks):
        # https://docs.aws.amazon.com/autoscaling/ec2/userguide/attach-load-balancer-asg.html
        group = self.autoscaling_groups[group_name]
        if not group.ec2_launch_template:
            return original_update_target_groups(self, group_name)
        if not group.target_group_arns:
            return
        in_service = {state.instance.id for state in group.active_instances()}
        for target_group in self.elbv2_backend.describe_target_groups(
            target_group_arns=group.target_group_arns, load_balancer_arn=None, names=None
        ):
            registered = set(target_group.targets)
            owned = {
                instance_id
                for instance_id in registered
                if getattr(group.ec2_backend.get_instance(instance_id), "autoscaling_group", None) is group
            }
            if in_service - registered:
                self.elbv2_backend.register_targets(
                    target_group.arn, [{"Id": i, "Port": target_group.port} for i in sorted(in_service - registered)]
                )
            if owned - in_service:
                self.elbv2_backend.deregister_targets(target_group.arn, [{"Id": i} for i in sorted(owned - in_service)])

    AutoScalingBackend.update_attached_target_groups = update_attached_target_groups

    original_terminate = AutoScalingBackend.terminate_instance

    def terminate_instance(self, instance_id, should_decrement):
        state = next(
            (s for group in self.autoscaling_groups.values() for s in group.instance_states if s.instance.id == instance_id),
            None,
        )
        if state is None or not state.auto_scaling_group.ec2_launch_template:
            return original_terminate(self, instance_id, should_decrement)
        group = state.auto_scaling_group
        from moto.autoscaling.models import TerminateInstanceActivity

        activity = TerminateInstanceActivity(state.instance, group.desired_capacity)
        if should_decrement:
            group.desired_capacity = max(0, (group.desired_capacity or 0) - 1)
        begin_termination(group, state)
        converge(group)
        return activity

    AutoScalingBackend.terminate_instance = terminate_instance

    def put_lifecycle_hook(self):
        # https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutLifecycleHook.html
        group_name = self._get_param("AutoScalingGroupName")
        name = self._get_param("LifecycleHookName")
        backend = self.autoscaling_backend
        group = backend.autoscaling_groups.get(group_name)
        if group is None:
            raise validation(f"Auto Scaling group {group_name} not found.")
        key = f"{group_name}_{name}"
        existing = backend.lifecycle_hooks.get(key)
        transition = self._get_param("LifecycleTransition") or (existing and existing.lifecycle_transition)
        if transition not in (LAUNCHING, TERMINATING):
            raise validation(f"Invalid lifecycle transition: {transition}")
        timeout = self._get_int_param("HeartbeatTimeout") or (existing.heartbeat_timeout if existing else 3600)
        if not 30 <= timeout <= 7200:
            raise validation("HeartbeatTimeout must be between 30 and 7200 seconds.")
        result = self._get_param("DefaultResult") or (existing.default_result if existing else "ABANDON")
        if result not in ("CONTINUE", "ABANDON"):
            raise validation(f"Invalid default result: {result}")
        hook = LifecycleHook(name, group_name, transition, timeout, result)
        hook.notification_target_arn = self._get_param("NotificationTargetARN") or (existing.notification_target_arn if existing else None)
        hook.role_arn = self._get_param("RoleARN") or (existing.role_arn if existing else None)
        hook.notification_metadata = self._get_param("NotificationMetadata") or (getattr(existing, "notification_metadata", None) if existing else None)
        hook.global_timeout = min(100 * timeout, 172800)
        if hook.notification_target_arn:
            # AWS sends a test notification before it saves the hook, and refuses the hook when
            # the role cannot publish it (or when a new hook with a target has no role).
            refused = publish_denied(group, hook.notification_target_arn, hook.role_arn)
            if refused:
                raise validation(
                    f"Unable to publish test message to notification target {hook.notification_target_arn} "
                    f"using IAM role {hook.role_arn}. Please check your target and role configuration and try "
                    f"to save your lifecycle hook again. ({refused})"
                )
        backend.lifecycle_hooks[key] = hook
        if hook.notification_target_arn:
            notify_target(
                group,
                hook.notification_target_arn,
                {
                    "AccountId": group.account_id,
                    "RequestId": str(uuid.uuid4()),
                    "AutoScalingGroupARN": group.arn,
                    "AutoScalingGroupName": group.name,
                    "Service": "AWS Auto Scaling",
                    "Event": "autoscaling:TEST_NOTIFICATION",
                    "Time": core.iso(),
                },
                f"Auto Scaling: test notification for group \"{group.name}\"",
                hook.role_arn,
            )
        return EmptyResult()

    AutoScalingResponse.put_lifecycle_hook = put_lifecycle_hook

    def complete_lifecycle_action(self):
        # https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CompleteLifecycleAction.html
        result = self._get_param("LifecycleActionResult")
        if result not in ("CONTINUE", "ABANDON"):
            raise validation("LifecycleActionResult must be CONTINUE or ABANDON.")
        action = find_action(
            self._get_param("AutoScalingGroupName"),
            self._get_param("LifecycleHookName"),
            self._get_param("LifecycleActionToken"),
            self._get_param("InstanceId"),
        )
        action.result = result
        resolve(action.state)
        return EmptyResult()

    AutoScalingResponse.complete_lifecycle_action = complete_lifecycle_action

    def record_lifecycle_action_heartbeat(self):
        # https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RecordLifecycleActionHeartbeat.html
        action = find_action(
            self._get_param("AutoScalingGroupName"),
            self._get_param("LifecycleHookName"),
            self._get_param("LifecycleActionToken"),
            self._get_param("InstanceId"),
        )
        action.deadline = time.monotonic() + scaled(action.group, action.hook.heartbeat_timeout)
        return EmptyResult()

    AutoScalingResponse.record_lifecycle_action_heartbeat = record_lifecycle_action_heartbeat

    def start_instance_refresh_response(self):
        refresh = start_instance_refresh(
            self.autoscaling_backend,
            self._get_param("AutoScalingGroupName"),
            self._get_param("DesiredConfiguration"),
            self._get_param("Preferences") or {},
        )
        return ActionResult({"InstanceRefreshId": refresh.id})

    AutoScalingResponse.start_instance_refresh = start_instance_refresh_response

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

    AutoScalingResponse.describe_instance_refreshes = describe_instance_refreshes

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

    AutoScalingResponse.cancel_instance_refresh = cancel_instance_refresh

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

    AutoScalingResponse.rollback_instance_refresh = rollback_instance_refresh

    # CreateAutoScalingGroup: HealthCheckGracePeriod "Default: 0 seconds" (moto uses 300), and
    # DefaultInstanceWarmup, which moto drops; both set a refresh's default warm-up.
    original_create_group = AutoScalingResponse.create_auto_scaling_group
    original_update_group = AutoScalingResponse.update_auto_scaling_group

    def remember_warmup(self, creating: bool) -> None:
        group = self.autoscaling_backend.autoscaling_groups.get(self._get_param("AutoScalingGroupName"))
        if group is None:
            return
        grace = self._get_int_param("HealthCheckGracePeriod")
        if grace is not None or creating:
            group._bakery_grace_period = grace or 0
        warmup = self._get_int_param("DefaultInstanceWarmup")
        if warmup is not None:
            group._bakery_default_instance_warmup = None if warmup < 0 else warmup

    def create_auto_scaling_group(self):
        result = original_create_group(self)
        remember_warmup(self, creating=True)
        return result

    def update_auto_scaling_group(self):
        result = original_update_group(self)
        remember_warmup(self, creating=False)
        return result

    AutoScalingResponse.create_auto_scaling_group = create_auto_scaling_group
    AutoScalingResponse.update_auto_scaling_group = update_auto_scaling_group

    core.PERIODIC.append(step_all)


def reset() -> None:
    ACTIONS.clear()
    REFRESHES.clear()
