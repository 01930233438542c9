"""Performance benchmark: subspace training against plain training, side by side.

    python -m experiments.benchmark [--quick] [--only es] [--out DIR]

In one process, with warm-up (compilation timed apart), repeats and medians:

1. time per training step (batch 128, Adam, the same ``make_trainer`` and loss) of plain
   full-parameter training and of subspace training with each projection, for MNIST FC
   (D = 199,210) and MNIST LeNet (D = 44,426) at several d, and against D for FC nets of
   about 100k to 1.8M parameters at d = 1000 (:mod:`.steps`);
2. ``subspace.hadamard.fwht`` against the C library ``fht_cpu`` (optional, ``pip install -e
   ".[bench]"``), 2^10 .. 2^22 elements, results checked equal (:mod:`.hadamard`);
3. a 16-value sweep over d on MNIST FC for one epoch, the batched engine against a
   sequential loop, end to end with compilation (:mod:`.sweep`);
4. evolution strategies on CartPole-v1 (D = 562, fastfood; full: 24 members, d in
   1..16 x 3 seeds, 20 generations of 64): the batched ES sweep in one ``train_group``
   call against one call per member, end to end with compilation and in the steady
   state, as environment steps per second (counted exactly), the members' results
   checked equal (:mod:`.es`); ``--only es`` measures only this and merges it into the
   output folder's existing ``benchmark.json``;
5. bytes of projection state per parameter, and XLA's temporary memory of the compiled
   step (:mod:`.memory`, :mod:`.steps`);
6. a summary table and the issue's targets with pass/fail (:mod:`.targets`);
   ``python -m experiments.benchmark.readme`` prints the README's scaling table from
   the committed ``benchmark.json`` (:mod:`.readme`).

``--quick`` measures fewer sizes with fewer repeats and a 15-step sweep (under two
minutes on an idle 2-core CPU). Writes to ``--out`` (default
``experiments/results/benchmark``, ``benchmark_quick`` with ``--quick``):
``benchmark.json``, ``step_time.png``, ``step_time_vs_D.png``, ``fwht.png`` and
``sweep.png``, each atomically.

``benchmark.json`` (schema version 2: version 1 without ``es``); times in seconds,
memory in bytes:

- ``schema_version``: 2; ``quick``: whether ``--quick`` was given; ``wall_time_s``;
  ``part_wall_s``: wall time of each part (``steps``, ``scaling``, ``fwht``, ``sweep``,
  ``es``, ``memory``).
- ``machine``: ``backend``, ``device_kind``, ``device_count``, ``cpu_count``,
  ``cpus_available``, ``jax_version``, ``jaxlib_version``, ``fht_cpu_version`` (null: not
  installed), ``python_version``, ``platform``, ``machine``, ``xla_flags``,
  ``load_average_at_start`` and ``load_average_at_end`` (1, 5 and 15 minutes).
- ``settings``: ``projections``, ``batch_size``, ``repeats``, ``min_repeat_s``,
  ``dense_max_bytes``, ``optimizer``, ``lr``, ``scaling_d``, ``subspace_passed_as``.
- ``steps`` (part 1) and ``scaling`` (against D; MNIST FC's rows repeated from
  ``steps``): one record per (model, projection, d) with ``model``, ``D``, ``projection``
  (``plain``, ``dense``, ``sparse``, ``fastfood``, or a fastfood variant measured beside
  it: ``fastfood_butterfly`` with ``fwht_method="butterfly"``, ``fastfood_shared`` with
  ``shared_input=True``, ``fastfood_one_block`` with one block of L = 2^ceil(log2 D) as
  in the original code), ``d`` (null for plain), ``status``
  (``ok`` or ``skipped``) and ``reason`` (the library's refusal when skipped); when ok
  also ``compile_s`` (trace, lower and compile, ahead of time), ``first_call_s``,
  ``step_s`` (a timing), ``ratio_to_plain`` (median over plain's median), ``temp_bytes``
  and ``argument_bytes`` (XLA's ``memory_analysis()`` of the step) and
  ``temp_ratio_to_plain``.
- ``fwht``: ``status`` (``ok``, or ``skipped`` without fht_cpu), ``reason``, ``dtype``,
  ``tolerance``, and ``rows`` of ``n``, ``shape`` (``[n]``, or ``[batch, n]`` for a
  batch of transforms), ``log2_n``, ``first_call_s``, ``fwht_s`` (the default Kronecker
  method), ``butterfly_s`` (``method="butterfly"``), ``butterfly_over_fwht`` and
  ``fht_cpu_s`` (timings; null without fht_cpu), ``ratio`` (ours over fht_cpu's),
  ``max_error`` (max absolute difference / sqrt(n)) and ``equal``.
- ``sweep``: ``model``, ``D``, ``projection``, ``ds``, ``members``, ``steps``,
  ``examples``, ``batch_size``, ``lr``, ``batched_s``, ``sequential_s``,
  ``sequential_member_s``, ``speedup`` (sequential over batched), ``max_z_difference``
  and ``max_train_accuracy_difference`` (batched against sequential: the same members).
- ``es`` (null when skipped): ``env``, ``policy``, ``D``, ``projection``, ``width``,
  ``ds`` and ``seeds`` (one entry per member), ``members``, ``generations``,
  ``population``, ``sigma``, ``optimizer``, ``lr``, ``max_steps`` (null: 500),
  ``episodes``, ``eval_episodes``; ``env_steps`` (all members' episode steps, training
  and the evaluations before and after it; ``env_steps_per_member``,
  ``training_env_steps``, ``evaluation_env_steps``) and ``lockstep_training_steps``
  (``batched``, ``sequential``: steps the vmapped while loops execute, finished episodes
  masked); ``batched_s``, ``sequential_s`` and ``sequential_member_s`` (end to end,
  compilation included), ``batched_steps_per_s``, ``sequential_steps_per_s``,
  ``speedup`` (sequential over batched); ``steady_repeats``, ``steady_batched_s``,
  ``steady_sequential_s`` (medians with the programs compiled),
  ``steady_batched_steps_per_s``, ``steady_sequential_steps_per_s``,
  ``steady_speedup``, ``compile_batched_s`` and ``compile_sequential_s`` (end to end
  less steady); ``final_fitness_batched``, ``final_fitness_sequential``,
  ``final_fitness_equal``, ``max_z_difference``, ``replay_z_equal`` (the step count's
  replay trained the same z), ``steady_runs_equal``; ``load_average_at_start`` and
  ``load_average_at_end``; ``measured``: ``"--only es"`` when merged into an earlier
  run's file.
- ``memory``: per (model, projection, d): ``model``, ``D``, ``projection``, ``d``,
  ``state_bytes``, ``bytes_per_parameter``, ``theta0_bytes_per_parameter``.
- ``targets``: ``target``, ``comparison``, ``limit``, ``value``, ``passed`` (null: not
  measured) and ``note``.
- ``plots``: the PNG files written.

A timing is ``median_s``, ``q25_s``, ``q75_s``, ``iqr_s``, ``min_s`` and ``max_s`` of the
seconds per call over ``repeats`` repeats of ``calls_per_repeat`` calls each.
"""

from experiments.benchmark.harness import (
    FULL,
    QUICK,
    SCHEMA_VERSION,
    Sizes,
    main,
    run,
    run_benchmark,
)
from experiments.benchmark.steps import Net

__all__ = [
    "FULL",
    "QUICK",
    "SCHEMA_VERSION",
    "Net",
    "Sizes",
    "main",
    "run",
    "run_benchmark",
]
