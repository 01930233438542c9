"""Every public function refuses bad input with a clear error, before any expensive work.

One table of (what it covers, call, exception, message) cases. A message must name the
argument and the allowed values. Callables handed to the library (a task's ``init``, a
search's ``train``, a sweep's ``init``) are spies: a refusal must come before any of them
runs. The last test checks that every public name is covered by a case or listed, with a
reason, as taking no arguments worth validating, so a new public function without
validation fails it.
"""

import importlib
import inspect
import types

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import subspace
from subspace import (
    Data,
    Task,
    arithmetic_code,
    bounds,
    checkpoint,
    config,
    data,
    estimators,
    fingerprints,
    intrinsic,
    measurement,
    memory,
    pac_bayes,
    quantise,
    report,
    rl,
    search,
    sharding,
    sweep,
    task,
)
from subspace.config import from_json
from subspace.sweep import Member

MODULES = [
    "subspace",
    "subspace.flatten",
    "subspace.hadamard",
    "subspace.projections",
    "subspace.wrap",
    "subspace.train",
    "subspace.sweep",
    "subspace.loop",
    "subspace.memory",
    "subspace.sharding",
    "subspace.intrinsic",
    "subspace.search",
    "subspace.compress",
    "subspace.checkpoint",
    "subspace.task",
    "subspace.data",
    "subspace.estimators",
    "subspace.optimizers",
    "subspace.config",
    "subspace.measurement",
    "subspace.readout",
    "subspace.runner",
    "subspace.progress",
    "subspace.results",
    "subspace.fingerprints",
    "subspace.report",
    "subspace.flax_tasks",
    "subspace.rl",
    "subspace.dqn",
    "subspace.lottery",
    "subspace.theta0",
    "subspace.pac_bayes",
    "subspace.arithmetic_code",
    "subspace.quantise",
    "subspace.bounds",
]

# Public names that are containers, results, types or constants: nothing to validate.
NO_ARGUMENTS = {
    "PROJECTIONS": "a dict of the factories, each covered",
    "STORED": "a constant, the kinds whose P is given (lottery)",
    "LotteryState": "a NamedTuple, the given U, checked by wrap",
    "CompressedModel": "a result of load_compressed",
    "SizeReport": "a result of size_report",
    "Data": "a NamedTuple of arrays, validated by check_data (train_group, measure)",
    "Leaf": "a row of Unravel's table, built by ravel",
    "Member": "a NamedTuple (d, seed), validated by member_subspace",
    "EvalFn": "a type alias",
    "Estimate": "a NamedTuple an estimator returns",
    "Estimator": "a Protocol: the two functions of every estimator",
    "ESTIMATORS": "a dict of the estimator classes by name (covered through from_json)",
    "Backprop": "a dataclass without fields",
    "Sweep": "a NamedTuple of a sweep's functions, built by make_sweep/make_baseline",
    "estimators": "a namespace: subspace.estimators, covered name by name",
    "projections": "a namespace: subspace.projections, covered name by name",
    "rl": "a namespace: subspace.rl, covered name by name",
    "MAX_DIMS": "a constant, the most values of d in a measurement",
    "MAX_SEED": "a constant, the largest seed",
    "MAX_STEPS": "a constant, the most steps of a member (an int32 counter)",
    "TrainedMember": "a result of SweepResult.member",
    "ResultsError": "an exception type raised by load_results",
    "TrainState": "a NamedTuple built by Trainer.init",
    "SweepState": "a NamedTuple built by Sweep.init",
    "LossFn": "a type alias",
    "DInt": "a result of d_int",
    "SearchResult": "a result of search",
    "MEMBER_AXIS": "a constant, the mesh axis name",
    "METHODS": "a constant, the names fwht accepts (covered through fwht)",
    "CheckpointError": "an exception type raised by GroupCheckpoint.restore",
    "SweepError": "an exception type raised by measure",
    "SweepResult": "a result of measure (SweepResult.load reads one: covered by load_results)",
    "Progress": "a base class of callbacks (measure checks what it is given)",
    "Silent": "a Progress that reports nothing",
    "TqdmProgress": "a Progress with no arguments",
    "REFINE_K": "a constant, the values of d per refinement pass",
    "SCHEMA_VERSION": "a constant, the results.json schema version",
    "LOOPS": "a constant, the loop forms train_group's loop takes (checked there)",
    "LOSSES": "a constant, the named losses linen_task/nnx_task accept (covered there)",
    "QuantisedState": "a NamedTuple built by Quantised.init",
    "DQNState": "a NamedTuple built by DQN.init",
    "Transitions": "a NamedTuple, DQN's replay buffer, built by DQN.init",
    "Message": "a NamedTuple built by encode",
}


class Context:
    """Small real objects for the calls, built once; ``calls`` records the spies."""

    def __init__(self, tmp):
        self.calls = []
        self.key = jax.random.key(0)
        self.params = {"b": jnp.zeros(4), "w": jnp.ones((2, 3))}  # D = 10
        self.flat, self.unravel = subspace.flatten.ravel(self.params)
        self.sub = subspace.wrap(self.params, 4, projection="dense", key=self.key)
        self.task = Task(init=self.spy("task.init"), loss_fn=self.spy("task.loss_fn"))
        self.trainer = subspace.make_trainer(
            lambda z, s, b, k: (jnp.sum(z**2), (s, {})), optax.sgd(0.1)
        )
        self.state = self.trainer.init(jnp.zeros(3), key=self.key)
        self.sweep = types.SimpleNamespace(
            init=self.spy("sweep.init"),
            update=self.spy("sweep.update"),
            update_each=self.spy("sweep.update_each"),
            evaluate=self.spy("sweep.evaluate"),
            width=8,
            trained=self.spy("sweep.trained"),
        )
        self.members = (np.array([2, 4, 8]), np.array([0, 1, 2]))
        x, y = np.zeros((10, 2), np.float32), np.zeros(10, np.int32)
        self.data = Data(x, y, x, y)
        self.tmp = tmp
        self.path = subspace.save_compressed(
            tmp / "model.npz", self.sub, self.sub.zeros(), key=self.key, store_theta0=True
        )
        self.mesh = sharding.member_mesh()

    def spy(self, name):
        def spy(*args, **kwargs):
            self.calls.append(name)
            raise AssertionError(f"{name} was called before the bad input was refused")

        return spy


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    return Context(tmp_path_factory.mktemp("bad_input"))


def case(covers, call, exc, match, id):
    return pytest.param(covers, call, exc, match, id=id)


PROJ = r"\['dense', 'fastfood', 'kronqr', 'lottery', 'sparse'\]"
Z4 = r"z must have shape \(4,\)"
NOT_AN_OPTION = (
    r"unexpected keyword option 'density' for projection 'dense'; its options are \['max"
)


def _projection_cases():
    cases = []
    for name in ["dense", "sparse", "fastfood", "kronqr"]:
        f = getattr(subspace.projections, name)
        cases += [
            case(
                f,
                lambda c, f=f: f(10, 0),
                ValueError,
                r"d .* integer in \[1, D=10\]",
                f"{name}-d<1",
            ),
            case(
                f,
                lambda c, f=f: f(10, 11),
                ValueError,
                r"d .* in \[1, D=10\]; got 11",
                f"{name}-d>D",
            ),
            case(
                f, lambda c, f=f: f(10, 2.5), TypeError, "d must be an integer", f"{name}-d-float"
            ),
            case(
                f,
                lambda c, f=f: f(10, True),
                TypeError,
                "d must be an integer; got bool",
                f"{name}-d-b",
            ),
            case(f, lambda c, f=f: f(10, "3"), TypeError, "d must be an integer", f"{name}-d-str"),
            case(f, lambda c, f=f: f(0, 1), ValueError, r"D .* integer >= 1; got 0", f"{name}-D<1"),
            case(
                f, lambda c, f=f: f(10.0, 1), TypeError, "D must be an integer", f"{name}-D-float"
            ),
            case(
                f,
                lambda c, f=f: f(10, 2, dtype=jnp.int32),
                TypeError,
                "dtype must be a floating-point dtype",
                f"{name}-dtype-int",
            ),
            case(
                f,
                lambda c, f=f: f(10, 2, dtype="nope"),
                TypeError,
                "floating-point",
                f"{name}-dtype",
            ),
            # apply checks z before it touches the state, so no state (no compile) needed.
            case(
                subspace.projections.Projection,
                lambda c, f=f: f(10, 4).apply(None, jnp.ones(5)),
                ValueError,
                Z4,
                f"{name}-apply-z-shape",
            ),
            case(
                subspace.projections.Projection,
                lambda c, f=f: f(10, 4).apply(None, jnp.ones((1, 4))),
                ValueError,
                Z4,
                f"{name}-apply-z-batched",
            ),
            case(
                subspace.projections.Projection,
                lambda c, f=f: f(10, 4).apply(None, jnp.ones(4, jnp.int32)),
                TypeError,
                "z must have dtype float32",
                f"{name}-apply-z-dtype",
            ),
            case(
                subspace.projections.Projection,
                lambda c, f=f: f(10, 4).apply(None, [0.0] * 4),
                TypeError,
                r"z must be an array of shape \(4,\)",
                f"{name}-apply-z-list",
            ),
            case(
                subspace.projections.Projection,
                lambda c, f=f: f(10, 4).init(None),
                TypeError,
                "key is required",
                f"{name}-init-no-key",
            ),
            case(
                subspace.projections.Projection,
                lambda c, f=f: f(10, 4).init(jax.random.split(c.key, 2)),
                TypeError,
                "key must be a single PRNG key",
                f"{name}-init-keys",
            ),
            case(
                subspace.projections.Projection,
                lambda c, f=f: f(10, 4).init(jnp.ones(2)),
                TypeError,
                "key must be a single PRNG key",
                f"{name}-init-float",
            ),
        ]
    return cases


