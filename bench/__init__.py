"""`make bench`: the operator against N EvalJobs, next to a plain NeMo SDK script as a floor.

Run ``python -m bench --help`` (or ``make bench``). The figures are printed and written to
``bench/results/<date>-n<sizes>.md`` and ``.json``; see bench/README.md.
"""

__all__: list[str] = []
