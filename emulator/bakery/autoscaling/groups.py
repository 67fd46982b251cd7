"""An Auto Scaling group's members: launches to its desired capacity from its launch template,
terminations through its hooks, InService once running, and registration with its target groups.

Follows https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks.html (an instance moves
on once its hooks have results; a launch ABANDONed is terminated and replaced),
https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-termination-policies.html
(the default policy, simplified) and
https://docs.aws.amazon.com/autoscaling/ec2/userguide/attach-load-balancer-asg.html . Groups that use a
launch configuration keep moto's own behaviour.
"""

from __future__ import annotations

import time

from moto.autoscaling.models import ASG_NAME_TAG, AutoScalingBackend, FakeAutoScalingGroup, InstanceState
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import EmptyResult

from .. import kms
from . import hooks, tables
from .common import COUNTED, LAUNCHING, TERMINATING, backend_of


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
        try:
            reservation = launch_one(group, version, template, tags, zone, subnet_id)
        except kms.LaunchRefused as refused:
            # The launch fails as a scaling activity (AWS: "Client.InternalError: Client error on
            # launch"); a refresh waiting on it fails with that reason.
            tables.group_extra(group).launch_failure = refused.message
            break
        tables.group_extra(group).launch_failure = None
        instance = reservation.instances[0]
        instance.autoscaling_group = group
        state = InstanceState(instance, lifecycle_state="Pending", protected_from_scale_in=group.new_instances_protected_from_scale_in)
        tables.member_extra(state).template = (template.id, template.name, int(version.number))
        group.instance_states.append(state)
        launched.append(state)
        hooks.start_actions(group, state, LAUNCHING)
    return launched


def launch_one(group: FakeAutoScalingGroup, version, template, tags: dict, zone: str | None, subnet_id: str | None):
    """RunInstances as Auto Scaling makes it, for one instance of the group."""
    return group.ec2_backend.run_instances(
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
        by_autoscaling=True,
    )


def launched_version(state: InstanceState) -> int | None:
    template = tables.member_extra(state).template
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
    hooks.cancel(state)  # a launch still waiting is cut short
    state.lifecycle_state = "Terminating"
    refresh_target_groups(group)  # deregistered before the terminate hooks run
    if not hooks.start_actions(group, state, TERMINATING):
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
        if state.lifecycle_state in ("Pending", "Pending:Proceed") and not hooks.actions_of(state):
            if state.instance._state.name == "running":
                state.lifecycle_state = "InService"
                tables.member_extra(state).in_service_at = time.monotonic()
                changed = True
    if changed:
        refresh_target_groups(group)


def converge(group: FakeAutoScalingGroup) -> None:
    extra = tables.group_extra(group)
    if not group.ec2_launch_template or extra.converging:
        return  # launch-configuration groups keep moto's own behaviour
    extra.converging = True
    try:
        target = (group.desired_capacity or 0) + extra.extra
        counted = [state for state in group.instance_states if state.lifecycle_state in COUNTED]
        delta = target - len(counted)
        if delta > 0:
            launch(group, delta, extra.launch_version)
        elif delta < 0:
            for victim in choose_victims(group, counted, -delta):
                begin_termination(group, victim)
        promote_ready(group)
    finally:
        extra.converging = False


# --- instance refresh ---------------------------------------------------------------------


def settle(state: InstanceState) -> None:
    """Moves an instance on once every hook of its transition has a result."""
    done = hooks.take_results(state)
    if done is None:
        return
    group, transition, abandoned = done
    if transition == LAUNCHING:
        if abandoned:
            # "If the instance is launching, ABANDON indicates that you do not want to keep the
            # instance; Amazon EC2 Auto Scaling terminates it" and then replaces it.
            tables.member_extra(state).abandoned = True
            finish_termination(group, state)
            converge(group)
        else:
            state.lifecycle_state = "Pending:Proceed"
            promote_ready(group)
    else:
        finish_termination(group, state)


def expire_actions() -> None:
    for state in hooks.expire():
        settle(state)


def default_warmup(group: FakeAutoScalingGroup) -> int:
    extra = tables.group_extra(group)
    if extra.default_instance_warmup is not None:
        return int(extra.default_instance_warmup)
    grace = group.health_check_grace_period if extra.grace_period is None else extra.grace_period
    return int(grace or 0)


def install() -> None:
    """Patches moto's groups: capacity, membership, target groups, termination, warm-up settings,
    and CompleteLifecycleAction (its last result moves the instance on)."""
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
        template = tables.member_extra(self).template
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
            tables.group_extra(group).grace_period = grace or 0
        warmup = self._get_int_param("DefaultInstanceWarmup")
        if warmup is not None:
            tables.group_extra(group).default_instance_warmup = None if warmup < 0 else warmup


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


    def complete_lifecycle_action(self):
        settle(hooks.complete_lifecycle_action(self))
        return EmptyResult()

    AutoScalingResponse.complete_lifecycle_action = complete_lifecycle_action
