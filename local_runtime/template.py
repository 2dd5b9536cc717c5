"""Read template.yaml as data: short-form intrinsics, Globals, functions and their event sources.

Nothing here talks to AWS. The short-form tags (`!Ref X`) become their long JSON form (`{"Ref": "X"}`), which is
what CloudFormation itself sees, and `Resolver` evaluates them against the physical ids of the local resources.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "template.yaml"
DEFAULT_REGION = "eu-west-1"
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_STACK_NAME = "segmentation-local"

SERVERLESS_FUNCTION = "AWS::Serverless::Function"


class TemplateError(Exception):
    """The template cannot be read, or a value in it cannot be resolved locally."""


class _NoValue:
    """`AWS::NoValue`: removes the property or list item that holds it."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()

# ---------------------------------------------------------------- YAML


class CfnLoader(yaml.SafeLoader):
    """A safe YAML loader that also understands CloudFormation's short-form intrinsic tags."""


def _construct_node(loader: CfnLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise TemplateError(f"unsupported YAML node {node!r}")


def _intrinsic(long_name: str) -> Any:
    def construct(loader: CfnLoader, node: yaml.Node) -> dict[str, Any]:
        return {long_name: _construct_node(loader, node)}

    return construct


def _construct_get_att(loader: CfnLoader, node: yaml.Node) -> dict[str, Any]:
    value = _construct_node(loader, node)
    if isinstance(value, str):
        # `!GetAtt Queue.Arn`; attribute names may themselves contain dots (`Endpoint.Address`).
        logical_id, _, attribute = value.partition(".")
        value = [logical_id, attribute]
    return {"Fn::GetAtt": value}


CfnLoader.add_constructor("!Ref", _intrinsic("Ref"))
CfnLoader.add_constructor("!Condition", _intrinsic("Condition"))
CfnLoader.add_constructor("!GetAtt", _construct_get_att)
for _name in (
    "Sub",
    "If",
    "Equals",
    "Join",
    "Select",
    "Split",
    "Not",
    "And",
    "Or",
    "FindInMap",
    "GetAZs",
    "ImportValue",
    "Base64",
    "Cidr",
    "Length",
    "ToJsonString",
):
    CfnLoader.add_constructor(f"!{_name}", _intrinsic(f"Fn::{_name}"))


def load_template(path: str | Path = DEFAULT_TEMPLATE_PATH) -> Template:
    """Load a SAM/CloudFormation template; relative CodeUri/ContentUri are relative to its folder."""
    path = Path(path).resolve()
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=CfnLoader)  # noqa: S506 - safe loader subclass
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"cannot read template {path}: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(f"{path} has no Resources section")
    return Template(document, path)


# ---------------------------------------------------------------- model


