"""The sequential experiment (L1): cells, policies, schedules, recommendations, the loop.

Run an adaptive A/B/N experiment round by round, on simulated data (with known truth) or on
real data read from files or a database::

    import pytyche.experiment as px
    gen = px.simulated_experiment_generator(template="clustered_realistic",
                                            metric="revenue_per_visitor", effect_scale=1.0, K=3)
    exp = px.sequential_experiment(generator=gen, schedule=px.GeometricSchedule(2000, n_rounds=3),
                                   treatments=["control", "treatment_1", "treatment_2"])
    for round_ in exp:
        print(round_.summary_one_line())

Importing this package loads neither JAX, bartz nor matplotlib; fits load them on first use.
"""

from typing import TYPE_CHECKING, Any

from pytyche.errors import StoreError, UncalibratedWarning
from pytyche.experiment.cells import (
    CONTROL_CELL,
    EXPLORE_CELL,
    OPTIMIZED_CELL,
    Cell,
    blend_probabilities,
    validate_cell_weights,
)
from pytyche.experiment.demo import run_demo
from pytyche.experiment.experiment import (
    CellObservation,
    Experiment,
    Round,
    compute_cell_observations,
)
from pytyche.experiment.policies import (
    BaselinePolicy,
    Policy,
    ThompsonPolicy,
    TreePolicy,
    TreeRouting,
    UniformPolicy,
    assign_treatments,
    draw_treatments,
    epsilon_clip,
)
from pytyche.experiment.real_data import (
    export_assignment,
    export_policy_rules,
    real_data_generator,
    validate_round_data,
)
from pytyche.experiment.recommendation import (
    ExpectedLossRule,
    GraduationCandidate,
    GraduationRule,
    NextRoundPlan,
    cold_start_plan,
    next_fit_num_trees_tau,
    recommend,
)
from pytyche.experiment.schedule import (
    ExplicitSchedule,
    FixedSchedule,
    GeometricSchedule,
    Schedule,
)
from pytyche.experiment.sequential import (
    Generator,
    SequentialExperiment,
    build_cumulative,
    cumulative_truth,
    sequential_experiment,
    stitch_rounds,
)
from pytyche.experiment.simulate import simulated_experiment_generator
from pytyche.experiment.store import ExperimentStore

if TYPE_CHECKING:
    from pytyche.analysis._truth import TruthComparison

__all__ = [
    "CONTROL_CELL",
    "EXPLORE_CELL",
    "OPTIMIZED_CELL",
    "BaselinePolicy",
    "Cell",
    "CellObservation",
    "ExpectedLossRule",
    "Experiment",
    "ExperimentStore",
    "ExplicitSchedule",
    "FixedSchedule",
    "Generator",
    "GeometricSchedule",
    "GraduationCandidate",
    "GraduationRule",
    "NextRoundPlan",
    "Policy",
    "Round",
    "Schedule",
    "SequentialExperiment",
    "StoreError",
    "ThompsonPolicy",
    "TreePolicy",
    "TreeRouting",
    "TruthComparison",
    "UncalibratedWarning",
    "UniformPolicy",
    "assign_treatments",
    "blend_probabilities",
    "build_cumulative",
    "cold_start_plan",
    "compute_cell_observations",
    "cumulative_truth",
    "draw_treatments",
    "epsilon_clip",
    "export_assignment",
    "export_policy_rules",
    "next_fit_num_trees_tau",
    "real_data_generator",
    "recommend",
    "run_demo",
    "sequential_experiment",
    "simulated_experiment_generator",
    "stitch_rounds",
    "validate_cell_weights",
    "validate_round_data",
]


def __getattr__(name: str) -> Any:
    # The sim-mode truth metrics are defined in the analysis layer; load it only when asked.
    if name == "TruthComparison":
        from pytyche.analysis._truth import TruthComparison

        return TruthComparison
    msg = f"module 'pytyche.experiment' has no attribute {name!r}"
    raise AttributeError(msg)
