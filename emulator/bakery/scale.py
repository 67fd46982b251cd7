"""moto's cost per call, kept flat as the emulator's state grows (a 200-bake chaos run).

moto 5.2.1 makes some calls cost in proportion to everything it holds, or repeats at every
request work whose answer never changes. Each fix here keeps moto's answers exactly as they were
(the tests in test/integration/emulator-scale.test.ts go through the SDK) and only removes cost:

- TransactWriteItems deep-copied every table a transaction names, whole, before each call, to
  restore them if the transaction is cancelled: with 3,000 items a call took 66 ms instead of 5.
  It now keeps a copy of the items the transaction names, and restores those. AWS's contract is
  the same either way: a cancelled transaction changes nothing
  (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html).
- SendMessage read all of a queue's attributes to learn whether it deduplicates by content, and
  each of the three ApproximateNumberOfMessages* counts read the clock once per message in the
  queue (SNS Publish to a subscribed queue pays the same): 65 ms a call with 3,000 messages
  waiting. The counts now read the clock once per call, and a queue's attributes count its
  messages in one pass; what they count is unchanged (available, delayed, in flight:
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html).
- Every request listed moto's package directory (to tell a service name from a host name) and
  inspected its response class's members with ``inspect``: both answers are fixed for the life of
  the process, and are now computed once.

Measured with ``BENCH_ONLY=emulator npm run bench`` and ``npm run chaos`` (docs/benchmarks.md).
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

import moto.backends
import moto.core.responses
from moto.core.utils import camelcase_to_underscores, method_names_from_class, unix_time_millis
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.comparisons import get_filter_expression
from moto.sqs.models import Queue


def install() -> None:
    install_dispatch_caches()
    DynamoDBBackend.transact_write_items = transact_write_items
    install_queue_counts()


# --- dispatch ---


def install_dispatch_caches() -> None:
    modules = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: modules
    # The extension patches response classes at install, before the first request fills this.
    moto.core.responses.method_names_from_class = functools.lru_cache(maxsize=None)(
        lambda cls: frozenset(method_names_from_class(cls))
    )


# --- DynamoDB ---


class _ItemBackup:
    """The items a transaction names, as they were before it, to put back if it is cancelled."""

    def __init__(self) -> None:
        self.saved: list[tuple[Table, DynamoType, DynamoType | None, Any]] = []

    def save(self, table: Table, key: dict[str, Any]) -> None:
        try:
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        except (KeyError, TypeError):
            return  # moto refuses the operation before it writes anything
        if range_value is None:
            current = table.items.get(hash_value)
        else:
            current = table.items.get(hash_value, {}).get(range_value)
        self.saved.append((table, hash_value, range_value, copy.deepcopy(current)))

    def restore(self) -> None:
        for table, hash_value, range_value, item in reversed(self.saved):
            if range_value is None:
                if item is None:
                    table.items.pop(hash_value, None)
                else:
                    table.items[hash_value] = item
            elif item is None:
                table.items.get(hash_value, {}).pop(range_value, None)
                if hash_value in table.items and not table.items[hash_value]:
                    del table.items[hash_value]
            else:
                table.items[hash_value][range_value] = item


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto 5.2.1's DynamoDBBackend.transact_write_items, backing up items rather than tables."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    backup = _ItemBackup()
    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[str, str, dict[str, Any]] | tuple[None, None, None]] = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")

            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            expression_attribute_names = op.get("ExpressionAttributeNames")
            expression_attribute_values = op.get("ExpressionAttributeValues")
            return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")

            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]

            check_unicity(table_name, key)

            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition_op = get_filter_expression(
                    condition_expression,
                    expression_attribute_names,
                    expression_attribute_values,
                )
                if not condition_op.expr(current):
                    if return_values_on_condition_check_failure == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)

            if op_type != "ConditionCheck":
                backup.save(self.get_table(table_name), key)
            conditions = {
                "condition_expression": condition_expression,
                "expression_attribute_names": expression_attribute_names,
                "expression_attribute_values": expression_attribute_values,
            }
            if op_type == "Put":
                self.put_item(table_name, op["Item"], **conditions)
            elif op_type == "Delete":
                self.delete_item(table_name, key, **conditions)
            elif op_type == "Update":
                self.update_item(table_name, key, update_expression=op["UpdateExpression"], **conditions)
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            backup.restore()
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))  # type: ignore[arg-type]
        except Exception as e:  # noqa: BLE001 - moto reports any other failure per item, as here
            errors.append((type(e).__name__, str(e), original_item))  # type: ignore[arg-type]

    if any(code is not None for code, _, _ in errors):
        backup.restore()
        raise TransactionCanceledException(errors)


# --- SQS ---


def install_queue_counts() -> None:
    def counts(queue: Queue) -> tuple[int, int, int]:
        """(visible and not delayed, delayed, not visible), with one reading of the clock."""
        now = unix_time_millis()
        available = delayed = invisible = 0
        for message in queue._messages:
            visible = now > message.visible_at
            is_delayed = now < message.delayed_until
            if not visible:
                invisible += 1
            if is_delayed:
                delayed += 1
            if visible and not is_delayed:
                available += 1
        return available, delayed, invisible

    def messages(queue: Queue) -> list[Any]:
        now = unix_time_millis()
        return [m for m in queue._messages if now > m.visible_at and not now < m.delayed_until]

    Queue.messages = property(messages)
    Queue.approximate_number_of_messages = property(lambda queue: counts(queue)[0])
    Queue.approximate_number_of_messages_delayed = property(lambda queue: counts(queue)[1])
    Queue.approximate_number_of_messages_not_visible = property(lambda queue: counts(queue)[2])

    def attributes(queue: Queue) -> dict[str, Any]:
        """moto 5.2.1's Queue.attributes, its three counts made in one pass over the messages."""
        available, delayed, invisible = counts(queue)
        known = {
            "ApproximateNumberOfMessages": available,
            "ApproximateNumberOfMessagesDelayed": delayed,
            "ApproximateNumberOfMessagesNotVisible": invisible,
        }
        result: dict[str, Any] = {}
        names = list(queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            names += queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:
            names += queue.KMS_ATTRIBUTES
        for name in names:
            result[name] = known[name] if name in known else getattr(queue, camelcase_to_underscores(name))
        if queue.policy:
            result["Policy"] = queue.policy
        if queue.redrive_policy:
            result["RedrivePolicy"] = json.dumps(queue.redrive_policy)
        for key in result:
            if isinstance(result[key], bool):
                result[key] = str(result[key]).lower()
        return result

    Queue.attributes = property(attributes)
