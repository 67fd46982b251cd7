"""The WSGI layer around moto: control API, fault injection, call counting, the model lock.

Throttling error codes and statuses are each service's own, so the AWS SDK classifies an
injected fault exactly as a real one (EC2 ``RequestLimitExceeded``:
https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html ; Auto Scaling
``Throttling`` and the query error format:
https://docs.aws.amazon.com/autoscaling/ec2/APIReference/CommonErrors.html ; SSM and DynamoDB
``ThrottlingException``; SNS ``Throttled`` (429) and SQS ``RequestThrottled`` (403) per their
API references).
"""

from __future__ import annotations

import io
import json
import random
import re
import socket
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from . import autoscaling, core, ec2, iam

CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
ACCESS_KEY = re.compile(r"Credential=([^/]+)/")

# How each service refuses a caller, per its API reference's common errors: (status, code).
ACCESS_DENIED = {
    "ec2": (403, "UnauthorizedOperation"),
    "autoscaling": (403, "AccessDenied"),
    "sns": (403, "AuthorizationError"),
    "sqs": (403, "AccessDenied"),
    "ssm": (400, "AccessDeniedException"),
    "dynamodb": (400, "AccessDeniedException"),
    "kms": (400, "AccessDeniedException"),
}
UNKNOWN_KEY = {
    "ec2": (401, "AuthFailure", "AWS was not able to validate the provided access credentials"),
    "ssm": (400, "UnrecognizedClientException", "The security token included in the request is invalid."),
    "dynamodb": (400, "UnrecognizedClientException", "The security token included in the request is invalid."),
    "kms": (400, "UnrecognizedClientException", "The security token included in the request is invalid."),
}
DEFAULT_UNKNOWN_KEY = (403, "InvalidClientTokenId", "The security token included in the request is invalid.")

# (HTTP status, code, message) per service for throttling and server errors.
THROTTLE = {
    "ec2": (503, "RequestLimitExceeded", "Request limit exceeded."),
    "autoscaling": (400, "Throttling", "Rate exceeded"),
    "ssm": (400, "ThrottlingException", "Rate exceeded"),
    "dynamodb": (400, "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
    "sns": (429, "Throttled", "Rate exceeded"),
    "sqs": (403, "RequestThrottled", "Request is throttled."),
}
DEFAULT_THROTTLE = (400, "Throttling", "Rate exceeded")
SERVER_ERROR = {
    "ec2": {500: "InternalError", 503: "Unavailable"},
    "ssm": {500: "InternalServerError", 503: "ServiceUnavailable"},
    "dynamodb": {500: "InternalServerError", 503: "ServiceUnavailable"},
}
DEFAULT_SERVER_ERROR = {500: "InternalFailure", 503: "ServiceUnavailable"}
# SQS long polls wait inside moto (up to 20 s); under the model lock they would stall every
# other API. No extension state spans SQS, and moto serves it without a lock of its own.
UNLOCKED_SERVICES = {"sqs"}
JSON_SERVICES = {"ssm": "AmazonSSM", "dynamodb": "com.amazonaws.dynamodb.v20120810", "sqs": "com.amazonaws.sqs", "kms": "TrentService"}


@dataclass
class FaultRule:
    kind: str  # throttle | error | latency | drop
    service: str = "*"
    action: str = "*"
    probability: float = 1.0
    count: int | None = None  # fire at most this many times
    status: int = 500
    latency_ms: int = 0
    code: str | None = None  # for `error`: the AWS error code to answer with (InsufficientInstanceCapacity…)
    message: str | None = None
    fired: int = 0

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> "FaultRule":
        kind = raw.get("kind")
        if kind not in ("throttle", "error", "latency", "drop"):
            raise ValueError(f"fault kind must be throttle, error, latency or drop, not {kind!r}")
        probability = float(raw.get("probability", 1.0))
        if not 0 <= probability <= 1:
            raise ValueError("probability must be between 0 and 1")
        status = int(raw.get("status", 500))
        if kind == "error" and status not in (500, 503):
            raise ValueError("error status must be 500 or 503")
        return cls(
            kind=kind,
            service=raw.get("service", "*"),
            action=raw.get("action", "*"),
            probability=probability,
            count=raw.get("count"),
            status=status,
            latency_ms=int(raw.get("latencyMs", 0)),
            code=raw.get("code"),
            message=raw.get("message"),
        )

    def matches(self, service: str, action: str) -> bool:
        return self.service in ("*", service) and self.action in ("*", action) and (
            self.count is None or self.fired < self.count
        )

    def public(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "service": self.service,
            "action": self.action,
            "probability": self.probability,
            "count": self.count,
            "status": self.status,
            "latencyMs": self.latency_ms,
            "code": self.code,
            "message": self.message,
            "fired": self.fired,
        }


@dataclass
class AccountFaults:
    rules: list[FaultRule] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)
    seed: int | None = None


