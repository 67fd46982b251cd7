"""ami-bakery's extension of moto 5.2.1: what the service needs that moto lacks.

Installed by ``emulator/server.py`` into moto's own process, so every API reads one
consistent state (an image still pending never matches ``state=available``; an
instance in ``Pending:Wait`` is never ``InService``). See ``install``.
"""

from __future__ import annotations


def install(app):
    """Patches moto's models and wraps its WSGI app; returns the app to serve.

    Call ``compat.check()`` first: it names every missing moto internal at once.
    """
    from . import autoscaling, core, ec2, kms, scale, ssm
    from .wsgi import BakeryMiddleware

    ec2.install()
    kms.install()
    ssm.install()
    autoscaling.install()
    scale.install()
    core.start_ticker()
    return BakeryMiddleware(app)
