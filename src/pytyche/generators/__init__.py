"""Simulated experiments with known truth: the v2 potential-outcomes generator and templates.

``generate_v2_core`` runs the pipeline on an explicit :class:`V2GeneratorConfig`;
``simulate`` runs a registered scenario template (see :data:`TEMPLATES`). Both return a
:class:`~pytyche.contracts.CalibrationBundle` whose truth is aligned to the observed rows.
The designs of :mod:`pytyche.generators.designs` (``hmc_design`` and others) are the BCF
literature's benchmarks, as plain arrays with the true effect.
"""

from __future__ import annotations

from pytyche.generators.cart import CartRevenueConfig
from pytyche.generators.core import (
    AssignmentConfig,
    MetricMode,
    TruthResult,
    V2GeneratorConfig,
    assign_and_observe,
    build_bundle,
    build_truth,
    compute_potential_outcomes,
    default_treatment_names,
    generate_v2_core,
)
from pytyche.generators.designs import (
    ArrayDesign,
    hmc_design,
    hurdle_design,
    multilevel_moderator_design,
    weak_signal_rct,
)
from pytyche.generators.features import (
    CLUSTER_ID_COLUMN,
    CopulaConfig,
    FeatureSamplerConfig,
    FeatureSpec,
    MixtureConfig,
    sample_features,
    visitor_schema,
)
from pytyche.generators.scenarios import (
    ARCHETYPES,
    DEFAULT_EFFECT_SCALE,
    TEMPLATES,
    Scenario,
    simulate,
)
from pytyche.generators.surfaces import (
    SurfaceConfig,
    add_surfaces,
    multiply_surfaces,
    sigmoid_surface,
    threshold_surface,
)

__all__ = [
    "ARCHETYPES",
    "CLUSTER_ID_COLUMN",
    "DEFAULT_EFFECT_SCALE",
    "TEMPLATES",
    "ArrayDesign",
    "AssignmentConfig",
    "CartRevenueConfig",
    "CopulaConfig",
    "FeatureSamplerConfig",
    "FeatureSpec",
    "MetricMode",
    "MixtureConfig",
    "Scenario",
    "SurfaceConfig",
    "TruthResult",
    "V2GeneratorConfig",
    "add_surfaces",
    "assign_and_observe",
    "build_bundle",
    "build_truth",
    "compute_potential_outcomes",
    "default_treatment_names",
    "generate_v2_core",
    "hmc_design",
    "hurdle_design",
    "multilevel_moderator_design",
    "multiply_surfaces",
    "sample_features",
    "sigmoid_surface",
    "simulate",
    "threshold_surface",
    "visitor_schema",
    "weak_signal_rct",
]
