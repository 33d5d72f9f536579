"""register_outputs from a component's declared public attributes, so the two cannot drift apart."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pulumi


def public_outputs(component: pulumi.ComponentResource) -> dict[str, Any]:
    """The attributes the component's class declares, as `register_outputs` takes them.

    A value-object attribute (a dataclass such as `PodEnv`) contributes its fields: the engine
    stores plain values and resource references, not Python objects.
    """
    outputs: dict[str, Any] = {}
    for name in inspect.get_annotations(type(component)):
        value = getattr(component, name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            outputs.update({field.name: getattr(value, field.name) for field in dataclasses.fields(value)})
        else:
            outputs[name] = value
    return outputs
