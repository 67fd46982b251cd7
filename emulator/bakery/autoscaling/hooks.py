"""Lifecycle hooks: wait states, the actions they wait on, and the hooks' notifications.

https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks.html (wait states, heartbeat and
global timeouts, default result) and the notification format of
https://docs.aws.amazon.com/autoscaling/ec2/userguide/prepare-for-lifecycle-notifications.html ;
PutLifecycleHook, CompleteLifecycleAction and RecordLifecycleActionHeartbeat follow their API
reference pages. What happens to an instance once its actions have results is its group's business
(``groups.settle``): this module never launches or terminates anything.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from moto.autoscaling.models import FakeAutoScalingGroup, InstanceState, LifecycleHook
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import EmptyResult

from .. import core, iam
from .common import LAUNCHING, TERMINATING, backend_of, emit, scaled, validation


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


# Every action still waiting, by token.
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


def take_results(state: InstanceState) -> tuple[FakeAutoScalingGroup, str, bool] | None:
    """Once every hook of the instance's transition has a result: forgets its actions and returns
    (its group, the transition, whether any hook abandoned it); None while one still waits."""
    actions = actions_of(state)
    if not actions or any(action.result is None for action in actions):
        return None
    for action in actions:
        ACTIONS.pop(action.token, None)
    return actions[0].group, actions[0].transition, any(action.result == "ABANDON" for action in actions)


def cancel(state: InstanceState) -> None:
    """Forgets the instance's actions (a launch still waiting, cut short by its termination)."""
    for action in actions_of(state):
        ACTIONS.pop(action.token, None)


def expire() -> list[InstanceState]:
    """Gives each action past its heartbeat or global timeout the hook's default result; returns
    the instances concerned."""
    now = time.monotonic()
    due: list[InstanceState] = []
    for action in list(ACTIONS.values()):
        if action.result is None and now >= min(action.deadline, action.global_deadline):
            action.result = action.hook.default_result
            if all(state is not action.state for state in due):
                due.append(action.state)
    return due


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


# --- the API -------------------------------------------------------------------------------


def put_lifecycle_hook(self) -> EmptyResult:
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



def complete_lifecycle_action(self) -> InstanceState:
    """Records the caller's result; returns the instance, for its group to move it on once every hook has one."""
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
    return action.state



def record_lifecycle_action_heartbeat(self) -> EmptyResult:
    # https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RecordLifecycleActionHeartbeat.html
    action = find_action(
        self._get_param("AutoScalingGroupName"),
        self._get_param("LifecycleHookName"),
        self._get_param("LifecycleActionToken"),
        self._get_param("InstanceId"),
    )
    action.deadline = time.monotonic() + scaled(action.group, action.hook.heartbeat_timeout)
    return EmptyResult()


def reset() -> None:
    ACTIONS.clear()


def install() -> None:
    """PutLifecycleHook and RecordLifecycleActionHeartbeat (CompleteLifecycleAction is the group's: ``groups.install``)."""
    AutoScalingResponse.put_lifecycle_hook = put_lifecycle_hook
    AutoScalingResponse.record_lifecycle_action_heartbeat = record_lifecycle_action_heartbeat