def identify(environ: dict[str, Any]) -> tuple[str, str, str]:
    """(service, region, action) of an AWS request, from its SigV4 scope and its body or target header."""
    scope = CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    region, service = (scope.group(1), scope.group(2)) if scope else ("us-east-1", "unknown")
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return service, region, target.rsplit(".", 1)[-1]
    body = read_body(environ)
    action = parse_qs(body.decode("utf-8", "replace")).get("Action", [None])[0]
    if not action:
        action = parse_qs(environ.get("QUERY_STRING", "")).get("Action", ["unknown"])[0]
    return service, region, action


def read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def authorization_error(service: str, environ: dict[str, Any], region: str, action: str, account: str):
    """None when the caller may make this request; else the (status, headers, body) AWS answers."""
    match = ACCESS_KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
    try:
        principal = iam.principal_for(match.group(1) if match else None)
    except iam.UnknownKey:
        status, code, message = UNKNOWN_KEY.get(service, DEFAULT_UNKNOWN_KEY)
        return error_response(service, status, code, message)
    if principal is None:
        return None
    if principal.account != account:
        status, code, message = UNKNOWN_KEY.get(service, DEFAULT_UNKNOWN_KEY)
        return error_response(service, status, code, f"{message} (the key belongs to account {principal.account})")
    status, code = ACCESS_DENIED.get(service, (403, "AccessDenied"))
    try:
        iam.refresh_session(principal)
        requests, template = iam.requests_for(service, action, read_body(environ), account, region)
        iam.check(principal.arn, account, principal.label, requests, template)
    except iam.NotModelled as gap:
        reason = f"(the emulator does not model the authorization of {gap}; see emulator/bakery/iam.py)"
        request = iam.Request(f"{service}:{action}", "*")
        with core.LOCK:
            iam.record_denial(account, principal.arn, principal.label, request.action, "*", reason)
        return error_response(service, status, code, iam.Denied(request, reason, principal.arn).message)
    except iam.Denied as denied:
        message = denied.message
        if service == "ec2":
            message = (
                f"You are not authorized to perform this operation. {message}. "
                f"Encoded authorization failure message: {iam.encoded(denied)}"
            )
        return error_response(service, status, code, message)
    return None


