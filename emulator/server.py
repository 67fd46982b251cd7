#!/usr/bin/env python3
"""ami-bakery's local AWS emulator: moto in server mode, hosted in this process.

Hosting moto here, rather than running ``python3 -m moto.server``, is what lets the
extensions patch moto's own models, so that every API reads one consistent state.
This is test and demo infrastructure: production code never knows it exists.

Prints one JSON line ``{"ready": true, "port": N}`` on stdout once it accepts
connections. Exits when its standard input closes, so a parent that dies never
leaves an emulator behind (pass --no-stdin-watch to run it by hand).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading

REQUIRED_MOTO = "5.2.1"
INSTALL_HINT = f'pip install "moto[server]=={REQUIRED_MOTO}"'
# Node's fetch refuses these ports (they are SIP's); never hand them out.
BLOCKED_PORTS = {5060, 5061}


def fail(message: str, code: int = 3) -> None:
    print(json.dumps({"ready": False, "error": message}), flush=True)
    sys.exit(code)


def check_moto() -> None:
    try:
        import moto  # noqa: F401
    except ImportError:
        fail(f"moto is not installed for {sys.executable}. Install it with: {INSTALL_HINT}")
    version = getattr(sys.modules["moto"], "__version__", "unknown")
    if version != REQUIRED_MOTO:
        fail(
            f"moto {version} is installed for {sys.executable}, but ami-bakery's emulator "
            f"needs exactly {REQUIRED_MOTO}. Install it with: {INSTALL_HINT}"
        )
    try:
        import flask  # noqa: F401
        import werkzeug  # noqa: F401
    except ImportError:
        fail(f"moto's server extras (Flask, Werkzeug) are missing. Install them with: {INSTALL_HINT}")


def bind(host: str, port: int, app):
    from werkzeug.serving import make_server

    while True:
        server = make_server(host, port, app, threaded=True)
        if server.server_port not in BLOCKED_PORTS or port != 0:
            return server
        server.server_close()


def watch_stdin(server) -> None:
    """Shut the server down when the parent closes our stdin (or dies)."""

    def run() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        server.shutdown()

    threading.Thread(target=run, name="stdin-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--no-stdin-watch", action="store_true")
    parser.add_argument(
        "--authorizer",
        help="JSON list: the command of the IAM evaluator (emulator/iam/sidecar.ts); without it, "
        "only the admin identity is served and no principal can be registered",
    )
    args = parser.parse_args(argv)

    # Before moto loads: the service attaches AWS managed policies (AmazonSSMManagedInstanceCore
    # for the builder role), which moto only knows when asked to load them.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    check_moto()

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bakery import compat

    try:
        compat.check()
    except compat.MotoInternalsChanged as error:
        fail(f"{error}. Install the pinned version with: {INSTALL_HINT}")

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    import bakery
    from bakery import iam

    iam.configure(json.loads(args.authorizer) if args.authorizer else None)
    app = bakery.install(DomainDispatcherApplication(create_backend_app))
    # One line per request on stderr cost the emulator about 4% of its CPU under the chaos run;
    # errors (and their tracebacks) are still written.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = bind(args.host, args.port, app)
    # moto builds some ARNs and URLs (SQS queue URLs among them) from this.
    os.environ.setdefault("MOTO_PORT", str(server.server_port))

    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    if not args.no_stdin_watch:
        watch_stdin(server)

    print(json.dumps({"ready": True, "port": server.server_port}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
