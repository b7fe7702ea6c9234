"""Command-line tools, each run as ``python -m uwl_utils.tools.<name>``.

- ``demo``: run the numbered notebooks headlessly (``make demo``);
- ``grid``: grids of papermill jobs, locally or on SLURM, and the collection of their rows;
- ``train``: train a tiny embedded model on its synthetic data set;
- ``model_report``: the model card of the tiny models (``data/checkpoints/REPORT.md``);
- ``notebooks``: re-execute the notebooks in place and store their cleaned outputs (``make notebooks``).
"""