CASES = [
    # --- lottery ---
    case(
        subspace.lottery.principal_directions,
        lambda c: subspace.lottery.principal_directions(np.ones((2, 10)), 3),
        ValueError,
        "a trajectory of 2 displacements spans at most 2 directions",
        "lottery-short",
    ),
    case(
        subspace.lottery.trajectory,
        lambda c: subspace.lottery.trajectory(
            c.task, optax.sgd(0.1), steps=5, every=2, data=c.data, batch_size=2
        ),
        ValueError,
        "steps must be a multiple of every = 2; got 5",
        "lottery-every",
    ),
    case(
        subspace.projections.lottery,
        lambda c: subspace.projections.lottery(10, 4, width=3),
        ValueError,
        r"lottery: width must be an integer in \[d = 4, D = 10\]; got 3",
        "lottery-width",
    ),
    # --- theta0 ---
    case(
        subspace.theta0.with_theta0,
        lambda c: subspace.theta0.with_theta0(c.params, c.params),
        TypeError,
        "with_theta0: task must be a subspace.Task",
        "theta0-task",
    ),
    case(
        subspace.theta0.load_theta0,
        lambda c: subspace.theta0.load_theta0(c.task, c.tmp / "absent.npz"),
        FileNotFoundError,
        "load_theta0: .*absent.npz: no such file or folder",
        "theta0-no-file",
    ),
    case(
        subspace.theta0.burn_in,
        lambda c: subspace.theta0.burn_in(
            c.task, optax.sgd(0.1), steps=-1, data=c.data, batch_size=2, seeds=[0]
        ),
        ValueError,
        "burn_in: steps must be an integer >= 0; got -1",
        "theta0-burn-in-steps",
    ),
    # --- bounds ---
    case(
        pac_bayes.error_bound,
        lambda c: pac_bayes.error_bound(1.5, 10, 100),
        ValueError,
        r"error_bound: train_error must be a finite number in \[0, 1\]; got 1.5",
        "bound-train-error",
    ),
    case(
        pac_bayes.error_bound,
        lambda c: pac_bayes.error_bound(0.1, 10, 0),
        ValueError,
        "error_bound: n must be an integer >= 1; got 0",
        "bound-n",
    ),
    case(
        pac_bayes.error_bound,
        lambda c: pac_bayes.error_bound(0.1, 10, 100, delta=1.0),
        ValueError,
        r"error_bound: delta must be a finite number in \(0, 1\); got 1.0",
        "bound-delta",
    ),
    case(
        pac_bayes.error_bound,
        lambda c: pac_bayes.error_bound(0.1, float("nan"), 100),
        ValueError,
        "error_bound: kl_bits must be a finite number in",
        "bound-kl-bits",
    ),
    case(
        pac_bayes.prefix_free_bits,
        lambda c: pac_bayes.prefix_free_bits(0.5),
        ValueError,
        r"prefix_free_bits: bits must be a finite number in \[1, inf\]; got 0.5",
        "prefix-free-bits",
    ),
    case(
        pac_bayes.choice_bits,
        lambda c: pac_bayes.choice_bits(4, 0),
        ValueError,
        r"choice_bits: counts\[1\] must be an integer >= 1; got 0",
        "choice-bits",
    ),
    case(
        arithmetic_code.encode,
        lambda c: arithmetic_code.encode(np.array([0, 3]), 3),
        ValueError,
        r"encode: symbols must be in \[0, 3\); got \[0, 3\]",
        "encode-symbols",
    ),
    case(
        arithmetic_code.decode,
        lambda c: arithmetic_code.decode(np.zeros(1, np.uint32), np.array([2, 2]), 5),
        ValueError,
        "decode: counts must be >= 0 and sum to d = 5; got sum 4",
        "decode-counts",
    ),
    case(
        quantise.uniform_codebook,
        lambda c: quantise.uniform_codebook(jnp.zeros(4), 1),
        ValueError,
        "uniform_codebook: levels must be an integer >= 2; got 1",
        "uniform-codebook-levels",
    ),
    case(
        quantise.kmeans_codebook,
        lambda c: quantise.kmeans_codebook(jnp.zeros(4), 3, iterations=0),
        ValueError,
        "kmeans_codebook: iterations must be an integer >= 1; got 0",
        "kmeans-iterations",
    ),
    case(
        quantise.assign,
        lambda c: quantise.assign(jnp.zeros(4), jnp.zeros((2, 2))),
        ValueError,
        r"assign: codebook must be a 1-D array of levels; got shape \(2, 2\)",
        "assign-codebook",
    ),
    case(
        quantise.straight_through,
        lambda c: quantise.straight_through(jnp.zeros(4), 0.5),
        ValueError,
        "straight_through: codebook must be a 1-D array of levels",
        "straight-through-codebook",
    ),
    case(
        estimators.quantised,
        lambda c: estimators.quantised(1),
        ValueError,
        "quantised: levels must be an integer >= 2; got 1",
        "quantised-levels",
    ),
    case(
        estimators.Quantised,
        lambda c: estimators.Quantised(4, learning_rate=-1.0),
        ValueError,
        "quantised: learning_rate must be a finite number > 0",
        "quantised-class-lr",
    ),
    case(
        bounds.Quantisation,
        lambda c: bounds.Quantisation(levels=(7, 7)),
        ValueError,
        r"Quantisation: levels must not repeat; got \(7, 7\)",
        "quantisation-levels",
    ),
    case(
        bounds.quantise_member,
        lambda c: bounds.quantise_member(np.array([0.1, np.nan]), np.zeros(2)),
        ValueError,
        "quantise_member: z must be a finite 1-D array",
        "quantise-member-z",
    ),
    case(
        bounds.bound_members,
        lambda c: bounds.bound_members(None, c.task, c.data, quantisation={"levels": 7}),
        TypeError,
        "bound_members: quantisation must be a subspace.bounds.Quantisation",
        "bound-members-quantisation",
    ),
    # --- flatten ---
    case(
        subspace.flatten.ravel,
        lambda c: subspace.flatten.ravel({}),
        ValueError,
        "no leaves",
        "ravel-empty",
    ),
    case(
        subspace.flatten.ravel,
        lambda c: subspace.flatten.ravel({"a": None, "b": []}),
        ValueError,
        "no leaves",
        "ravel-only-empty-nodes",
    ),
    case(
        subspace.flatten.ravel,
        lambda c: subspace.flatten.ravel({"w": jnp.arange(3)}),
        TypeError,
        r"leaf \['w'\] has dtype int32; only floating-point leaves",
        "ravel-int",
    ),
    case(
        subspace.flatten.ravel,
        lambda c: subspace.flatten.ravel({"w": jnp.ones(2, bool)}),
        TypeError,
        r"leaf \['w'\] has dtype bool",
        "ravel-bool",
    ),
    case(
        subspace.flatten.ravel,
        lambda c: subspace.flatten.ravel({"w": jnp.ones(2, jnp.complex64)}),
        TypeError,
        "complex64; only floating-point",
        "ravel-complex",
    ),
    case(
        subspace.flatten.ravel,
        lambda c: subspace.flatten.ravel({"w": "float32"}),
        TypeError,
        r"leaf \['w'\] is a str; leaves must be floating-point arrays",
        "ravel-str",
    ),
    case(
        subspace.flatten.ravel,
        lambda c: subspace.flatten.ravel([np.float32]),
        TypeError,
        r"leaf \[0\] is a type; leaves must be floating-point arrays",
        "ravel-type",
    ),
    case(
        subspace.flatten.Unravel,
        lambda c: c.unravel(c.flat[:-1]),
        ValueError,
        r"flat must have shape \(10,\)",
        "unravel-shape",
    ),
    case(
        subspace.flatten.Unravel,
        lambda c: c.unravel(c.flat[None]),
        ValueError,
        r"flat must have shape \(10,\)",
        "unravel-batched",
    ),
    case(
        subspace.flatten.Unravel,
        lambda c: c.unravel(c.flat.astype(jnp.bfloat16)),
        TypeError,
        "flat must have dtype float32",
        "unravel-dtype",
    ),
    # --- hadamard ---
    case(
        subspace.hadamard.fwht,
        lambda c: subspace.hadamard.fwht(jnp.float32(1)),
        ValueError,
        "at least one axis",
        "fwht-scalar",
    ),
    case(
        subspace.hadamard.fwht,
        lambda c: subspace.hadamard.fwht(jnp.ones(3)),
        ValueError,
        r"power of two \(1, 2, 4, ...\); got 3",
        "fwht-3",
    ),
    case(
        subspace.hadamard.fwht,
        lambda c: subspace.hadamard.fwht(jnp.ones((2, 0))),
        ValueError,
        "power of two .*; got 0",
        "fwht-0",
    ),
    case(
        subspace.hadamard.fwht,
        lambda c: subspace.hadamard.fwht(jnp.ones(4, jnp.int32)),
        TypeError,
        r"floating point \(float16, bfloat16, float32, float64\); got int32",
        "fwht-int",
    ),
    case(
        subspace.hadamard.fwht,
        lambda c: subspace.hadamard.fwht(jnp.ones(4), method="fft"),
        ValueError,
        r"method must be one of \('kronecker', 'butterfly'\); got 'fft'",
        "fwht-method",
    ),
    case(
        subspace.projections.fastfood,
        lambda c: subspace.projections.fastfood(10, 2, fwht_method="fft"),
        ValueError,
        r"fastfood: fwht_method must be one of \('kronecker', 'butterfly'\); got 'fft'",
        "fastfood-fwht-method",
    ),
    case(
        subspace.projections.fastfood,
        lambda c: subspace.projections.fastfood(10, 2, shared_input=1),
        TypeError,
        "fastfood: shared_input must be True or False; got 1",
        "fastfood-shared-input",
    ),
    # --- projection options ---
    *[
        case(
            subspace.projections.sparse,
            lambda c, v=v: subspace.projections.sparse(10, 2, density=v),
            exc,
            r"density must be (a float )?in \(0, 1\]",
            f"sparse-density-{v}",
        )
        for v, exc in [
            (0.0, ValueError),
            (1.5, ValueError),
            (-0.1, ValueError),
            (float("nan"), ValueError),
            ("0.1", TypeError),
            (True, TypeError),
        ]
    ],
    *[
        case(
            subspace.projections.fastfood,
            lambda c, v=v: subspace.projections.fastfood(10, 4, block_size=v),
            exc,
            match,
            f"fastfood-block_size-{v}",
        )
        for v, exc, match in [
            (3, ValueError, "block_size must be a power of two >= d = 4; got 3"),
            (2, ValueError, "block_size must be a power of two >= d = 4; got 2"),
            (0, ValueError, "block_size must be a power of two >= d = 4; got 0"),
            (True, TypeError, "block_size must be an integer"),
            (4.0, TypeError, "block_size must be an integer"),
        ]
    ],
    case(
        subspace.projections.dense,
        lambda c: subspace.projections.dense(100, 10, max_bytes=1000),
        ValueError,
        "P would take .* > max_bytes = 1,000.*fastfood.*sparse",
        "dense-over-budget",
    ),
    case(
        subspace.projections.dense,
        lambda c: subspace.projections.dense(10, 2, max_bytes="1GB"),
        TypeError,
        "max_bytes must be a number of bytes > 0",
        "dense-max_bytes-str",
    ),
    case(
        subspace.projections.dense,
        lambda c: subspace.projections.dense(10, 2, max_bytes=-1),
        ValueError,
        "max_bytes must be a number of bytes > 0",
        "dense-max_bytes-negative",
    ),
    *_projection_cases(),
    # --- wrap and Subspace ---
    case(
        subspace.wrap,
        lambda c: subspace.wrap(c.params, 4, projection="gaussian", key=c.key),
        ValueError,
        f"projection must be one of {PROJ}; got 'gaussian'",
        "wrap-projection",
    ),
    case(
        subspace.wrap,
        lambda c: subspace.wrap(c.params, 4, projection=None, key=c.key),
        ValueError,
        f"projection must be one of {PROJ}",
        "wrap-projection-none",
    ),
    case(
        subspace.wrap,
        lambda c: subspace.wrap(c.params, 4),
        TypeError,
        "wrap: key is required",
        "wrap-no-key",
    ),
    case(
        subspace.wrap,
        lambda c: subspace.wrap(c.params, 4, key=0),
        TypeError,
        "wrap: key must be a single PRNG key",
        "wrap-int-key",
    ),
    case(
        subspace.wrap,
        lambda c: subspace.wrap(c.params, 0, key=c.key),
        ValueError,
        r"d \(subspace dimension\) must be an integer in \[1, D=10\]; got 0",
        "wrap-d<1",
    ),
    case(
        subspace.wrap,
        lambda c: subspace.wrap(c.params, 11, key=c.key),
        ValueError,
        r"in \[1, D=10\]; got 11",
        "wrap-d>D",
    ),
    case(
        subspace.wrap,
        lambda c: subspace.wrap(c.params, 2.0, key=c.key),
        TypeError,
        "d must be an integer; got float",
        "wrap-d-float",
    ),
    case(
        subspace.wrap,
        lambda c: subspace.wrap(c.params, True, key=c.key),
        TypeError,
        "d must be an integer; got bool",
        "wrap-d-bool",
    ),
    case(
        subspace.wrap,
        lambda c: subspace.wrap({}, 1, key=c.key),
        ValueError,
        "no leaves",
        "wrap-empty",
    ),
    case(
        subspace.wrap,
        lambda c: subspace.wrap({"w": jnp.zeros((0, 3))}, 1, key=c.key),
        ValueError,
        r"D \(number of parameters\) must be an integer >= 1; got 0",
        "wrap-D=0",
    ),
    case(
        subspace.wrap,
        lambda c: subspace.wrap({"w": jnp.arange(4)}, 1, key=c.key),
        TypeError,
        "only floating-point leaves",
        "wrap-int-leaves",
    ),
    case(
        subspace.wrap,
        lambda c: subspace.wrap(c.params, 2, key=c.key, dtype=jnp.float64),
        TypeError,
        "dtype is not an option",
        "wrap-dtype",
    ),
    case(
        subspace.wrap,
        lambda c: subspace.wrap(c.params, 2, projection="dense", key=c.key, density=0.1),
        TypeError,
        NOT_AN_OPTION,
        "wrap-unknown-option",
    ),
    case(
        subspace.wrap,
        lambda c: subspace.wrap(c.params, 2, key=c.key, block_size=[4]),
        TypeError,
        "option block_size must be a number",
        "wrap-unhashable-option",
    ),
    case(
        subspace.wrap,
        lambda c: subspace.wrap(c.params, 4, key=c.key, block_size=2),
        ValueError,
        "block_size must be a power of two >= d = 4",
        "wrap-block_size",
    ),
    case(
        subspace.Subspace,
        lambda c: c.sub.params(jnp.ones(5)),
        ValueError,
        Z4,
        "subspace-params-shape",
    ),
    case(
        subspace.Subspace,
        lambda c: c.sub.delta(jnp.ones(4, jnp.int32)),
        TypeError,
        "z must have dtype float32",
        "subspace-delta-dtype",
    ),
    case(
        subspace.Subspace,
        lambda c: c.sub.flat(np.ones(4, np.float64)),
        TypeError,
        "z must have dtype float32",
        "subspace-flat-float64",
    ),
    # --- train ---
    case(
        subspace.make_trainer,
        lambda c: subspace.make_trainer(3, optax.sgd(0.1)),
        TypeError,
        "loss_fn must be callable",
        "trainer-loss_fn",
    ),
    case(
        subspace.make_trainer,
        lambda c: subspace.make_trainer(c.spy("loss"), "adam"),
        TypeError,
        r"optimizer must be an optax.GradientTransformation \(e.g. optax.adam\(1e-3\)\); got str",
        "trainer-optimizer-str",
    ),
    case(
        subspace.make_trainer,
        lambda c: subspace.make_trainer(c.spy("loss"), optax.adam),
        TypeError,
        "optimizer must be an optax.GradientTransformation",
        "trainer-optimizer-factory",
    ),
    case(
        subspace.make_trainer,
        lambda c: subspace.make_trainer(c.spy("loss"), optax.sgd(0.1), eval_fn=3),
        TypeError,
        "eval_fn must be callable",
        "trainer-eval_fn",
    ),
    case(
        subspace.train.Trainer,
        lambda c: c.trainer.init(jnp.zeros(3)),
        TypeError,
        "Trainer.init: key is required",
        "trainer-init-no-key",
    ),
    case(
        subspace.train.Trainer,
        lambda c: c.trainer.init(jnp.arange(3), key=c.key),
        TypeError,
        r"z must be a floating-point array .* dtype int32",
        "trainer-init-int-z",
    ),
    case(
        subspace.train.Trainer,
        lambda c: c.trainer.init({"w": "zeros"}, key=c.key),
        TypeError,
        "z must be a floating-point array",
        "trainer-init-str-z",
    ),
    case(
        subspace.train.Trainer,
        lambda c: c.trainer.init({}, key=c.key),
        ValueError,
        "z has no leaves",
        "trainer-init-empty-z",
    ),
    *[
        case(
            subspace.train.Trainer,
            lambda c, v=v: c.trainer.scan(c.state, None, v),
            ValueError,
            "num_steps must be an integer >= 1",
            f"trainer-scan-{v}",
        )
        for v in [0, -3, 2.5, True]
    ],
    case(
        subspace.train.Trainer,
        lambda c: c.trainer.evaluate(c.state, None),
        ValueError,
        "make_trainer was given no eval_fn",
        "trainer-evaluate-no-eval_fn",
    ),
    # --- sweep ---
    case(
        subspace.make_sweep,
        lambda c: subspace.make_sweep(c.task, optax.sgd(0.1), projection="nope", width=4),
        ValueError,
        f"make_sweep: projection must be one of {PROJ}",
        "sweep-projection",
    ),
    *[
        case(
            subspace.make_sweep,
            lambda c, v=v: subspace.make_sweep(c.task, optax.sgd(0.1), projection="dense", width=v),
            exc,
            "width must be an integer",
            f"sweep-width-{v}",
        )
        for v, exc in [(0, ValueError), (-1, ValueError), (2.5, TypeError), (True, TypeError)]
    ],
    case(
        subspace.make_sweep,
        lambda c: subspace.make_sweep(c.task, "adam", projection="dense", width=4),
        TypeError,
        "make_sweep: optimizer must be an optax.GradientTransformation",
        "sweep-optimizer",
    ),
    case(
        subspace.make_sweep,
        lambda c: subspace.make_sweep(c.spy("init"), optax.sgd(0.1), projection="dense", width=4),
        TypeError,
        r"make_sweep: task must be a subspace.Task\(init, loss_fn, eval_fn\)",
        "sweep-task",
    ),
    case(
        subspace.Task,
        lambda c: Task(init=3, loss_fn=c.spy("loss")),
        TypeError,
        "Task: init must be callable; got 3",
        "task-init",
    ),
    case(
        subspace.Task,
        lambda c: Task(init=c.spy("init"), loss_fn=c.spy("loss"), eval_fn="accuracy"),
        TypeError,
        "Task: eval_fn must be callable or None",
        "task-eval_fn",
    ),
    case(
        task.check_task,
        lambda c: task.check_task((c.spy("init"), c.spy("loss")), "here"),
        TypeError,
        r"here: task must be a subspace.Task\(init, loss_fn, eval_fn\)",
        "check_task",
    ),
    case(
        subspace.make_sweep,
        lambda c: subspace.make_sweep(
            c.task, optax.sgd(0.1), projection="dense", width=4, theta0_seed=1.5
        ),
        TypeError,
        "theta0_seed must be an integer",
        "sweep-theta0_seed",
    ),
    case(
        subspace.make_sweep,
        lambda c: subspace.make_sweep(
            c.task, optax.sgd(0.1), projection="dense", width=4, density=0.1
        ),
        TypeError,
        NOT_AN_OPTION,
        "sweep-option",
    ),
    case(
        subspace.make_sweep,
        lambda c: subspace.make_sweep(c.task, optax.sgd(0.1), projection="dense", width=4).init(
            [2, 5], [0, 1]
        ),
        ValueError,
        r"every d must be an integer in \[1, width=4\]; got \[2, 5\]",
        "sweep-init-d>width",
    ),
    case(
        subspace.make_sweep,
        lambda c: subspace.make_sweep(c.task, optax.sgd(0.1), projection="dense", width=4).init(
            [0, 2], [0, 1]
        ),
        ValueError,
        r"in \[1, width=4\]; got \[0, 2\]",
        "sweep-init-d<1",
    ),
    case(
        subspace.make_sweep,
        lambda c: subspace.make_sweep(c.task, optax.sgd(0.1), projection="dense", width=4).init(
            [2, 3], [0]
        ),
        ValueError,
        "ds and seeds must be 1-D of the same non-zero length",
        "sweep-init-lengths",
    ),
    case(
        subspace.make_sweep,
        lambda c: subspace.make_sweep(c.task, optax.sgd(0.1), projection="dense", width=4).init(
            [2.0, 3.0], [0, 1]
        ),
        TypeError,
        "ds must be integers",
        "sweep-init-float-ds",
    ),
    case(
        subspace.make_baseline,
        lambda c: subspace.make_baseline(c.task, "sgd"),
        TypeError,
        "make_baseline: optimizer must be an optax.GradientTransformation",
        "baseline-optimizer",
    ),
    case(
        subspace.make_baseline,
        lambda c: subspace.make_baseline((c.spy("init"), c.spy("loss")), optax.sgd(0.1)),
        TypeError,
        "make_baseline: task must be a subspace.Task",
        "baseline-task",
    ),
    *[
        case(
            subspace.sweep.member_subspace,
            lambda c, kw=kw: subspace.sweep.member_subspace(
                c.task,
                kw.get("member", Member(2, 0)),
                **{
                    "projection": "dense",
                    "width": 4,
                    **{k: v for k, v in kw.items() if k != "member"},
                },
            ),
            exc,
            match,
            f"member_subspace-{id}",
        )
        for kw, exc, match, id in [
            ({"projection": "nope"}, ValueError, f"projection must be one of {PROJ}", "proj"),
            ({"width": 0}, ValueError, "width must be an integer >= 1", "width"),
            ({"width": 2.5}, TypeError, "width must be an integer", "width-float"),
            (
                {"member": Member(5, 0)},
                ValueError,
                r"member.d must be an integer in \[1, width=4\]; got 5",
                "d>width",
            ),
            ({"member": Member(0, 0)}, ValueError, r"in \[1, width=4\]; got 0", "d<1"),
            ({"member": Member(2.5, 0)}, TypeError, "member.d must be an integer", "d-float"),
            ({"member": (2, 0)}, TypeError, r"member must be a Member\(d, seed\)", "tuple"),
            ({"member": Member(2, "a")}, TypeError, "seed must be an integer", "seed"),
            ({"theta0_seed": 0.5}, TypeError, "seed must be an integer", "theta0_seed"),
            ({"density": 0.1}, TypeError, "unexpected keyword option 'density'", "option"),
        ]
    ],
    case(
        subspace.sweep.member_subspace,
        lambda c: subspace.sweep.member_subspace(
            c.spy("init"), Member(2, 0), projection="dense", width=4
        ),
        TypeError,
        "member_subspace: task must be a subspace.Task",
        "member_subspace-task",
    ),
    *[
        case(
            sweep.member_keys,
            lambda c, v=v: sweep.member_keys(v),
            TypeError,
            "seed must be an integer",
            f"member_keys-{v!r}",
        )
        for v in ["a", 1.5, None, True, np.array([1.5])]
    ],
    case(
        sweep.padded_options,
        lambda c: sweep.padded_options("nope", 4),
        ValueError,
        f"projection must be one of {PROJ}",
        "padded_options-projection",
    ),
    case(
        sweep.padded_options,
        lambda c: sweep.padded_options("fastfood", 0),
        ValueError,
        "width must be an integer >= 1",
        "padded_options-width",
    ),
    # --- loop ---
    *[
        case(
            subspace.train_group,
            lambda c, kw=kw: subspace.train_group(
                c.sweep,
                kw.get("init_args", c.members),
                **{
                    "steps": 5,
                    "data": c.data,
                    "batch_size": 2,
                    **{k: v for k, v in kw.items() if k != "init_args"},
                },
            ),
            exc,
            match,
            f"train_group-{id}",
        )
        for kw, exc, match, id in [
            (
                {"steps": 0},
                ValueError,
                r"steps must be an integer in \[1, 2147483647\]; got 0",
                "steps0",
            ),
            ({"steps": -1}, ValueError, r"steps must be an integer in \[1, ", "steps-neg"),
            ({"steps": 2.5}, TypeError, r"steps must be an integer in \[1, ", "steps-float"),
            ({"steps": True}, TypeError, r"steps must be an integer in \[1, ", "steps-bool"),
            (
                {"steps": 2**31},
                ValueError,
                r"steps must be an integer in \[1, 2147483647\]",
                "steps-big",
            ),
            ({"batch_size": None}, ValueError, "batch_size is required with data", "no-batch"),
            ({"batch_size": 0}, ValueError, "batch_size must be an integer >= 1", "batch0"),
            ({"batch_size": 11}, ValueError, r"batch_size must be in \[1, 10\]", "batch>n"),
            ({"batch_size": 2.0}, TypeError, "batch_size must be an integer", "batch-float"),
            ({"chunk": 0}, ValueError, "chunk must be an integer >= 1", "chunk0"),
            ({"loop": "while"}, ValueError, r"loop must be one of \('scan', 'steps'\)", "loop"),
            ({"eval_batch_size": 0}, ValueError, "eval_batch_size must be an integer >= 1", "ev"),
            ({"group_size": 0}, ValueError, "group_size must be an integer >= 1", "group0"),
            ({"group_size": 2}, ValueError, "group_size must be >= the member count 3", "group<n"),
            ({"shuffle_seed": -1}, ValueError, "shuffle_seed must be an integer >= 0", "seed"),
            ({"mesh": "cpu"}, TypeError, "mesh must be a jax.sharding.Mesh", "mesh"),
            (
                {"data": (np.zeros((10, 2)), np.zeros(10))},
                TypeError,
                "data must be a subspace.Data",
                "data-tuple",
            ),
            (
                {"data": Data(np.zeros((10, 2)), np.zeros(9))},
                ValueError,
                "data.train_x and data.train_y must both be given, with the same number",
                "data-lengths",
            ),
            (
                {"data": Data(np.zeros((10, 2)), np.zeros(10), np.zeros((3, 2)))},
                ValueError,
                "data.test_x and data.test_y must both be given",
                "data-test-y",
            ),
            ({"init_args": ()}, ValueError, r"init_args must be \(ds, seeds\)", "args-empty"),
            (
                {"init_args": (np.array([2, 4]), np.array([0]))},
                ValueError,
                "train_group: ds and seeds must be 1-D of the same non-zero length",
                "args-lengths",
            ),
            (
                {"init_args": (np.array([], int), np.array([], int))},
                ValueError,
                "train_group: ds and seeds must be 1-D of the same non-zero length",
                "args-none",
            ),
            (
                {"init_args": (np.array([2, 9]), np.array([0, 1]))},
                ValueError,
                r"train_group: every d must be an integer in \[1, width=8\]",
                "d>width",
            ),
        ]
    ],
    # --- memory ---
    *[
        case(
            memory.group_size,
            lambda c, kw=kw: memory.group_size(
                **{**dict(members=4, member_bytes=10, budget=100), **kw}
            ),
            ValueError,
            f"group_size: {next(iter(kw))} must be an integer >= 1",
            "group_size-{}={}".format(*next(iter(kw.items()))),
        )
        for kw in [
            {"members": 0},
            {"member_bytes": 0},
            {"budget": -1},
            {"multiple": 0},
            {"members": True},
            {"budget": 1.5e9},
        ]
    ],
    case(
        memory.program_bytes,
        lambda c: memory.program_bytes(3, jnp.ones(2)),
        TypeError,
        "program_bytes: fn must be callable",
        "program_bytes-fn",
    ),
    case(
        memory.default_budget,
        lambda c: memory.default_budget("cpu"),
        TypeError,
        "default_budget: device must be a jax.Device",
        "default_budget-device",
    ),
    # --- sharding ---
    case(
        sharding.member_mesh,
        lambda c: sharding.member_mesh([]),
        ValueError,
        "devices must not be empty",
        "member_mesh-empty",
    ),
    case(
        sharding.member_mesh,
        lambda c: sharding.member_mesh(["cpu"]),
        TypeError,
        "devices must be jax.Device objects",
        "member_mesh-str",
    ),
    case(
        sharding.pad_members,
        lambda c: sharding.pad_members(np.arange(0), 4),
        ValueError,
        "at least one member",
        "pad_members-empty",
    ),
    case(
        sharding.pad_members,
        lambda c: sharding.pad_members(np.int32(3), 4),
        ValueError,
        "values must have a leading member axis",
        "pad_members-scalar",
    ),
    *[
        case(
            sharding.pad_members,
            lambda c, v=v: sharding.pad_members(np.arange(3), v),
            ValueError,
            "multiple must be an integer >= 1",
            f"pad_members-multiple-{v}",
        )
        for v in [0, -2, 2.5, True]
    ],
    case(
        sharding.member_array,
        lambda c: sharding.member_array(np.arange(4), None),
        TypeError,
        "member_array: mesh must be a jax.sharding.Mesh",
        "member_array-mesh",
    ),
    case(
        sharding.member_array,
        lambda c: sharding.member_array(np.int32(3), c.mesh),
        ValueError,
        "values must have a leading member axis",
        "member_array-scalar",
    ),
    case(
        sharding.constrain_members,
        lambda c: sharding.constrain_members(jnp.ones(4), "members"),
        TypeError,
        "constrain_members: mesh must be a jax.sharding.Mesh",
        "constrain_members-mesh",
    ),
    # --- checkpoint ---
    case(
        checkpoint.GroupCheckpoint,
        lambda c: checkpoint.GroupCheckpoint(None),
        TypeError,
        "directory must be a str or os.PathLike",
        "checkpoint-none",
    ),
    case(
        checkpoint.GroupCheckpoint,
        lambda c: checkpoint.GroupCheckpoint(c.tmp / "ck", identity={"seeds": {1, 2}}),
        TypeError,
        "identity must be JSON-serialisable",
        "checkpoint-identity",
    ),
    *[
        case(
            checkpoint.GroupCheckpoint,
            lambda c, v=v: checkpoint.GroupCheckpoint(c.tmp / "ck").save(v, {"a": jnp.ones(2)}),
            exc,
            "step must be an integer >= 0",
            f"checkpoint-save-{v}",
        )
        for v, exc in [(-1, ValueError), (1.5, TypeError), (True, TypeError), ("10", TypeError)]
    ],
    # --- intrinsic ---
    *[
        case(
            subspace.intrinsic.d_int,
            lambda c, kw=kw: subspace.intrinsic.d_int(
                **{**dict(ds=[1, 2], values=[0.1, 0.9], threshold=0.5), **kw}
            ),
            exc,
            match,
            f"d_int-{id}",
        )
        for kw, exc, match, id in [
            ({"threshold": float("nan")}, ValueError, "threshold must be a finite real", "nan"),
            ({"threshold": float("inf")}, ValueError, "threshold must be a finite real", "inf"),
            ({"threshold": "0.9"}, TypeError, "threshold must be a finite real", "str"),
            ({"threshold": None}, TypeError, "threshold must be a finite real", "none"),
            ({"higher_is_better": "yes"}, TypeError, "higher_is_better must be a bool", "hib"),
            ({"values": [0.5]}, ValueError, "same non-zero length", "lengths"),
            ({"ds": [], "values": []}, ValueError, "same non-zero length", "empty"),
            ({"ds": [[1, 2]], "values": [[0.1, 0.9]]}, ValueError, "must be 1-D", "2d"),
            ({"ds": [0, 1]}, ValueError, r"ds must hold positive integers \(d >= 1\)", "d0"),
            ({"ds": [1.5, 2]}, TypeError, "ds must hold integers", "float-d"),
            ({"ds": ["a", "b"]}, TypeError, "ds must hold integers", "str-d"),
        ]
    ],
    case(
        intrinsic.mean_by_d,
        lambda c: intrinsic.mean_by_d([1, 2], [0.5]),
        ValueError,
        "ds and values must be 1-D of the same non-zero length",
        "mean_by_d-lengths",
    ),
    *[
        case(
            subspace.intrinsic.bootstrap_d_int,
            lambda c, kw=kw: subspace.intrinsic.bootstrap_d_int(
                [1, 2], [0.1, 0.9], **{"threshold": 0.5, **kw}
            ),
            exc,
            match,
            f"bootstrap-{id}",
        )
        for kw, exc, match, id in [
            ({"n_boot": 0}, ValueError, "n_boot must be an integer >= 1", "n_boot"),
            ({"n_boot": 10.0}, TypeError, "n_boot must be an integer >= 1", "n_boot-float"),
            ({"level": 1.0}, ValueError, r"level must be in \(0, 1\)", "level1"),
            ({"level": 0}, ValueError, r"level must be in \(0, 1\)", "level0"),
            ({"level": "90%"}, TypeError, r"level must be a real number in \(0, 1\)", "level-s"),
            ({"threshold": float("nan")}, ValueError, "threshold must be a finite", "nan"),
            ({"higher_is_better": None}, TypeError, "higher_is_better must be a bool", "hib"),
        ]
    ],
    *[
        case(
            search.bracket,
            lambda c, kw=kw: search.bracket([1, 2], [0.1, 0.9], **{"threshold": 0.5, **kw}),
            exc,
            match,
            f"bracket-{id}",
        )
        for kw, exc, match, id in [
            ({"threshold": float("nan")}, ValueError, "threshold must be a finite", "nan"),
            ({"higher_is_better": 1}, TypeError, "higher_is_better must be a bool", "hib"),
        ]
    ],
    *[
        case(
            search.refine_dims,
            lambda c, a=a: search.refine_dims(*a),
            exc,
            match,
            f"refine_dims-{a}",
        )
        for a, exc, match in [
            ((0, 8, 4), ValueError, "lo must be an integer >= 1"),
            ((8, 8, 4), ValueError, "need lo < hi"),
            ((8, 4, 4), ValueError, "need lo < hi"),
            ((1, 8, 0), ValueError, "k must be an integer >= 1"),
            ((1.5, 8, 2), TypeError, "lo must be an integer >= 1"),
        ]
    ],
    case(
        subspace.search.search,
        lambda c: subspace.search.search(3, [1, 2], 0.5),
        TypeError,
        r"train must be callable as train\(dims\) -> \(ds, values\)",
        "search-train",
    ),
    *[
        case(
            subspace.search.search,
            lambda c, kw=kw: subspace.search.search(
                c.spy("train"), **{"coarse_dims": [2, 4, 8], "threshold": 0.5, **kw}
            ),
            exc,
            match,
            f"search-{id}",
        )
        for kw, exc, match, id in [
            ({"coarse_dims": []}, ValueError, "coarse_dims must be a non-empty sequence", "e"),
            ({"coarse_dims": "248"}, TypeError, "coarse_dims must be a sequence of positive", "s"),
            ({"coarse_dims": [0, 4]}, ValueError, r"positive integers \(d >= 1\); got 0", "d0"),
            ({"coarse_dims": [1.5]}, TypeError, "coarse_dims must hold positive integers", "f"),
            ({"threshold": float("inf")}, ValueError, "threshold must be a finite", "inf"),
            ({"higher_is_better": "no"}, TypeError, "higher_is_better must be a bool", "hib"),
            ({"k": 0}, ValueError, "k must be an integer >= 1", "k0"),
            ({"k": 2.0}, TypeError, "k must be an integer >= 1", "k-float"),
            ({"rel_tol": 0.0}, ValueError, r"rel_tol must be in \(0, 1\)", "rel_tol0"),
            ({"rel_tol": 1}, ValueError, r"rel_tol must be in \(0, 1\)", "rel_tol1"),
            ({"rel_tol": True}, TypeError, r"rel_tol must be a real number in \(0, 1\)", "rt-b"),
            ({"max_rounds": 0}, ValueError, "max_rounds must be an integer >= 1", "rounds"),
        ]
    ],
    # --- compress ---
    case(
        subspace.save_compressed,
        lambda c: subspace.save_compressed(c.tmp / "x.npz", "sub", c.sub.zeros(), key=c.key),
        TypeError,
        "save_compressed: subspace must be a Subspace",
        "save-subspace",
    ),
    case(
        subspace.save_compressed,
        lambda c: subspace.save_compressed(c.tmp / "x.npz", c.sub, jnp.zeros(5), key=c.key),
        ValueError,
        Z4,
        "save-z-shape",
    ),
    case(
        subspace.save_compressed,
        lambda c: subspace.save_compressed(
            c.tmp / "x.npz", c.sub, jnp.zeros(4, jnp.bfloat16), key=c.key
        ),
        TypeError,
        "z must have dtype float32",
        "save-z-dtype",
    ),
    case(
        subspace.save_compressed,
        lambda c: subspace.save_compressed(c.tmp / "x.npz", c.sub, c.sub.zeros(), key=None),
        TypeError,
        "save_compressed: key is required",
        "save-key",
    ),
    case(
        subspace.save_compressed,
        lambda c: subspace.save_compressed(
            c.tmp / "x.npz", c.sub, c.sub.zeros(), key=c.key, theta0_key="k"
        ),
        TypeError,
        r"save_compressed \(theta0_key\): key must be a single PRNG key",
        "save-theta0_key",
    ),
    case(
        subspace.save_compressed,
        lambda c: subspace.save_compressed(
            c.tmp / "x.npz", c.sub, c.sub.zeros(), key=c.key, theta0_seed=1.5
        ),
        TypeError,
        "theta0_seed must be an integer",
        "save-theta0_seed",
    ),
    case(
        subspace.save_compressed,
        lambda c: subspace.save_compressed(
            c.tmp / "x.npz", c.sub, c.sub.zeros(), key=c.key, model={"f": object()}
        ),
        TypeError,
        "model must be JSON-serialisable",
        "save-model",
    ),
    case(
        subspace.save_compressed,
        lambda c: subspace.save_compressed(None, c.sub, c.sub.zeros(), key=c.key),
        TypeError,
        "save_compressed: path must be a str or os.PathLike",
        "save-path",
    ),
    case(
        subspace.load_compressed,
        lambda c: subspace.load_compressed(None),
        TypeError,
        "load_compressed: path must be a str or os.PathLike",
        "load-path",
    ),
    case(
        subspace.load_compressed,
        lambda c: subspace.load_compressed(c.tmp / "missing.npz"),
        FileNotFoundError,
        "load_compressed: no such file",
        "load-missing",
    ),
    case(
        subspace.load_compressed,
        lambda c: subspace.load_compressed(c.path, theta0=c.params, init=c.spy("init")),
        TypeError,
        "pass theta0 or init, not both",
        "load-theta0-and-init",
    ),
    case(
        subspace.load_compressed,
        lambda c: subspace.load_compressed(c.path, init=3),
        TypeError,
        r"init must be callable as init\(key\) -> params",
        "load-init",
    ),
    case(
        subspace.load_compressed,
        lambda c: subspace.load_compressed(c.path, projection="gauss"),
        ValueError,
        f"projection must be None or one of {PROJ}",
        "load-projection",
    ),
    case(
        subspace.load_compressed,
        lambda c: subspace.load_compressed(c.path, projection="sparse"),
        ValueError,
        "projection does not match: file has 'dense', expected 'sparse'",
        "load-other-projection",
    ),
    case(
        subspace.compress.compressed_header,
        lambda c: subspace.compress.compressed_header(3),
        TypeError,
        "compressed_header: path must be a str or os.PathLike",
        "header-path",
    ),
    case(
        subspace.compress.size_report,
        lambda c: subspace.compress.size_report(None),
        TypeError,
        "size_report: path must be a str or os.PathLike",
        "size_report-path",
    ),
    case(
        subspace.compress.size_report,
        lambda c: subspace.compress.size_report(c.path, dtype="float33"),
        TypeError,
        r"size_report: dtype must be a numpy/JAX dtype \(e.g. np.float32\)",
        "size_report-dtype",
    ),
    case(
        subspace.projections.block_size_for,
        lambda c: subspace.projections.block_size_for(0),
        ValueError,
        "block_size_for: width must be an integer >= 1",
        "block-size-for",
    ),
    case(
        subspace.projections.linear_map,
        lambda c: subspace.projections.linear_map(3, c.spy("transpose")),
        TypeError,
        r"linear_map: forward must be callable as forward\(state, vector\)",
        "linear-map",
    ),
    case(
        sharding.replicated_array,
        lambda c: sharding.replicated_array(np.zeros(3), "mesh"),
        TypeError,
        "replicated_array: mesh must be a jax.sharding.Mesh",
        "replicated-array-mesh",
    ),
    case(
        sharding.to_host,
        lambda c: sharding.to_host([1, 2]),
        TypeError,
        "to_host: x must be a jax.Array or numpy array",
        "to-host",
    ),
    # --- estimators ---
    case(
        estimators.es,
        lambda c: estimators.es(7, 0.1),
        ValueError,
        "es: population must be an even integer >= 2",
        "es-population",
    ),
    case(
        estimators.backprop,
        lambda c: estimators.backprop(1e-3),
        TypeError,
        "takes 0 positional arguments",
        "backprop-arguments",
    ),
    case(
        estimators.ES,
        lambda c: estimators.ES(population=8, sigma=0.0),
        ValueError,
        "es: sigma must be a finite number > 0",
        "es-class-sigma",
    ),
    case(
        estimators.from_json,
        lambda c: estimators.from_json({"name": "a2c"}),
        ValueError,
        r"estimator must be one of \['backprop', 'dqn', 'es', 'quantised'\]",
        "estimator-from-json",
    ),
    case(
        estimators.DQN,
        lambda c: estimators.DQN(buffer_size=8, batch_size=16),
        ValueError,
        "dqn: buffer_size must be >= batch_size = 16",
        "dqn-buffer",
    ),
    case(
        estimators.dqn,
        lambda c: estimators.dqn(target_interval=0),
        ValueError,
        "dqn: target_interval must be an integer >= 1; got 0",
        "dqn-target-interval",
    ),
    case(
        subspace.rl.q_task,
        lambda c: subspace.rl.q_task(("env", "params"), c.spy("network")),
        TypeError,
        "q_task: env must be a gymnax environment name",
        "q-task-env",
    ),
    case(
        estimators.to_json,
        lambda c: estimators.to_json(c.spy("estimate")),
        TypeError,
        "estimator must be a dataclass with a name, init and estimate",
        "estimator-to-json",
    ),
    case(
        estimators.check_estimator,
        lambda c: estimators.check_estimator("es", "here"),
        TypeError,
        r"here: estimator must be a subspace.estimators estimator \(backprop\(\) or",
        "check-estimator",
    ),
    case(
        rl.gymnax_task,
        lambda c: rl.gymnax_task("CartPole-v9", c.spy("policy")),
        ValueError,
        r"gymnax_task: env must be one of gymnax.registered_envs \(CartPole-v1, ",
        "gymnax-task-env",
    ),
    case(
        rl.brax_task,
        lambda c: rl.brax_task("humanoid", c.spy("policy"), max_steps=0),
        ValueError,
        "brax_task: max_steps must be an integer >= 1",
        "brax-task-max-steps",
    ),
    case(
        rl.episode_return,
        lambda c: rl.episode_return(c.spy("reset"), c.spy("step"), c.spy("act"), c.key, 0),
        ValueError,
        "episode_return: max_steps must be an integer >= 1",
        "episode-return-max-steps",
    ),
    # --- the measurement as data, and measure ---
    *[
        case(
            subspace.Optimizer,
            lambda c, kw=kw: subspace.Optimizer(**kw),
            exc,
            match,
            f"optimizer-{id}",
        )
        for kw, exc, match, id in [
            ({"name": "adamm"}, ValueError, "Optimizer: name must be an optax optimiser", "name"),
            ({"name": 3}, ValueError, "Optimizer: name must be an optax optimiser", "name-int"),
            ({"learning_rate": 0}, ValueError, "learning_rate must be a finite number > 0", "lr0"),
            ({"learning_rate": "1e-3"}, TypeError, "learning_rate must be a finite number", "str"),
            ({"weight_decay": -1.0}, ValueError, "weight_decay must be a finite number >= 0", "wd"),
            ({"options": {"b3": 0.9}}, ValueError, "optax.adam refuses these arguments", "opt"),
            ({"options": {"b1": [0.9]}}, TypeError, "option b1 must be a finite number", "list"),
            ({"options": 0.9}, TypeError, "options must be a dict of keyword arguments", "opts"),
            ({"name": "lbfgs", "options": {"learning_rate": 1}}, ValueError, "other than", "lr"),
        ]
    ],
    *[
        case(subspace.Grid, lambda c, kw=kw: subspace.Grid(**kw), exc, match, f"grid-{id}")
        for kw, exc, match, id in [
            ({"dims": []}, ValueError, "Grid: dims must be a non-empty sequence", "empty"),
            ({"dims": "1,2"}, TypeError, "Grid: dims must be a non-empty sequence", "str"),
            ({"dims": [0, 2]}, ValueError, r"Grid: dims\[0\] must be an integer >= 1", "d0"),
            ({"dims": [1.5]}, TypeError, r"Grid: dims\[0\] must be an integer >= 1", "float"),
            ({"dims": list(range(1, 1002))}, ValueError, "dims has 1001 values; at most", "many"),
            ({"dims": [1], "seeds": 0}, ValueError, "Grid: seeds must be an integer >= 1", "s0"),
            (
                {"dims": [1], "seeds": [-1]},
                ValueError,
                r"seeds\[0\] must be an integer in \[0, ",
                "s",
            ),
            (
                {"dims": [1], "seeds": [2**32]},
                ValueError,
                r"seeds\[0\] must be an integer in \[0, 4",
                "s32",
            ),
            ({"dims": [1], "seeds": 10**6}, ValueError, "seeds asks for 1000000 seeds", "sn"),
            ({"dims": [1], "projections": "gauss"}, ValueError, "projections must be in", "p"),
            ({"dims": [1], "projections": []}, ValueError, "projections must be names", "p0"),
            (
                {"dims": [1], "projections": ["dense", "dense"]},
                ValueError,
                "projections must be distinct projection names",
                "dup",
            ),
            ({"dims": [1], "refine": 1}, TypeError, "Grid: refine must be True or False", "r"),
        ]
    ],
    *[
        case(
            subspace.Schedule,
            lambda c, kw=kw: subspace.Schedule(**{"optimizer": subspace.Optimizer(), **kw}),
            exc,
            match,
            f"schedule-{id}",
        )
        for kw, exc, match, id in [
            ({"optimizer": optax.adam(1e-3), "steps": 1}, TypeError, "a subspace.Optimizer", "tx"),
            ({}, ValueError, "Schedule: give exactly one of steps and epochs", "neither"),
            ({"steps": 1, "epochs": 1}, ValueError, "give exactly one of steps and epochs", "2"),
            ({"steps": 0}, ValueError, r"Schedule: steps must be an integer in \[1, ", "steps0"),
            ({"epochs": 1.5}, TypeError, r"Schedule: epochs must be an integer in \[1, ", "ep"),
            (
                {"steps": 10**10},
                ValueError,
                r"steps must be an integer in \[1, 2147483647\]",
                "big",
            ),
            ({"steps": 1, "batch_size": 0}, ValueError, "batch_size must be an integer", "b0"),
            ({"steps": 1, "baseline": "adam"}, TypeError, "baseline must be a subspace.Opt", "b"),
            ({"steps": 1, "estimator": "es"}, TypeError, "estimator must be a subspace.est", "e"),
            ({"steps": 1, "shuffle_seed": -1}, ValueError, "shuffle_seed must be an integer", "s"),
            ({"steps": 1, "per_member_shuffle": "y"}, TypeError, "must be True or False", "pm"),
        ]
    ],
    *[
        case(subspace.Readout, lambda c, kw=kw: subspace.Readout(**kw), exc, match, f"r-{id}")
        for kw, exc, match, id in [
            ({"metric": ""}, ValueError, "Readout: metric must be a metric name", "empty"),
            ({"metric": "a*b"}, ValueError, r"metric must be a metric name .* 'a/b' or", "op"),
            ({"metric": 3}, TypeError, "Readout: metric must be a metric name", "int"),
            ({"fraction": 0}, ValueError, r"fraction must be a number in \(0, 1\]", "f0"),
            ({"fraction": 1.5}, ValueError, r"fraction must be a number in \(0, 1\]", "f>1"),
            ({"fraction": True}, TypeError, "fraction must be a number", "fbool"),
            ({"threshold": float("nan")}, TypeError, "threshold must be a finite number", "nan"),
            ({"higher_is_better": 1}, TypeError, "higher_is_better must be True or False", "h"),
        ]
    ],
    *[
        case(subspace.Run, lambda c, kw=kw: subspace.Run(**kw), exc, match, f"run-{id}")
        for kw, exc, match, id in [
            ({"out": 3}, TypeError, "Run: out must be a folder", "out"),
            ({"out": "x", "resume": True, "overwrite": True}, ValueError, "exclude each", "ro"),
            ({"resume": True}, ValueError, "resume and overwrite need an out folder", "r"),
            ({"checkpoint_every": 0}, ValueError, "checkpoint_every must be an integer", "ck"),
            ({"budget_bytes": 0.5}, TypeError, "budget_bytes must be an integer", "budget"),
        ]
    ],
    case(
        subspace.Measurement,
        lambda c: subspace.Measurement(
            subspace.Grid([1]), subspace.Schedule(subspace.Optimizer(), steps=1)
        ),
        ValueError,
        r"Measurement: give a baseline optimizer \(schedule.baseline",
        "measurement-no-threshold",
    ),
    case(
        subspace.Measurement,
        lambda c: subspace.Measurement(
            [1], subspace.Schedule(subspace.Optimizer(), steps=1), subspace.Readout(threshold=0)
        ),
        TypeError,
        "Measurement: grid must be a subspace.Grid",
        "measurement-grid",
    ),
    case(
        subspace.Measurement,
        lambda c: subspace.Measurement(
            subspace.Grid([1]),
            subspace.Schedule(subspace.Optimizer(), steps=1),
            subspace.Readout(threshold=0),
            meta={"f": object()},
        ),
        TypeError,
        "Measurement: meta must be a JSON object",
        "measurement-meta",
    ),
    case(
        measurement.split_keywords,
        lambda c: measurement.split_keywords(None, None, {"dims": [1], "epoch": 3}, "here"),
        TypeError,
        r"here: unexpected keyword 'epoch'; the keywords are the fields of Grid, Schedule",
        "split-keywords",
    ),
    case(
        config.from_json,
        lambda c: from_json(subspace.Grid, {"dims": [1], "seed": 3}),
        ValueError,
        r"Grid has no field 'seed'; its fields are \['dims', 'seeds', 'projections', 'refine'\]",
        "config-from-json",
    ),
    case(
        config.override,
        lambda c: config.override(subspace.Grid([1]), {"grid.dims": [2]}),
        ValueError,
        r"the config has no field 'grid'; its fields are \['dims'",
        "config-override-path",
    ),
    case(
        config.override,
        lambda c: config.override(subspace.Grid([1]), {"dims..x": [2]}),
        ValueError,
        "a config path is dot-separated field names; got 'dims..x'",
        "config-override-empty",
    ),
    case(
        config.override,
        lambda c: config.override(subspace.Grid([1]), ["dims", 2]),
        TypeError,
        "override: changes must be a dict of path -> value",
        "config-override-list",
    ),
    case(
        config.parse_value,
        lambda c: config.parse_value(3),
        TypeError,
        "parse_value: text must be a str",
        "config-parse-value",
    ),
    case(
        config.to_json,
        lambda c: config.to_json(object()),
        TypeError,
        "to_json: a object is not JSON data",
        "config-to-json",
    ),
    case(
        data.check_data,
        lambda c: data.check_data(c.data, 11, "here"),
        ValueError,
        r"here: batch_size must be in \[1, 10\] \(the number of training examples\)",
        "check-data",
    ),
    case(
        data.step_indices,
        lambda c: data.step_indices(10, 11, 5, 0),
        ValueError,
        "batch_size must be <= the number of examples 10",
        "step-indices",
    ),
    case(
        sweep.d_mask,
        lambda c: sweep.d_mask(2, 0),
        ValueError,
        "d_mask: width must be an integer >= 1",
        "d-mask",
    ),
    case(
        subspace.loop.init_group,
        lambda c: subspace.loop.init_group(c.sweep, c.members, group_size=2, mesh=c.mesh),
        ValueError,
        "init_group: group_size must be an integer >= 3",
        "init-group",
    ),
    case(
        subspace.loop.init_group,
        lambda c: subspace.loop.init_group(c.sweep, c.members, group_size=3, mesh="cpu"),
        TypeError,
        "init_group: mesh must be a jax.sharding.Mesh",
        "init-group-mesh",
    ),
    case(
        memory.compiled_bytes,
        lambda c: memory.compiled_bytes(c.spy("fn")),
        TypeError,
        "compiled_bytes: compiled must be a compiled program",
        "compiled-bytes",
    ),
    case(
        task.init_shapes,
        lambda c: task.init_shapes((c.spy("init"),), "here"),
        TypeError,
        "here: task must be a subspace.Task",
        "init-shapes",
    ),
    case(
        task.initialised,
        lambda c: task.initialised({"w": 1}, "here"),
        TypeError,
        r"here: task.init\(key\) must return \(params, model_state\)",
        "initialised",
    ),
    case(
        subspace.progress.TextProgress,
        lambda c: subspace.progress.TextProgress(every=-1.0),
        ValueError,
        "TextProgress: every must be a finite number >= 0",
        "text-progress",
    ),
    case(
        fingerprints.task_fingerprint,
        lambda c: fingerprints.task_fingerprint(c.spy("task"), 0),
        TypeError,
        "task_fingerprint: task must be a subspace.Task",
        "task-fingerprint",
    ),
    case(
        fingerprints.data_fingerprint,
        lambda c: fingerprints.data_fingerprint((c.data.train_x, c.data.train_y)),
        TypeError,
        "data_fingerprint: data must be a subspace.Data or None",
        "data-fingerprint",
    ),
    case(
        report.summary,
        lambda c: report.summary({"members": []}),
        TypeError,
        "summary: result must be a subspace.SweepResult",
        "summary",
    ),
    case(
        report.plot,
        lambda c: report.plot("results.json"),
        TypeError,
        "plot: result must be a subspace.SweepResult",
        "plot",
    ),
    case(
        sweep.check_members,
        lambda c: sweep.check_members([1, 5], [0, 1], 4, "here"),
        ValueError,
        r"here: every d must be an integer in \[1, width=4\]; got \[1, 5\]",
        "check-members",
    ),
    case(
        subspace.measure,
        lambda c: subspace.measure(c.task, dims=[2], optimizer="sgd", steps=1, threshold=0.1),
        TypeError,
        r"Schedule: optimizer must be a subspace.Optimizer",
        "measure-optimizer",
    ),
    case(
        subspace.measure,
        lambda c: subspace.measure(c.task, dims=[2], optimizer=subspace.Optimizer(), steps=1),
        ValueError,
        "give a baseline optimizer",
        "measure-threshold",
    ),
    case(
        subspace.measure,
        lambda c: subspace.measure(c.task, steps=1, threshold=0.1),
        TypeError,
        r"measure: dims is required \(or pass a subspace.Measurement\)",
        "measure-no-dims",
    ),
    case(
        subspace.measure,
        lambda c: subspace.measure(c.task, dims=[2], optimizer=subspace.Optimizer(), lr=0.1),
        TypeError,
        "measure: unexpected keyword 'lr'",
        "measure-keyword",
    ),
    case(
        subspace.measure,
        lambda c: subspace.measure(
            (c.spy("init"), c.spy("loss")),
            dims=[2],
            optimizer=subspace.Optimizer(),
            steps=1,
            threshold=0.1,
        ),
        TypeError,
        "measure: task must be a subspace.Task",
        "measure-task",
    ),
    case(
        subspace.measure,
        lambda c: subspace.measure(
            c.task, dims=[2], optimizer=subspace.Optimizer(), epochs=1, threshold=0.1
        ),
        ValueError,
        "measure: epochs needs data",
        "measure-epochs-without-data",
    ),
    case(
        subspace.measure,
        lambda c: subspace.measure(
            c.task,
            dims=[2],
            optimizer=subspace.Optimizer(),
            steps=1,
            threshold=0.1,
            data=c.data,
        ),
        ValueError,
        "measure: batch_size is required with data, and only with data",
        "measure-batch",
    ),
    case(
        subspace.measure,
        lambda c: subspace.measure(
            subspace.Task(init=c.spy("init"), loss_fn=c.spy("loss")),
            dims=[2],
            optimizer=subspace.Optimizer(),
            steps=1,
            threshold=0.1,
        ),
        ValueError,
        "measure: the task needs an eval_fn",
        "measure-eval_fn",
    ),
    case(
        subspace.progress.make_progress,
        lambda c: subspace.progress.make_progress("bar"),
        TypeError,
        r"progress must be True \(a tqdm bar\), False \(silent\) or a subspace.Progress",
        "make-progress",
    ),
    case(
        subspace.results.load_results,
        lambda c: subspace.results.load_results(3),
        TypeError,
        "load_results: folder must be a str or os.PathLike",
        "load-results",
    ),
    case(
        subspace.linen_task,
        lambda c: subspace.linen_task(c.spy("model"), (4,)),
        TypeError,
        "linen_task: model",
        "linen-task",
    ),
    case(
        subspace.nnx_task,
        lambda c: subspace.nnx_task(3),
        TypeError,
        "nnx_task: make_model must be callable",
        "nnx-task",
    ),
]


