"""The public API, name by name: a change to it is deliberate (this list changes with it).

The top level holds what most users need; the rest lives in namespaces (the modules named
after what they hold). Private modules (a leading underscore) are not API.
"""

import importlib
import pkgutil

import pytest

import subspace

TOP_LEVEL = [
    "Data",
    "Grid",
    "Measurement",
    "Optimizer",
    "Progress",
    "Readout",
    "Run",
    "Schedule",
    "Subspace",
    "SweepError",
    "SweepResult",
    "Task",
    "estimators",
    "linen_task",
    "load_compressed",
    "make_baseline",
    "make_sweep",
    "make_trainer",
    "measure",
    "nnx_task",
    "projections",
    "rl",
    "save_compressed",
    "train_group",
    "wrap",
]

NAMESPACES = {
    "subspace.arithmetic_code": ["Message", "decode", "encode"],
    "subspace.bounds": ["Quantisation", "bound_members", "quantise_member"],
    "subspace.checkpoint": ["CheckpointError", "GroupCheckpoint"],
    "subspace.compress": [
        "CompressedModel",
        "SizeReport",
        "compressed_header",
        "load_compressed",
        "save_compressed",
        "size_report",
    ],
    "subspace.config": ["from_json", "override", "parse_value", "to_json"],
    "subspace.data": ["Data", "check_data", "step_indices"],
    "subspace.estimators": [
        "Backprop",
        "DQN",
        "ES",
        "ESTIMATORS",
        "Estimate",
        "Estimator",
        "Quantised",
        "QuantisedState",
        "backprop",
        "check_estimator",
        "dqn",
        "es",
        "from_json",
        "quantised",
        "to_json",
    ],
    "subspace.flatten": ["Leaf", "Unravel", "ravel"],
    "subspace.flax_tasks": ["LOSSES", "linen_task", "nnx_task"],
    "subspace.hadamard": ["METHODS", "fwht"],
    "subspace.intrinsic": ["DInt", "bootstrap_d_int", "d_int", "mean_by_d"],
    "subspace.fingerprints": ["data_fingerprint", "task_fingerprint"],
    "subspace.loop": ["LOOPS", "init_group", "train_group"],
    "subspace.measurement": [
        "Grid",
        "MAX_DIMS",
        "Measurement",
        "Run",
        "Schedule",
        "split_keywords",
    ],
    "subspace.memory": ["compiled_bytes", "default_budget", "group_size", "program_bytes"],
    "subspace.optimizers": ["Optimizer"],
    "subspace.pac_bayes": ["choice_bits", "error_bound", "prefix_free_bits"],
    "subspace.progress": ["Progress", "Silent", "TextProgress", "TqdmProgress", "make_progress"],
    "subspace.projections": [
        "PROJECTIONS",
        "Projection",
        "STORED",
        "block_size_for",
        "dense",
        "fastfood",
        "kronqr",
        "linear_map",
        "lottery",
        "sparse",
    ],
    "subspace.quantise": [
        "assign",
        "kmeans_codebook",
        "quantise_member",
        "straight_through",
        "uniform_codebook",
    ],
    "subspace.readout": ["Readout"],
    "subspace.report": ["plot", "summary"],
    "subspace.results": [
        "ResultsError",
        "SCHEMA_VERSION",
        "SweepError",
        "SweepResult",
        "TrainedMember",
        "load_results",
    ],
    "subspace.rl": ["brax_task", "episode_return", "gymnax_task", "q_task"],
    "subspace.dqn": ["DQN", "DQNState", "Transitions", "dqn"],
    "subspace.theta0": ["burn_in", "load_theta0", "with_theta0"],
    "subspace.lottery": ["LotteryState", "principal_directions", "trajectory"],
    "subspace.runner": ["REFINE_K", "measure"],
    "subspace.search": ["SearchResult", "bracket", "refine_dims", "search"],
    "subspace.sharding": [
        "MEMBER_AXIS",
        "constrain_members",
        "member_array",
        "member_mesh",
        "pad_members",
        "replicated_array",
        "to_host",
    ],
    "subspace.sweep": [
        "MAX_SEED",
        "Member",
        "Sweep",
        "SweepState",
        "check_members",
        "d_mask",
        "make_baseline",
        "make_sweep",
        "member_keys",
        "member_subspace",
        "padded_options",
    ],
    "subspace.task": ["EvalFn", "LossFn", "Task", "check_task", "init_shapes", "initialised"],
    "subspace.train": ["MAX_STEPS", "TrainState", "Trainer", "make_trainer"],
    "subspace.wrap": ["Subspace", "wrap"],
}


def test_the_top_level_is_short_and_listed():
    assert sorted(subspace.__all__) == TOP_LEVEL
    for name in TOP_LEVEL:
        assert getattr(subspace, name) is not None
    assert len(TOP_LEVEL) <= 25


@pytest.mark.parametrize("module", sorted(NAMESPACES))
def test_every_namespace_lists_its_names(module):
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == NAMESPACES[module]
    for name in mod.__all__:
        assert hasattr(mod, name), name


def test_every_public_module_is_listed():
    public = {
        f"subspace.{m.name}"
        for m in pkgutil.iter_modules(subspace.__path__)
        if not m.name.startswith("_")
    }
    assert public == set(NAMESPACES)


def test_a_top_level_name_is_the_namespace_object():
    # One object, two addresses: the top level re-exports, it does not copy.
    for name in TOP_LEVEL:
        obj = getattr(subspace, name)
        homes = [m for m, names in NAMESPACES.items() if name in names]
        for home in homes:
            assert getattr(importlib.import_module(home), name) is obj, (name, home)
