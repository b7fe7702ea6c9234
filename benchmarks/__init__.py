"""Speed and overhead measurements of ``uwl_utils``' attacks (docs/benchmarks.md); not tests.

``python -m benchmarks.run`` (``make bench``) measures in one run, reporting ratios of medians over several
repetitions because the machines are noisy:

1. weighting overhead per iteration of I-FGSM, PGD, ALMA prox (and CR-PGD) for every scheme against ``"none"``;
2. floor ratio: an attack's wall time over (its forward+backward passes × one bare forward+backward);
3. batching: I-FGSM images per second at batch sizes 1–16;
4. peers: torchattacks' BIM / PGD and adv_lib's ALMA prox against ours, time ratio and APSR;
5. the paper's runtime claim: I-FGSM ε=16 + L0 against ALMA prox + L0, seconds per image and APSR;

on the embedded default (tiny trained model, synthetic images) on the CPU, and again on CUDA at the paper's
resolutions with the full-size architectures (random weights) when a GPU is present. The results go to
``benchmarks/results/latest.json`` and ``latest.md``.

Modules: :mod:`benchmarks.timing` (clocks, pass counting, the ratio arithmetic), :mod:`benchmarks.peers`
(optional third-party attacks), :mod:`benchmarks.suite` (the sections), :mod:`benchmarks.report` (machine
description, targets, JSON and markdown), :mod:`benchmarks.run` (the command line), :mod:`benchmarks.fullsize` (the
optional full-size sections: overhead on DeepLabv3+ R101, memory of one iteration), :mod:`benchmarks.gpu_check`
(``make gpu-check``: the GPU numbers in one short run).
"""