def error_response(service: str, status: int, code: str, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    request_id = str(uuid.uuid4())
    if service in JSON_SERVICES:
        body = json.dumps({"__type": f"{JSON_SERVICES[service]}#{code}", "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", request_id)]
        if service == "sqs":
            headers.append(("x-amzn-query-error", f"{code};Sender"))
        return status, headers, body
    if service == "ec2":
        body = (
            f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{code}</Code>"
            f"<Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
    else:
        fault = "Receiver" if status >= 500 else "Sender"
        body = (
            f"<ErrorResponse><Error><Type>{fault}</Type><Code>{code}</Code><Message>{message}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
    return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body


STATUS_TEXT = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


class BakeryMiddleware:
    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self.app = app
        self.faults: dict[str, AccountFaults] = {}
        self.calls: dict[str, Counter[tuple[str, str]]] = {}
        self.faulted: dict[str, Counter[tuple[str, str, str]]] = {}

    # --- request path ---

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        account = environ.get("HTTP_X_MOTO_ACCOUNT_ID") or core.DEFAULT_ACCOUNT
        if path.startswith("/_bakery/"):
            return self.control(environ, start_response, account)
        if path.startswith("/moto-api/"):
            if path == "/moto-api/reset":
                self.reset()
            with core.LOCK:
                return list(self.app(environ, start_response))

        service, _region, action = identify(environ)
        # A role session's credentials act in the role's account, whatever header the client sends
        # (AWS knows the account from the credentials alone).
        key = ACCESS_KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
        session = iam.session_account(key.group(1) if key else None)
        if session is not None:
            account = session
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = session
        with core.LOCK:
            self.calls.setdefault(account, Counter())[(service, action)] += 1
            rule = self.pick_fault(account, service, action)
        if rule is not None:
            self.faulted.setdefault(account, Counter())[(service, action, rule.kind)] += 1
            if rule.kind == "latency":
                time.sleep(rule.latency_ms / 1000)
            elif rule.kind == "drop":
                return self.drop(environ, start_response)
            else:
                if rule.kind == "throttle":
                    status, code, message = THROTTLE.get(service, DEFAULT_THROTTLE)
                else:
                    status = rule.status
                    code = rule.code or SERVER_ERROR.get(service, DEFAULT_SERVER_ERROR)[status]
                    message = rule.message or "An internal error has occurred (injected by the emulator)."
                status, headers, body = error_response(service, status, code, message)
                start_response(f"{status} {STATUS_TEXT.get(status, 'Error')}", headers)
                return [body]
        if service in UNLOCKED_SERVICES:
            refused = authorization_error(service, environ, _region, action, account)
            if refused is not None:
                return self.refuse(start_response, refused)
            return list(self.app(environ, start_response))
        with core.LOCK:
            core.tick()  # transitions that fell due since the last tick are visible to this request
            refused = authorization_error(service, environ, _region, action, account)
            if refused is not None:
                return self.refuse(start_response, refused)
            if service == "sts" and action == "AssumeRole":
                return self.assume_role(environ, start_response)
            return list(self.app(environ, start_response))

    def assume_role(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """moto's AssumeRole, then its credentials registered as a session of the role (its account, its policies)."""
        answered: list[str] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answered.append(status)
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        params = {k: v[0] for k, v in parse_qs(read_body(environ).decode("utf-8", "replace")).items()}
        body = list(self.app(environ, capture))
        if answered and answered[0].startswith("200"):
            found = re.search(r"<AccessKeyId>([^<]+)</AccessKeyId>", b"".join(body).decode("utf-8", "replace"))
            if found:
                iam.register_session(found.group(1), params.get("RoleArn", ""), params.get("RoleSessionName", ""))
        return body

    @staticmethod
    def refuse(start_response: Callable[..., Any], refused: tuple[int, list[tuple[str, str]], bytes]) -> Iterable[bytes]:
        status, headers, body = refused
        start_response(f"{status} {STATUS_TEXT.get(status, 'Error')}", headers)
        return [body]

    def pick_fault(self, account: str, service: str, action: str) -> FaultRule | None:
        faults = self.faults.get(account)
        if not faults:
            return None
        for rule in faults.rules:
            if rule.matches(service, action) and faults.rng.random() < rule.probability:
                rule.fired += 1
                return rule
        return None

    @staticmethod
    def drop(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        connection = environ.get("werkzeug.socket")
        if connection is not None:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return []
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [b"connection drop requested but the socket is not reachable"]

    def reset(self) -> None:
        with core.LOCK:
            self.faults.clear()
            self.calls.clear()
            self.faulted.clear()
            core.reset_settings()
            core.reset_tables()
            ec2.reset_forgetting()
            autoscaling.reset()
            iam.reset()

    # --- control API ---

    def control(self, environ: dict[str, Any], start_response: Callable[..., Any], account: str) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        route = environ.get("PATH_INFO", "")[len("/_bakery") :]
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
            with core.LOCK:
                status, payload = self.route(method, route, body, account)
        except (ValueError, TypeError, KeyError) as error:
            status, payload = 400, {"error": str(error)}
        data = json.dumps(payload, default=str).encode()
        start_response(f"{status} {STATUS_TEXT.get(status, 'OK')}", [("Content-Type", "application/json")])
        return [data]

    def route(self, method: str, route: str, body: dict[str, Any], account: str) -> tuple[int, dict[str, Any]]:
        settings = core.settings(account)
        if route == "/health":
            import moto

            return 200, {"ok": True, "moto": moto.__version__}
        if route == "/config" and method == "GET":
            return 200, settings.public()
        if route == "/config" and method in ("PUT", "POST"):
            unknown = set(body) - {"delays", "timeScale", "eventsUrl", "ssmRules", "imageRules"}
            if unknown:
                raise ValueError(f"unknown config keys: {sorted(unknown)}")
            if "delays" in body:
                bad = set(body["delays"]) - set(core.DELAY_NAMES)
                if bad:
                    raise ValueError(f"unknown delays {sorted(bad)}; known: {sorted(core.DELAY_NAMES)}")
                settings.delays.update({name: float(seconds) for name, seconds in body["delays"].items()})
            if "timeScale" in body:
                settings.time_scale = float(body["timeScale"])
            if "eventsUrl" in body:
                settings.events_url = body["eventsUrl"]
            if "ssmRules" in body:
                settings.ssm_rules = list(body["ssmRules"])
            if "imageRules" in body:
                settings.image_rules = list(body["imageRules"])
            return 200, settings.public()
        if route == "/faults" and method == "GET":
            faults = self.faults.get(account, AccountFaults())
            return 200, {"seed": faults.seed, "rules": [rule.public() for rule in faults.rules]}
        if route == "/faults" and method in ("PUT", "POST"):
            rules = [FaultRule.parse(raw) for raw in body.get("rules", [])]
            seed = body.get("seed")
            self.faults[account] = AccountFaults(rules=rules, rng=random.Random(seed), seed=seed)
            return 200, {"seed": seed, "rules": [rule.public() for rule in rules]}
        if route == "/faults" and method == "DELETE":
            self.faults.pop(account, None)
            return 200, {"rules": []}
        if route == "/calls" and method == "GET":
            calls: dict[str, dict[str, int]] = {}
            for (service, action), count in sorted(self.calls.get(account, Counter()).items()):
                calls.setdefault(service, {})[action] = count
            faulted: dict[str, dict[str, dict[str, int]]] = {}
            for (service, action, kind), count in sorted(self.faulted.get(account, Counter()).items()):
                faulted.setdefault(service, {}).setdefault(action, {})[kind] = count
            return 200, {"calls": calls, "faulted": faulted}
        if route == "/calls" and method == "DELETE":
            self.calls.pop(account, None)
            self.faulted.pop(account, None)
            return 200, {"calls": {}, "faulted": {}}
        if route == "/events" and method == "GET":
            return 200, {"events": settings.events}
        if route == "/events" and method == "DELETE":
            settings.events.clear()
            return 200, {"events": []}
        if route == "/iam/principals" and method in ("PUT", "POST"):
            return 200, iam.register(account, body)
        if route == "/iam/denials" and method == "GET":
            return 200, {"denials": iam.denials(account)}
        if route == "/iam/grants" and method == "GET":
            return 200, {"grants": iam.grants(account)}
        if route == "/iam/log" and method == "DELETE":
            iam.clear_log(account)
            return 200, {"denials": [], "grants": []}
        if route == "/reboots" and method == "GET":
            return 200, {"reboots": ec2.reboots(account)}
        return 404, {"error": f"no route {method} {route}"}