@dataclass(frozen=True)
class EventSource:
    """One entry of a function's `Events`: its name, `Type` (SQS, Api, Schedule, ...) and raw `Properties`."""

    name: str
    type: str
    properties: Mapping[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    """An `AWS::Serverless::Function` with Globals merged in; values are still unresolved intrinsics."""

    logical_id: str
    handler: str
    code_uri: str
    runtime: str
    timeout: int
    memory_size: int
    environment: Mapping[str, Any]
    layers: list[Any]
    events: list[EventSource]
    properties: Mapping[str, Any] = field(repr=False)

    def events_of_type(self, *types: str) -> list[EventSource]:
        return [event for event in self.events if event.type in types]


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals rule: maps merge recursively, lists are global-then-local, scalars are overridden."""
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return [*global_value, *local_value]
    return local_value


class Template:
    """A loaded template with helpers for the parts the local runtime needs."""

    def __init__(self, document: dict[str, Any], path: Path) -> None:
        self.document = document
        self.path = path
        self.root = path.parent

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.document["Resources"]

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        return self.document.get("Parameters") or {}

    @property
    def conditions(self) -> dict[str, Any]:
        return self.document.get("Conditions") or {}

    @property
    def mappings(self) -> dict[str, Any]:
        return self.document.get("Mappings") or {}

    def resource(self, logical_id: str) -> dict[str, Any]:
        try:
            return self.resources[logical_id]
        except KeyError:
            raise TemplateError(f"no resource {logical_id!r} in {self.path.name}") from None

    def properties(self, logical_id: str) -> dict[str, Any]:
        return self.resource(logical_id).get("Properties") or {}

    def resources_of_type(self, *types: str) -> dict[str, dict[str, Any]]:
        return {lid: res for lid, res in self.resources.items() if res.get("Type") in types}

    def parameter_values(self, overrides: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Parameter defaults with `overrides` applied, as CloudFormation would pass them to `Ref`."""
        overrides = dict(overrides or {})
        unknown = set(overrides) - set(self.parameters)
        if unknown:
            raise TemplateError(f"unknown parameters: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, spec in self.parameters.items():
            if name in overrides:
                raw: Any = overrides[name]
            elif "Default" in spec:
                raw = spec["Default"]
            else:
                raise TemplateError(f"parameter {name} has no default; pass a value for it")
            if str(spec.get("Type", "String")).startswith(("List<", "CommaDelimitedList")):
                values[name] = raw if isinstance(raw, list) else [item.strip() for item in str(raw).split(",")]
            else:
                values[name] = str(raw)
        return values

    def functions(self) -> dict[str, FunctionSpec]:
        return {lid: self.function(lid) for lid in self.resources_of_type(SERVERLESS_FUNCTION)}

    def function(self, logical_id: str) -> FunctionSpec:
        resource = self.resource(logical_id)
        if resource.get("Type") != SERVERLESS_FUNCTION:
            raise TemplateError(f"{logical_id} is not an {SERVERLESS_FUNCTION}")
        global_props = copy.deepcopy((self.document.get("Globals") or {}).get("Function") or {})
        props = merge_globals(global_props, copy.deepcopy(resource.get("Properties") or {}))
        events = [
            EventSource(name=name, type=str(spec.get("Type")), properties=spec.get("Properties") or {})
            for name, spec in (props.get("Events") or {}).items()
        ]
        code_uri = props.get("CodeUri")
        if not isinstance(code_uri, str):
            raise TemplateError(f"{logical_id}: only a local CodeUri folder can run locally")
        return FunctionSpec(
            logical_id=logical_id,
            handler=str(props.get("Handler", "")),
            code_uri=code_uri,
            runtime=str(props.get("Runtime", "")),
            timeout=int(props.get("Timeout", 3)),
            memory_size=int(props.get("MemorySize", 128)),
            environment=(props.get("Environment") or {}).get("Variables") or {},
            layers=list(props.get("Layers") or []),
            events=events,
            properties=props,
        )


# ---------------------------------------------------------------- intrinsics

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def references(value: Any) -> set[str]:
    """Logical ids (and parameters) a value depends on through Ref, GetAtt or Sub."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" and isinstance(arg, str):
                return {arg}
            if key == "Fn::GetAtt":
                target = arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0]
                return {target}
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                for name in _SUB_VARIABLE.findall(text):
                    if not name.startswith("!") and name not in variables:
                        found.add(name.split(".", 1)[0])
                return found | references(variables)
        for item in value.values():
            found |= references(item)
    return found


class Resolver:
    """Evaluates intrinsic functions against local values.

    `refs` maps logical ids to what `Ref` returns (a table name, a queue URL), `attributes` maps logical ids to
    their `GetAtt` attributes; parameters and pseudo parameters come from the template and the local account.
    """

    def __init__(
        self,
        template: Template,
        *,
        parameters: Mapping[str, Any],
        refs: Mapping[str, Any],
        attributes: Mapping[str, Mapping[str, Any]],
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        stack_name: str = DEFAULT_STACK_NAME,
        imports: Mapping[str, Any] | None = None,
    ) -> None:
        self.template = template
        self.parameters = parameters
        self.refs = refs
        self.attributes = attributes
        self.region = region
        self.imports = dict(imports or {})
        self.pseudo: dict[str, Any] = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        self._conditions: dict[str, bool] = {}

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic inside `value`; `AWS::NoValue` entries are dropped from maps and lists."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._function(key, arg)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def resolve_str(self, value: Any) -> str:
        """Resolve to a string the way Lambda stores an environment variable (booleans lowercase)."""
        resolved = self.resolve(value)
        if isinstance(resolved, bool):
            return str(resolved).lower()
        if isinstance(resolved, (dict, list)):
            return json.dumps(resolved)
        return str(resolved)

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        if name in self.template.resources:
            raise TemplateError(f"Ref {name}: this {self.template.resources[name].get('Type')} has no local value")
        raise TemplateError(f"Ref {name}: no such parameter or resource")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        try:
            return self.attributes[logical_id][attribute]
        except KeyError:
            raise TemplateError(f"GetAtt {logical_id}.{attribute} has no local value") from None

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            if name not in self.template.conditions:
                raise TemplateError(f"no condition {name!r}")
            self._conditions[name] = bool(self.resolve(self.template.conditions[name]))
        return self._conditions[name]

    def _function(self, key: str, arg: Any) -> Any:
        if key == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return self.get_att(logical_id, self.resolve(attribute))
        if key == "Fn::Sub":
            return self._sub(arg)
        if key == "Fn::If":
            condition, when_true, when_false = arg
            return self.resolve(when_true if self.condition(condition) else when_false)
        if key == "Fn::Equals":
            left, right = (self.resolve(item) for item in arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self._truth(arg[0])
        if key == "Fn::And":
            return all(self._truth(item) for item in arg)
        if key == "Fn::Or":
            return any(self._truth(item) for item in arg)
        if key == "Fn::Join":
            delimiter, items = arg
            return str(delimiter).join(str(item) for item in self.resolve(items))
        if key == "Fn::Select":
            index, items = arg
            return self.resolve(items)[int(self.resolve(index))]
        if key == "Fn::Split":
            delimiter, text = arg
            return str(self.resolve(text)).split(str(delimiter))
        if key == "Fn::FindInMap":
            name, top, second = (self.resolve(item) for item in arg[:3])
            try:
                return self.template.mappings[name][top][second]
            except KeyError:
                raise TemplateError(f"FindInMap {name}/{top}/{second} not found") from None
        if key == "Fn::GetAZs":
            return [f"{self.region}{zone}" for zone in "abc"]
        if key == "Fn::ImportValue":
            export = self.resolve(arg)
            if export not in self.imports:
                raise TemplateError(f"ImportValue {export}: no local value for this export")
            return self.imports[export]
        if key == "Fn::Base64":
            return base64.b64encode(str(self.resolve(arg)).encode()).decode()
        if key == "Fn::Length":
            return len(self.resolve(arg))
        if key == "Fn::ToJsonString":
            return json.dumps(self.resolve(arg), separators=(",", ":"))
        raise TemplateError(f"{key} is not supported locally")

    def _truth(self, value: Any) -> bool:
        resolved = self.resolve(value)
        return resolved if isinstance(resolved, bool) else str(resolved).lower() == "true"

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        values = {name: self.resolve(value) for name, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                return str(values[name])
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return str(self.get_att(logical_id, attribute))
            return str(self.ref(name))

        return _SUB_VARIABLE.sub(replace, text)


def iter_statements(policy_document: Any) -> Iterable[dict[str, Any]]:
    """The statements of an IAM policy document, whether `Statement` is one object or a list."""
    statements = (policy_document or {}).get("Statement") or []
    yield from [statements] if isinstance(statements, dict) else statements
