"""The rules of an API key's rights and limits: one validator for the config file, the admin API and the CLI."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from llmgateway.config.derive import first_error

PERMISSIONS = ("completion", "embedding", "admin")
BUDGET_PERIODS = ("day", "month")
MAX_TPM = 2**31 - 1  # stored in a 32-bit integer column
MAX_BUDGET_USD = 1e9
BUDGET_NEEDS_PERIOD = "is required with budget_usd"


def validate_rate_limit(value: str) -> None:
    """Raise ValidationError unless `value` is a limit string such as '60/minute'."""
    from limits import parse_many

    try:
        if not parse_many(value):
            raise ValueError
    except ValueError as exc:
        raise ValidationError("not a rate limit such as '60/minute'") from exc


class KeyRulesSchema(Schema):
    """Who a key belongs to, what it may do and its limits; a budget always names its period."""

    owner = fields.String(required=True, validate=validate.Length(min=1, max=200))
    permissions = fields.List(
        fields.String(validate=validate.OneOf(PERMISSIONS)), required=True, validate=validate.Length(min=1, max=3)
    )
    rate_limit = fields.String(allow_none=True, validate=[validate.Length(max=100), validate_rate_limit])
    tpm_limit = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=MAX_TPM))
    budget_usd = fields.Float(allow_none=True, validate=validate.Range(min=0, max=MAX_BUDGET_USD))
    budget_period = fields.String(allow_none=True, validate=validate.OneOf(BUDGET_PERIODS))
    expires_at = fields.AwareDateTime(allow_none=True, default_timezone=None)

    @validates_schema
    def budget_needs_period(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("budget_usd") is not None and not data.get("budget_period"):
            raise ValidationError(BUDGET_NEEDS_PERIOD, "budget_period")


def key_rules_problem(values: dict[str, Any]) -> tuple[str | None, str] | None:
    """The first (field, problem) KeyRulesSchema finds in `values` (the CLI's, in wire form), or None."""
    errors = KeyRulesSchema().validate(values)
    return first_error(errors) if errors else None
