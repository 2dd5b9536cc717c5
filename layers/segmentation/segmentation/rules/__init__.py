"""The rule language: validate a JSON rule tree, compile it once, evaluate and explain it per customer.

    rule = parse_rule({"all": [{"attr": "country", "op": "eq", "value": "GB"},
                               {"event": "order_completed", "within_last_days": 90}]})
    rule.evaluate(view, now, tz)

The contract (operators, missing-attribute semantics, time zones) is documented in ``docs/rule-language.md``.
"""

from segmentation.rules.evaluate import Clock
from segmentation.rules.issues import RuleIssue, RuleValidationError
from segmentation.rules.parse import AGGREGATES, COMPARISON_OPS, OPERATORS, OPS_BY_TYPE, SegmentLookup
from segmentation.rules.rule import Rule, parse_rule, validate_rule

__all__ = [
    "AGGREGATES",
    "COMPARISON_OPS",
    "OPERATORS",
    "OPS_BY_TYPE",
    "Clock",
    "Rule",
    "RuleIssue",
    "RuleValidationError",
    "SegmentLookup",
    "parse_rule",
    "validate_rule",
]
