"""What the extension knows about moto's Auto Scaling objects, kept beside them, never on them.

Each is a ``core.SideTable``: keyed weakly by the moto object itself, emptied by a reset.
"""

from __future__ import annotations

from dataclasses import dataclass

from moto.autoscaling.models import FakeAutoScalingGroup, InstanceState

from ..core import SideTable


@dataclass
class GroupExtra:
    # Set while the group converges, so a launch or termination it causes does not converge again.
    converging: bool = False
    # Instances a launch-before-terminate refresh batch adds above the desired capacity.
    extra: int = 0
    # The template version new instances launch from while a refresh (or its rollback) runs.
    launch_version: int | None = None
    # HealthCheckGracePeriod as the caller set it ("Default: 0 seconds"; moto keeps 300).
    grace_period: int | None = None
    # DefaultInstanceWarmup, which moto drops.
    default_instance_warmup: int | None = None
    # Why the last launch failed (an image the account cannot use), until one succeeds.
    launch_failure: str | None = None


@dataclass
class MemberExtra:
    # (template id, template name, version number) the instance was launched from.
    template: tuple[str, str, int] | None = None
    # When it entered InService (time.monotonic()), for a refresh's warm-up.
    in_service_at: float = 0.0
    # Its launch hook was abandoned: Auto Scaling terminates and replaces it.
    abandoned: bool = False


_GROUPS: SideTable[FakeAutoScalingGroup, GroupExtra] = SideTable(GroupExtra)
_MEMBERS: SideTable[InstanceState, MemberExtra] = SideTable(MemberExtra)


def group_extra(group: FakeAutoScalingGroup) -> GroupExtra:
    return _GROUPS.of(group)


def member_extra(state: InstanceState) -> MemberExtra:
    return _MEMBERS.of(state)
