"""
Waiting for jobs: watching them, reading their pages, and learning how long a model's jobs take.

The watch of one job (the trigger's and the blocking wait's), the triggerer's status hub, pages of jobs,
the durations learned per model and the file that keeps them across processes.
"""
