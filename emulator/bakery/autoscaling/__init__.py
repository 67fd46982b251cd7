"""Auto Scaling: groups that keep their capacity, lifecycle hooks that work, and Instance Refresh.

Split by concern, each module naming the AWS pages it follows; dependencies point one way:

- ``common``: constants, errors, events;
- ``tables``: what the extension knows about moto's objects, kept beside them (never as attributes on them);
- ``hooks``: lifecycle hooks, their actions and notifications (it never launches or terminates);
- ``groups``: a group's members: launches, terminations through the hooks, InService, target groups;
- ``refresh``: Instance Refresh, which replaces instances through ``groups``.
"""

from __future__ import annotations

from moto.autoscaling.models import autoscaling_backends

from .. import core
from . import groups, hooks, refresh


def step_all() -> None:
    """One tick: hooks past their timeouts, then every launch-template group converges and steps its refresh."""
    groups.expire_actions()
    for regions in list(autoscaling_backends.values()):
        for backend in list(regions.values()):
            for group in list(backend.autoscaling_groups.values()):
                if not group.ec2_launch_template:
                    continue
                groups.promote_ready(group)
                groups.converge(group)
                active = refresh.active_refresh(group)
                if active:
                    refresh.step_refresh(active)


def install() -> None:
    groups.install()
    hooks.install()
    refresh.install()
    core.PERIODIC.append(step_all)


def reset() -> None:
    hooks.reset()
    refresh.reset()
