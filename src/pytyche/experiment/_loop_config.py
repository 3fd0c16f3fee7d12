"""The loop's configuration in the experiment store: what is written, what resume reads back.

A resumed experiment must run as the original one did, so what cannot be written (the
generator, a custom schedule, rule or cell policy, a calibration) is recorded by name at most,
and resume asks for it again rather than silently using a default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytyche.errors import StoreError
from pytyche.experiment._graduation import ExpectedLossRule, GraduationRule
from pytyche.experiment.cells import Cell
from pytyche.experiment.policies import policy_from_dict, policy_to_dict
from pytyche.experiment.schedule import Schedule, schedule_from_dict, schedule_to_dict

if TYPE_CHECKING:  # pragma: no cover
    from pytyche.experiment.sequential import SequentialExperiment

__all__ = ["calibration_record", "config_record", "resume_arguments", "storable"]


def storable(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` as stored in the store's config; refuse what JSON cannot hold.

    A resumed experiment must run with the options of the original one, so an option that
    cannot be written is an error here rather than silently missing after ``resume``.
    """
    import json

    bad = []
    for key, value in options.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            bad.append(key)
    if bad:
        msg = (f"{name} {sorted(bad)} cannot be written to the experiment store (not JSON: "
               f"numbers, strings, lists and dicts only), so resume could not restore them; "
               "pass plain values, or run without store=")
        raise StoreError(msg)
    return dict(options)


def calibration_record(calibration: Any) -> dict[str, Any] | None:
    """What the store keeps about the calibration: enough for resume to insist on it."""
    if calibration is None:
        return None
    return {"name": str(getattr(calibration, "name", type(calibration).__name__)),
            "applied": bool(getattr(calibration, "applied", True))}


def config_record(exp: SequentialExperiment) -> dict[str, Any]:
    """The configuration of ``exp`` written to its store; refuses what resume could not restore.

    Reads the loop's private settings: this module is the loop's persistence and nothing else's.
    """
    rule = exp._graduation_rule
    config = exp._fit_config
    if config is not None and not callable(getattr(config, "to_dict", None)):
        msg = (f"fit_config of type {type(config).__name__} cannot be written to the "
               "experiment store; pass a GPUBCFConfig")
        raise StoreError(msg)
    if rule is None or type(rule) is ExpectedLossRule:  # a subclass may change behaviour
        rule_record = None if rule is None else dataclasses.asdict(rule)
    else:  # kept by name only: resume asks for it again instead of using the default
        rule_record = {"custom": type(rule).__qualname__}
    return {
        "treatments": exp._treatments,
        "schedule": schedule_to_dict(exp._schedule),
        "cells": ([{"id": c.id, "weight": c.weight, "policy": policy_to_dict(c.policy)}
                   for c in exp._cells] if exp._cells is not None else None),
        "min_control_weight": exp._min_control_weight,
        "min_explore_weight": exp._min_explore_weight,
        "max_segment_depth": exp._max_segment_depth,
        "min_segment_share": exp._min_segment_share,
        "graduation_rule": rule_record,
        "seed": exp._seed,
        "fit_config": None if config is None else config.to_dict(),
        "fit_options": storable("fit_options", exp._fit_options),
        "analysis_options": storable("analysis_options", exp._analysis_options),
        "calibration": calibration_record(exp._calibration),
    }


def resume_arguments(
    cfg: Mapping[str, Any],
    store: str | Path,
    *,
    schedule: Schedule | None,
    calibration: Any,
    graduation_rule: GraduationRule | None,
    cells: list[Cell] | None,
    fit_options: Mapping[str, Any] | None,
    analysis_options: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """:class:`SequentialExperiment` keyword arguments (all but ``generator`` and ``progress``)
    from a store's configuration and what the caller passed again.

    Raises
    ------
    StoreError
        Something the store could not hold was not passed again (the message names it).
    KeyError, TypeError
        The configuration is unreadable (``resume`` says so as a StoreError).
    """
    if schedule is None:
        if cfg.get("schedule") is None:
            msg = (f"store {str(store)!r} used a custom schedule, which is not stored; "
                   "pass schedule= to resume")
            raise StoreError(msg)
        schedule = schedule_from_dict(cfg["schedule"])
    stored_rule = cfg.get("graduation_rule")
    if graduation_rule is None and stored_rule is not None:
        if "custom" in stored_rule:
            msg = (f"store {str(store)!r} used the custom graduation rule "
                   f"{stored_rule['custom']}, which is not stored; pass "
                   "graduation_rule= to resume")
            raise StoreError(msg)
        graduation_rule = ExpectedLossRule(**stored_rule)
    stored_cal = cfg.get("calibration")
    if calibration is None and stored_cal is not None and not stored_cal["applied"]:
        from pytyche.calibrate import Calibration

        calibration = Calibration.skip()  # nothing to restore but the label
    if calibration is None and stored_cal is not None:
        msg = (f"store {str(store)!r} ran with calibration {stored_cal['name']!r}, "
               "which is not stored; pass calibration= (the same Calibration) to "
               "resume")
        raise StoreError(msg)
    fit_config = None
    if cfg.get("fit_config") is not None:
        from pytyche.bcf.config import GPUBCFConfig

        fit_config = GPUBCFConfig(**cfg["fit_config"])
    if cells is None and cfg.get("cells") is not None:
        custom = [c["id"] for c in cfg["cells"] if c["policy"].get("type") == "custom"]
        if custom:
            msg = (f"store {str(store)!r}: round-0 cells {custom} used custom "
                   "policies, which are not stored; pass cells= to resume")
            raise StoreError(msg)
        cells = [Cell(c["id"], policy_from_dict(c["policy"]), float(c["weight"]))
                 for c in cfg["cells"]]
    return {
        "schedule": schedule, "treatments": cfg["treatments"], "cells": cells,
        "min_control_weight": cfg["min_control_weight"],
        "min_explore_weight": cfg["min_explore_weight"],
        "max_segment_depth": cfg["max_segment_depth"],
        "min_segment_share": cfg["min_segment_share"], "calibration": calibration,
        "graduation_rule": graduation_rule, "seed": cfg["seed"], "fit_config": fit_config,
        "fit_options": fit_options if fit_options is not None else cfg.get("fit_options"),
        "analysis_options": (analysis_options if analysis_options is not None
                             else cfg.get("analysis_options")),
    }