@pytest.mark.parametrize("covers, call, exc, match", CASES)
def test_bad_input_is_refused_clearly_and_early(ctx, covers, call, exc, match):
    del covers
    ctx.calls.clear()
    with pytest.raises(exc, match=match):
        call(ctx)
    assert ctx.calls == [], f"refused only after calling {ctx.calls}"


def test_every_public_name_is_covered_or_listed():
    covered = [p.values[0] for p in CASES]
    missing, listed_functions = [], []
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if name in NO_ARGUMENTS:
                if inspect.isfunction(obj):
                    listed_functions.append(f"{module_name}.{name}")
                continue
            if not any(obj is c for c in covered):
                missing.append(f"{module_name}.{name}")
    assert not missing, f"public names with no bad-input case: {missing}"
    assert not listed_functions, f"functions must have cases, not be listed: {listed_functions}"
    # Every listed name still exists (the list does not rot).
    public = {n for m in MODULES for n in importlib.import_module(m).__all__}
    assert set(NO_ARGUMENTS) <= public, sorted(set(NO_ARGUMENTS) - public)


def test_modules_covered_are_the_whole_package():
    import pkgutil

    found = {
        f"subspace.{m.name}"
        for m in pkgutil.iter_modules(subspace.__path__)
        if not m.ispkg and not m.name.startswith("_")  # private modules are not API
    } | {"subspace", "subspace.projections"}
    assert found <= set(MODULES), sorted(found - set(MODULES))
